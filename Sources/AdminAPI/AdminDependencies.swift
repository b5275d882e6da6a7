import CertificateAuthority
import Kubernetes
import Logging
import MeshInputs
import MeshModel
import ObservedTraffic
import Prometheus
import PushPipeline
import Storage
import Translator
import XDSCore

/// What the admin API reads and writes: the store (the only thing it changes), the push side's
/// read-only views for status and debugging, and who may call it.
public struct AdminDependencies: Sendable {
    /// The mesh's identity services, for `/api/v1/tokens` and `/api/v1/ca/root`.
    public struct Identity: Sendable {
        /// The CA whose root `/api/v1/ca/root` serves.
        public var ca: any CertificateAuthority
        /// The signer of workload tokens.
        public var tokens: TokenAuthority

        /// Creates the identity services.
        public init(ca: any CertificateAuthority, tokens: TokenAuthority) {
            self.ca = ca
            self.tokens = tokens
        }
    }

    /// The config store the API reads and writes.
    public var store: any ConfigStore
    /// Where gateway credentials' key material goes (`/api/v1/secrets`); nil refuses to store any.
    public var vault: (any CredentialVault)?
    /// The current PushContext, for `/debug/push_status` and readiness.
    public var publisher: PushContextPublisher
    /// Connected proxies, for `/debug/syncz` and `/debug/config_dump`.
    public var statuses: ProxyStatusRegistry
    /// What `/metrics` emits.
    public var metrics: PrometheusCollectorRegistry
    /// Where internal errors are logged (with the error id the caller sees).
    public var logger: Logger
    /// The admin bearer token callers outside `trustedAddresses` must present; nil refuses them all.
    public var adminToken: String?
    /// Caller IP addresses trusted without a token (loopback by default).
    public var trustedAddresses: Set<String>
    /// Host names accepted in the `Host` header besides IP literals and `localhost` (`*`: any);
    /// see `AdminAccessPolicy`.
    public var allowedHostNames: Set<String>
    /// Whether callers from `trustedAddresses` may mint workload tokens without the admin token.
    public var allowLoopbackTokenMinting: Bool
    /// Readiness and degradations, for `/ready`; shared with the push side, which marks it built.
    public var health: ServingHealth
    /// The push loop's typed configuration index, which apply checks its changes against.
    public var configIndex: SharedConfigIndex
    /// Token minting and the root certificate; nil when meshd runs without a CA.
    public var identity: Identity?
    /// The other replicas' proxies (meshd on etcd); nil for a single meshd.
    public var peers: (any PeerProxyStatuses)?
    /// The push server's generator table (its trust domain), with which a dry run works out
    /// what each connected proxy would receive.
    public var generators: GeneratorTable
    /// The mesh config and fetched key sets (`/debug/mesh`, `/debug/jwks`, the apply path's
    /// JWKS prefetch); nil in tests that run without them.
    public var meshInputs: MeshInputsAccess?
    /// Reads observed traffic from Prometheus (`/api/v1/traffic`); nil without `--prometheus-url`.
    public var traffic: ObservedTrafficReader?
    /// The Kubernetes registry (`/debug/kubernetes`); nil when meshd runs without one.
    public var kubernetes: KubernetesDiscovery?

    /// The Kubernetes store's state as `/debug/ledger` shows it (the ledger, the Lease, what
    /// cannot be served); nil with the other stores.
    public var ledgerStatus: (@Sendable () -> JSONValue)?

    /// What the admin API reads of meshd's mesh inputs.
    public struct MeshInputsAccess: Sendable {
        public var settings: MeshSettingsSource
        public var meshConfig: MeshConfigWatcher?
        public var jwks: JWKSResolver?

        public init(settings: MeshSettingsSource, meshConfig: MeshConfigWatcher?, jwks: JWKSResolver?) {
            self.settings = settings
            self.meshConfig = meshConfig
            self.jwks = jwks
        }
    }

    /// Creates the dependencies; the defaults trust loopback callers and refuse token minting
    /// without the admin token.
    public init(
        store: any ConfigStore, publisher: PushContextPublisher, statuses: ProxyStatusRegistry,
        metrics: PrometheusCollectorRegistry, logger: Logger, adminToken: String? = nil,
        trustedAddresses: Set<String> = ["127.0.0.1", "::1"], allowedHostNames: Set<String> = [],
        allowLoopbackTokenMinting: Bool = false, health: ServingHealth = ServingHealth(),
        configIndex: SharedConfigIndex = SharedConfigIndex(), identity: Identity? = nil,
        peers: (any PeerProxyStatuses)? = nil, generators: GeneratorTable, vault: (any CredentialVault)? = nil,
        meshInputs: MeshInputsAccess? = nil, kubernetes: KubernetesDiscovery? = nil, ledgerStatus: (@Sendable () -> JSONValue)? = nil,
        traffic: ObservedTrafficReader? = nil
    ) {
        self.traffic = traffic
        self.ledgerStatus = ledgerStatus
        self.meshInputs = meshInputs
        self.kubernetes = kubernetes
        self.vault = vault
        self.generators = generators
        self.store = store
        self.publisher = publisher
        self.statuses = statuses
        self.metrics = metrics
        self.logger = logger
        self.adminToken = adminToken
        self.trustedAddresses = trustedAddresses
        self.allowedHostNames = allowedHostNames
        self.allowLoopbackTokenMinting = allowLoopbackTokenMinting
        self.health = health
        self.configIndex = configIndex
        self.identity = identity
        self.peers = peers
    }

    /// The access policy these settings describe.
    public var accessPolicy: AdminAccessPolicy {
        AdminAccessPolicy(
            adminToken: adminToken, trustedAddresses: trustedAddresses, allowedHostNames: allowedHostNames,
            allowTrustedTokenMinting: allowLoopbackTokenMinting)
    }
}
