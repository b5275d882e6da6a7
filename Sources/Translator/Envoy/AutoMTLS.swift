import Discovery
import EnvoyAPI
import MeshModel
import SwiftProtobuf

/// Istio's auto mTLS, for Envoy sidecars: traffic to a service inside the mesh whose
/// DestinationRule says nothing about TLS goes out in mesh mTLS (ISTIO_MUTUAL over SDS) to the
/// endpoints that have a sidecar, and in plaintext to the rest. Which endpoints have one is
/// what Istio's injector writes on the workload: the label `security.istio.io/tlsMode: istio`.
/// EDS copies it into each such endpoint's `envoy.transport_socket_match` metadata, and the
/// cluster's `transport_socket_matches` pick the socket per endpoint — so a workload gaining or
/// losing its sidecar changes only EDS.
///
/// As Istio decides it (`cluster_tls.go`, `endpoints/mtls_checker.go`):
/// - per cluster: only for services declared inside the mesh (`location: MESH_INTERNAL`; a
///   ServiceEntry without a location is MESH_EXTERNAL), and not when the service's namespace
///   (its namespace PeerAuthentication, else the mesh's) is DISABLE;
/// - per endpoint: only one labelled as having a sidecar whose own mode for the endpoint's port
///   (workload and `portLevelMtls` policies included) is not DISABLE; any other endpoint gets
///   plaintext, even where its namespace says STRICT (its server would refuse it: the label is
///   what says a sidecar is there to terminate mTLS).
/// Not for proxyless gRPC clients (gRPC has no transport socket matches; Istio does not do it
/// for them either); not when a DestinationRule sets any TLS mode (DISABLE included); EDS
/// clusters only (the metadata rides on EDS).
///
/// Istio also counts a WorkloadEntry with a `serviceAccount` as having a sidecar; meshd does not,
/// because its proxyless gRPC servers are WorkloadEntries with service accounts too, and they
/// cannot terminate mesh mTLS beside plaintext: the label alone decides.
enum AutoMTLS {
    /// The workload label that says a sidecar terminates mesh mTLS for it.
    static let label = "security.istio.io/tlsMode"
    /// The label's value for a workload with a sidecar.
    static let istio = "istio"
    /// The endpoint metadata namespace transport socket matches read.
    static let metadataKey = "envoy.transport_socket_match"
    /// The key within it (Istio's name).
    static let matchField = "tlsMode"

    /// Whether a cluster of `service` under `policy` gets auto mTLS (for the proxies whose
    /// generators `GeneratorTable` makes with auto mTLS on).
    static func applies(service: Service, policy: PolicySettings, push: PushContext) -> Bool {
        policy.tls == nil && service.location == "MESH_INTERNAL"
            && push.peerAuthentications.namespaceMode(service.namespace, rootNamespace: push.settings.rootNamespace) != .disable
    }

    /// The cluster's socket choices: `tls` (the ISTIO_MUTUAL context the cluster would get)
    /// for the endpoints marked as having a sidecar, plaintext for every other.
    static func transportSocketMatches(_ tls: Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext)
        -> [Envoy_Config_Cluster_V3_Cluster.TransportSocketMatch]
    {
        var mutual = Envoy_Config_Cluster_V3_Cluster.TransportSocketMatch()
        mutual.name = "tlsMode-istio"
        mutual.match.fields[matchField] = Google_Protobuf_Value(stringValue: istio)
        mutual.transportSocket.name = UpstreamTLS.transportSocketName
        mutual.transportSocket.typedConfig = AnyPacking.pack(tls)
        var plain = Envoy_Config_Cluster_V3_Cluster.TransportSocketMatch()
        plain.name = "tlsMode-disabled"
        plain.match = Google_Protobuf_Struct()
        plain.transportSocket.name = "envoy.transport_sockets.raw_buffer"
        plain.transportSocket.typedConfig = AnyPacking.pack(Envoy_Extensions_TransportSockets_RawBuffer_V3_RawBuffer())
        return [mutual, plain]
    }

    /// The EDS metadata of an endpoint whose workload has a sidecar accepting mesh mTLS on the
    /// endpoint's port at `push`, nil for any other.
    static func metadata(for endpoint: Endpoint, in push: PushContext) -> Envoy_Config_Core_V3_Metadata? {
        guard endpoint.labels[label] == istio else { return nil }
        let mode = push.peerAuthentications.mode(
            namespace: endpoint.source.namespace, labels: endpoint.labels, port: endpoint.port,
            rootNamespace: push.settings.rootNamespace)
        guard mode != .disable else { return nil }
        var match = Google_Protobuf_Struct()
        match.fields[matchField] = Google_Protobuf_Value(stringValue: istio)
        var metadata = Envoy_Config_Core_V3_Metadata()
        metadata.filterMetadata[metadataKey] = match
        return metadata
    }
}
