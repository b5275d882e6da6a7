import AdminAPI
import ArgumentParser
import CanaryDelivery
import CertificateAuthority
import EnvoyAPI
import EtcdStore
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Hummingbird
import Logging
import MeshCommon
import MeshInputs
import MeshModel
import ObservedTraffic
import Prometheus
import PushPipeline
import ServiceLifecycle
import SidecarInjection
import Storage
import Translator
import XDS

/// meshd: the control plane. Wiring only — every behaviour lives in the library modules.
@main
struct MeshdCommand: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "meshd",
        abstract: "A service-mesh control plane: registry, translator and xDS push server.",
        version: version)

    @Option(
        name: .customLong("store"),
        help:
            "Config store: sqlite (embedded, in --data-dir), etcd://HOST:PORT[,HOST:PORT...] (shared by replicas; needs --kek-file) or kubernetes (Istio's objects in the Kubernetes API, shared by replicas)."
    )
    var storeSpec: String = "sqlite"

    @Option(name: .long, help: "With an etcd store: PEM CA that signed the etcd members' certificates (TLS to etcd).")
    var etcdCa: String?

    @Option(name: .long, help: "With an etcd store: PEM client certificate presented to etcd (with --etcd-key).")
    var etcdCert: String?

    @Option(name: .long, help: "With an etcd store: PEM private key of --etcd-cert.")
    var etcdKey: String?

    @Option(name: .long, help: "With an etcd store: the key prefix meshd keeps everything under.")
    var etcdPrefix: String = "/meshd/"

    @Option(
        name: .long,
        help:
            "With an etcd store: how often the elected replica compacts etcd's history (as kube-apiserver does; 0s turns it off, e.g. when etcd runs with --auto-compaction-*)."
    )
    var etcdCompactionInterval: String = "5m"

    @Option(
        name: .long,
        help:
            "Config history kept for rollback and diff: a count of revisions (1000) or an age (90m, 12h, 7d). Older records are pruned: on SQLite inside the next write, on etcd by the elected replica every minute."
    )
    var historyRetention: String = "1000"

    @Option(name: .long, help: "With an etcd store: this replica's name in shared proxy status (default: HOSTNAME-PID).")
    var replicaName: String?

    @Option(
        name: .long,
        help:
            "With an etcd store (required): file of exactly 32 random bytes, mode 0600, the same on every replica; it seals the CA key, token-signing key and admin token stored in etcd."
    )
    var kekFile: String?

    @Option(
        name: .long, help: "Directory for the embedded SQLite store (default: /var/lib/meshd as root, else ~/.local/share/meshd; env MESHD_DATA_DIR)."
    )
    var dataDir: String?

    @Option(name: .long, help: "Plaintext xDS gRPC port (0 picks a free port).")
    var grpcPort: Int = MeshDefaults.xdsPort

    @Option(name: .long, help: "Admin REST API, /metrics and /debug port (0 picks a free port).")
    var adminPort: Int = MeshDefaults.adminPort

    @Option(name: .long, help: "xDS and certificate signing over TLS (0 picks a free port).")
    var tlsPort: Int = MeshDefaults.tlsPort

    @Option(name: .long, help: "Certificate renewal and authenticated xDS over mTLS: callers present their mesh certificate (0 picks a free port).")
    var renewPort: Int = MeshDefaults.mutualTLSPort

    @Option(name: .long, help: "Address to listen on.")
    var listenAddress: String = "0.0.0.0"

    @Option(
        name: .long, parsing: .singleValue, help: "DNS name in meshd's TLS certificate (repeatable; default meshd.mesh-system.svc and localhost).")
    var tlsSan: [String] = []

    @Option(name: .long, help: "SPIFFE trust domain of workload identities (or the mesh config's trustDomain).")
    var trustDomain: String = MeshDefaults.trustDomain

    @Option(
        name: .long,
        help:
            "Istio MeshConfig YAML (the 'mesh' key of Istio's ConfigMap): rootNamespace, trustDomain, extensionProviders; re-read when its content changes."
    )
    var meshConfig: String?

    @Option(name: .long, help: "How often the key sets of RequestAuthentications' jwksUri are fetched again (e.g. 20m, 30s).")
    var jwksRefreshInterval: String = "20m"

    @Option(
        name: .long,
        help: "Plugged-in CA directory (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem); default: a self-signed root in DATA_DIR/ca.")
    var caDir: String?

    @Option(
        name: .long,
        help:
            "Mesh root namespace (or the mesh config's rootNamespace): its policies and its Sidecar without a selector are mesh-wide, and its VirtualServices and DestinationRules are the last resort of the namespace-aware lookup."
    )
    var rootNamespace: String = MeshSettings.defaultRootNamespace

    @Option(
        name: .long,
        help:
            "Prometheus server that scrapes the proxies and workloads (e.g. http://prometheus.istio-system:9090): /api/v1/traffic, meshctl x traffic and the dashboard read observed traffic from it."
    )
    var prometheusURL: String?

    @Option(name: .long, help: "Comma-separated caller addresses trusted by the admin API without the admin token.")
    var adminTrustedAddresses: String = "127.0.0.1,::1"

    @Option(
        name: .long,
        help:
            "Comma-separated host names the admin API accepts in the Host header besides IP literals and localhost ('*' accepts any; default: the --tls-san names)."
    )
    var adminAllowedHosts: String?

    @Flag(
        name: .long, help: "Let callers from --admin-trusted-addresses mint workload tokens without the admin token (off: minting always needs it).")
    var allowLoopbackTokenMinting = false

    @Option(name: .long, help: "Debounce: push once config has been quiet this long (e.g. 100ms, 1s).")
    var debounceAfter: String = "100ms"

    @Option(name: .long, help: "Debounce: push at the latest this long after the first change.")
    var debounceMax: String = "10s"

    @Option(name: .long, help: "Most xDS streams served at once, over all connections; more are refused with RESOURCE_EXHAUSTED.")
    var xdsMaxStreams: Int = ADSLimits().maxStreams

    @Option(name: .long, help: "Most resource names in one DiscoveryRequest; a larger one ends its stream.")
    var xdsMaxResourceNames: Int = ADSLimits().maxResourceNamesPerRequest

    @Option(name: .long, help: "Most xDS streams working out a push at once (default: twice the number of cores); writes are not counted.")
    var xdsPushConcurrency: Int?

    @Option(name: .long, help: "Largest gRPC request message accepted on the xDS and CA ports, in bytes.")
    var grpcMaxMessageSize: Int = ADSLimits().maxRequestBytes

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    @Option(
        name: .long,
        help:
            "Service registry: 'embedded' (ServiceEntry and WorkloadEntry only) or 'kubernetes' (also Services, EndpointSlices and Pods read from the API server; the CA then accepts service-account tokens)."
    )
    var registry: String = "embedded"

    @Option(
        name: .long,
        help: "With --registry or --store kubernetes: the kubeconfig to use (its current context); default: the pod's service account.")
    var kubeconfig: String?

    @Option(
        name: .long,
        help:
            "With --store kubernetes: meshd's own namespace, where its history ledger, leader Lease and CA Secret live (default: env POD_NAMESPACE, else mesh-system)."
    )
    var systemNamespace: String?

    @Option(
        name: .long,
        help: "On Kubernetes: the admission webhooks' HTTPS port, /validate and /inject (istiod's 15017; 0 picks a free port).")
    var webhookPort: Int = MeshDefaults.webhookPort

    @Option(
        name: .long,
        help: "With --store kubernetes: the ValidatingWebhookConfiguration whose caBundle and failurePolicy meshd keeps set.")
    var webhookConfigName: String = "meshd-validator"

    @Option(
        name: .long,
        help: "On Kubernetes: the MutatingWebhookConfiguration (sidecar injection) whose caBundle and failurePolicy meshd keeps set.")
    var injectorConfigName: String = "meshd-sidecar-injector"

    @Option(
        name: .customLong("injection-values"),
        help: "On Kubernetes: the sidecar injector's values (YAML or JSON: images, meshd's addresses, proxy resources; docs/injection.md).")
    var injectionValuesFile: String?

    @Option(name: .long, help: "With --registry kubernetes: the cluster's DNS domain; Services become NAME.NAMESPACE.svc.DOMAIN.")
    var clusterDomain: String = "cluster.local"

    func run() async throws {
        var command = self
        let loaded = try command.resolveMeshConfig()
        try await command.start(loadedMeshConfig: loaded)
    }

    /// Runs meshd with `rootNamespace` and `trustDomain` settled and the mesh config file read.
    func start(loadedMeshConfig: MeshConfigWatcher.Loaded?) async throws {
        var logger = Logger(label: "meshd")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        guard let jwksRefresh = DurationSyntax.parse(jwksRefreshInterval, units: .withDays), jwksRefresh >= .seconds(1) else {
            throw ValidationError("--jwks-refresh-interval takes a duration of at least 1s, like 30s or 20m")
        }
        guard let quiet = DurationSyntax.parse(debounceAfter, units: .withDays), let maxDelay = DurationSyntax.parse(debounceMax, units: .withDays)
        else {
            throw ValidationError("--debounce-after and --debounce-max take durations like 100ms, 2s or 1m")
        }
        guard xdsMaxStreams > 0, xdsMaxResourceNames > 0, grpcMaxMessageSize >= 4096, (xdsPushConcurrency ?? 1) > 0 else {
            throw ValidationError(
                "--xds-max-streams, --xds-max-resource-names and --xds-push-concurrency must be positive, --grpc-max-message-size at least 4096")
        }
        guard NameRules.isDNS1123Label(rootNamespace) else {
            throw ValidationError("--root-namespace must be a namespace name (a lowercase DNS-1123 label)")
        }
        let throttle = PushThrottle(limit: xdsPushConcurrency ?? PushThrottle.defaultLimit(cores: ProcessInfo.processInfo.activeProcessorCount))
        let limits = ADSLimits(
            maxStreams: xdsMaxStreams, maxResourceNamesPerRequest: xdsMaxResourceNames,
            maxRequestBytes: grpcMaxMessageSize)
        let transportConfig = Self.transportConfig(limits)
        let directory = DataDirectory.resolve(dataDir)
        try DataDirectory.prepare(directory, logger: logger)
        EnvoyTypes.registerForJSON()
        let prometheus = PrometheusCollectorRegistry()
        let health = ServingHealth()
        let statuses = ProxyStatusRegistry()
        let caMetrics = CAMetrics(registry: prometheus)
        // Read before any client exists: a bad values file stops meshd with its message.
        let injection = try injectionValues()
        let traffic = try observedTraffic()
        let kubernetes = try kubernetesRegistry(health: health, logger: logger)
        let singletons = SingletonWork()
        try await withStore(
            directory: directory, health: health, statuses: statuses,
            caMetrics: caMetrics, singletons: singletons, logger: logger
        ) { opened in
            let store = opened.store
            let identity = opened.identity.reviewing(kubernetes?.tokenReview, metrics: caMetrics, logger: logger)
            let revision = try await store.currentRevision()
            logger.info("config store open", metadata: ["data_dir": "\(directory.path)", "store": "\(storeSpec)", "revision": "\(revision)"])
            let metrics = XDSMetrics(registry: prometheus)
            let publisher = PushContextPublisher()
            var initialSettings = MeshSettings(rootNamespace: rootNamespace)
            if let loadedMeshConfig {
                MeshConfigWatcher.apply(loadedMeshConfig.parsed.config, rootNamespace: rootNamespace, to: &initialSettings)
            }
            let settings = MeshSettingsSource(initialSettings)
            let configIndex = SharedConfigIndex(settings: initialSettings)
            let debouncer = PushDebouncer(
                store: store, publisher: publisher, quiet: quiet, maxDelay: maxDelay,
                metrics: metrics, health: health, index: configIndex, vault: opened.vault, settings: settings,
                platform: kubernetes?.source, storeSynced: opened.synced, logger: logger)
            let meshConfigWatcher = loadedMeshConfig.map { loaded in
                MeshConfigWatcher(
                    path: meshConfig ?? "", initial: loaded, settings: settings, health: health, trustDomain: trustDomain,
                    defaultRootNamespace: rootNamespace, logger: logger)
            }
            let jwks = JWKSResolver(
                publisher: publisher, settings: settings, health: health,
                limits: .init(refreshInterval: jwksRefresh, retryInterval: min(.seconds(60), jwksRefresh)), logger: logger)
            let generators = GeneratorTable(trustDomain: trustDomain)
            let cache = SnapshotCache(generators: generators)
            let ads = AggregatedDiscoveryServer(
                publisher: publisher, cache: cache, statuses: statuses, metrics: metrics,
                logger: logger, limits: limits, throttle: throttle)
            // The mTLS port's ADS: the same streams, but a proxy is who its mesh certificate says.
            let peerChain = CertificateService.tlsPeerIdentity(ca: identity.ca)
            let authenticatedADS = AggregatedDiscoveryServer(
                publisher: publisher, cache: cache, statuses: statuses, metrics: metrics, logger: logger, limits: limits,
                throttle: throttle,
                peerIdentity: { context in
                    await peerChain(context).map { AuthenticatedPeer(spiffeID: $0.uri, namespace: $0.namespace) }
                })
            let grpc = GRPCServerService(
                server: GRPCServer(
                    transport: .http2NIOPosix(
                        address: .ipv4(host: listenAddress, port: grpcPort),
                        transportSecurity: .plaintext, config: transportConfig),
                    services: [ads, PlaintextCertificateRefusal()]),
                name: "xDS gRPC server", addressKey: "xds_address", logger: logger)
            let dnsNames = tlsSan.isEmpty ? ["meshd.mesh-system.svc", "localhost"] : tlsSan
            let serving = try identity.servingCertificate(dnsNames: dnsNames, listenAddress: listenAddress)
            let tls = GRPCServerService(
                server: GRPCServer(
                    transport: .http2NIOPosix(
                        address: .ipv4(host: listenAddress, port: tlsPort),
                        transportSecurity: serving.serverOnly, config: transportConfig),
                    services: [ads, identity.certificateService]),
                name: "xDS and CA TLS server", addressKey: "tls_address", logger: logger)
            let renewal = GRPCServerService(
                server: GRPCServer(
                    transport: .http2NIOPosix(
                        address: .ipv4(host: listenAddress, port: renewPort),
                        transportSecurity: serving.mutual, config: transportConfig),
                    services: [authenticatedADS, identity.renewalService]),
                name: "CA renewal and authenticated xDS mTLS server", addressKey: "renew_address", logger: logger)

            let election = opened.kubernetes.map {
                kubernetesElection($0, publisher: publisher, index: configIndex, singletons: singletons, logger: logger)
            }
            let trusted = Self.list(adminTrustedAddresses)
            // The names meshd is reached by are the ones its certificate names, unless told otherwise.
            let allowedHosts = adminAllowedHosts.map(Self.list) ?? Set(dnsNames)
            let adminDependencies = AdminDependencies(
                store: store, publisher: publisher, statuses: statuses, metrics: prometheus, logger: logger,
                adminToken: identity.adminToken, trustedAddresses: trusted, allowedHostNames: allowedHosts,
                allowLoopbackTokenMinting: allowLoopbackTokenMinting, health: health, configIndex: configIndex,
                identity: .init(ca: identity.ca, tokens: identity.tokens), peers: opened.peers, generators: generators,
                vault: opened.vault, meshInputs: .init(settings: settings, meshConfig: meshConfigWatcher, jwks: jwks),
                kubernetes: kubernetes?.discovery, ledgerStatus: election.map { Self.ledgerStatus(opened.kubernetes, $0) },
                traffic: traffic)
            let router = AdminRouter.make(adminDependencies)
            // Canaries (docs/canary-steps.md): driven by the replica that leads singleton work,
            // their gauges kept on every replica from the store.
            let canaries = adminDependencies.canaryOperator()
            let canaryRunner = CanaryRunner(canaries: canaries, logger: logger)
            singletons.add { await canaryRunner.run() }
            let canaryGauges = BackgroundService { await canaries.metrics?.follow(store) }
            let adminLogger = logger
            let admin = Application(
                router: router,
                configuration: .init(address: .hostname(listenAddress, port: adminPort), serverName: "meshd"),
                onServerRunning: { channel in
                    let port = channel.localAddress?.port ?? 0
                    adminLogger.info("admin API listening admin_address=\(Self.display(listenAddress)):\(port)")
                },
                logger: logger)

            let webhook = try admissionWebhook(
                AdminDependencies(
                    store: store, publisher: publisher, statuses: statuses, metrics: prometheus, logger: logger,
                    adminToken: identity.adminToken, trustedAddresses: trusted, allowedHostNames: allowedHosts,
                    allowLoopbackTokenMinting: false, health: health, configIndex: configIndex,
                    identity: nil, peers: nil, generators: generators,
                    vault: opened.vault, meshInputs: .init(settings: settings, meshConfig: meshConfigWatcher, jwks: jwks), kubernetes: nil),
                identity: identity, dnsNames: dnsNames, injection: injection, logger: logger)

            var lifecycle = ServiceGroupConfiguration(
                services: opened.services + [debouncer, jwks, grpc, tls, renewal, admin, canaryGauges]
                    + (meshConfigWatcher.map { [$0] } ?? [])
                    + (webhook.map { [$0] } ?? []) + (election.map { [$0] } ?? [])
                    + (kubernetes.map { [KubernetesDiscoveryService(discovery: $0.discovery)] } ?? [])
                    + rootCertServices(kubernetes, rootPEM: identity.ca.rootCertificatePEM, logger: logger),
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger)
            // A backstop: whatever still runs 10 s after SIGTERM is cancelled.
            lifecycle.maximumGracefulShutdownDuration = .seconds(10)
            let group = ServiceGroup(configuration: lifecycle)
            try await group.run()
        }
        logger.info("meshd stopped")
    }

    /// A comma-separated flag value as a set, blanks dropped.
    static func list(_ text: String) -> Set<String> {
        Set(text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    }

    /// The address to print for a listener: a wildcard bind is reachable on loopback.
    static func display(_ address: String) -> String {
        address == "0.0.0.0" ? "127.0.0.1" : address
    }
}
