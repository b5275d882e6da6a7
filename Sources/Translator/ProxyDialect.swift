/// Which xDS a proxy reads, for the generators that serve several kinds of proxy: gRPC's
/// subset of Envoy's API (gRFC A27 and its sequels: no transport socket matches, no CORS, no
/// STRICT_DNS, hashing on headers only) or Envoy's whole API. `GeneratorTable` declares each
/// kind's dialect; a generator switches on the dialect it was made with, never on a proxy.
public enum ProxyDialect: Sendable, Hashable {
    /// A gRPC library's built-in xDS client.
    case grpc
    /// Envoy: sidecars and gateways.
    case envoy
}
