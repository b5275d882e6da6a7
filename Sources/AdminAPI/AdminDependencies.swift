import CertificateAuthority
import Logging
import Prometheus
import Storage
import XDS

/// What the admin API reads and writes: the store (the only thing it changes), the push side's
/// read-only views for status and debugging, and who may call it.
public struct AdminDependencies: Sendable {
    /// The mesh's identity services, for `/api/v1/tokens` and `/api/v1/ca/root`.
    public struct Identity: Sendable {
        public var ca: any CertificateAuthority
        public var tokens: TokenAuthority

        public init(ca: any CertificateAuthority, tokens: TokenAuthority) {
            self.ca = ca
            self.tokens = tokens
        }
    }

    public var store: any ConfigStore
    public var publisher: PushContextPublisher
    public var statuses: ProxyStatusRegistry
    public var metrics: PrometheusCollectorRegistry
    public var logger: Logger
    /// The admin bearer token callers outside `trustedAddresses` must present; nil refuses them all.
    public var adminToken: String?
    /// Caller IP addresses trusted without a token (loopback by default).
    public var trustedAddresses: Set<String>
    /// Token minting and the root certificate; nil when meshd runs without a CA.
    public var identity: Identity?

    public init(store: any ConfigStore, publisher: PushContextPublisher, statuses: ProxyStatusRegistry,
                metrics: PrometheusCollectorRegistry, logger: Logger, adminToken: String? = nil,
                trustedAddresses: Set<String> = ["127.0.0.1", "::1"], identity: Identity? = nil) {
        self.store = store
        self.publisher = publisher
        self.statuses = statuses
        self.metrics = metrics
        self.logger = logger
        self.adminToken = adminToken
        self.trustedAddresses = trustedAddresses
        self.identity = identity
    }
}
