import AdminAPI
import ArgumentParser
import CertificateAuthority
import Foundation
import Hummingbird
import HummingbirdTLS
import Kubernetes
import KubernetesStore
import Logging
import MeshModel
import NIOSSL
import PushPipeline
import ServiceLifecycle
import SidecarInjection
import Storage

extension MeshdCommand {
    /// meshd's own namespace on Kubernetes: `--system-namespace`, else the pod's (env
    /// `POD_NAMESPACE`, from the downward API), else `mesh-system`.
    var kubernetesSystemNamespace: String {
        systemNamespace ?? ProcessInfo.processInfo.environment["POD_NAMESPACE"].flatMap { $0.isEmpty ? nil : $0 } ?? "mesh-system"
    }

    /// This replica's name among others: `--replica-name`, else the pod's name (env `POD_NAME`),
    /// else HOSTNAME-PID.
    var replicaIdentity: String {
        replicaName ?? ProcessInfo.processInfo.environment["POD_NAME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
    }

    /// `--store kubernetes`: Istio's objects in the API server, the history ledger, the leader
    /// Lease (the elected replica records the ledger and prunes it) and the shared identity Secret.
    func withKubernetesStore(
        directory: URL, retention: HistoryRetention, health: ServingHealth, statuses: ProxyStatusRegistry, caMetrics: CAMetrics,
        logger: Logger,
        _ body: (StoreContext) async throws -> Void
    ) async throws {
        let namespace = kubernetesSystemNamespace
        guard NameRules.isDNS1123Label(namespace) else { throw ValidationError("--system-namespace must be a Kubernetes namespace name") }
        let api = try kubernetesClient()
        do {
            let store = try await KubernetesConfigStore(
                api: api, namespace: namespace, credentials: Self.gatewayCredential, logger: logger
            ) { trouble in
                health.set("kubernetes-config", trouble)
            }
            let identity = try await MeshIdentity.loadShared(
                api: api, namespace: namespace, dataDirectory: directory, caDirectory: caDir.map { URL(fileURLWithPath: $0) },
                trustDomain: trustDomain, metrics: caMetrics, logger: logger)
            logger.info("config from the Kubernetes API", metadata: ["namespace": "\(namespace)", "replica": "\(replicaIdentity)"])
            let parts = KubernetesStoreParts(
                store: store, api: api, namespace: namespace, retention: retention, rootPEM: identity.ca.rootCertificatePEM)
            let share = KubeProxyStatusShare(api: api, namespace: namespace, replicaID: replicaIdentity, logger: logger) {
                SynczEntries.local(statuses)
            }
            try await body(
                StoreContext(
                    store: store, vault: store, identity: identity, services: [store, share], peers: KubePeers(share: share),
                    synced: { store.isSynced }, kubernetes: parts))
        } catch {
            await api.shutdown()
            throw error
        }
        await api.shutdown()
    }
}

/// The Kubernetes proxy-status share as the admin API's view of the other replicas.
struct KubePeers: PeerProxyStatuses {
    let share: KubeProxyStatusShare
    var replicaID: String { share.replicaID }
    func peerEntries() async -> [JSONValue] { await share.peerEntries() }
}

/// What `--store kubernetes` opened, for the work of the elected replica.
struct KubernetesStoreParts {
    let store: KubernetesConfigStore
    let api: KubeAPIClient
    let namespace: String
    let retention: HistoryRetention
    let rootPEM: String
}

extension MeshdCommand {
    /// The election among replicas on one cluster: the holder of the Lease records the ledger,
    /// prunes it, keeps the webhook configuration trusting meshd and writes resources' status
    /// (validation messages) after each build.
    func kubernetesElection(
        _ parts: KubernetesStoreParts, publisher: PushContextPublisher, index: SharedConfigIndex, singletons: SingletonWork,
        logger: Logger
    ) -> KubeLeaderElection {
        let patcher = WebhookConfigPatcher(api: parts.api, name: webhookConfigName, caBundlePEM: parts.rootPEM, logger: logger)
        let injectorPatcher = WebhookConfigPatcher(
            api: parts.api, name: injectorConfigName, resource: "mutatingwebhookconfigurations", caBundlePEM: parts.rootPEM, logger: logger)
        let roots = RootCertPublisher(api: parts.api, rootPEM: parts.rootPEM, logger: logger)
        let store = parts.store
        let retention = parts.retention
        return KubeLeaderElection(api: parts.api, namespace: parts.namespace, identity: replicaIdentity, logger: logger) {
            await withDiscardingTaskGroup { group in
                group.addTask { await store.record() }
                group.addTask { await store.prune(retention: retention, interval: .seconds(60)) }
                group.addTask { await patcher.run() }
                group.addTask { await injectorPatcher.run() }
                group.addTask { await roots.run() }
                group.addTask { await StatusReporting.run(store: store, publisher: publisher, index: index) }
                group.addTask { await singletons.run() }
            }
        }
    }

    /// A gateway credential from a Kubernetes Secret's PEM parts, checked as `meshctl create
    /// secret tls` checks one (`GatewayCredential`).
    @Sendable static func gatewayCredential(certificatePEM: String, keyPEM: String, caPEM: String?) throws -> (
        spec: TLSSecret, material: CredentialMaterial
    ) {
        let credential = try GatewayCredential.check(certificatePEM: certificatePEM, keyPEM: keyPEM, caPEM: caPEM)
        return (credential.spec, credential.material)
    }

    /// `/debug/ledger`: the store's state and who holds the Lease.
    static func ledgerStatus(_ parts: KubernetesStoreParts?, _ election: KubeLeaderElection) -> @Sendable () -> JSONValue {
        let store = parts?.store
        return {
            guard case .object(var status)? = store?.debugStatus() else { return .object(["enabled": false]) }
            status["leader"] = .object([
                "identity": .string(election.identity), "holder": election.holder.map(JSONValue.string) ?? .null,
                "leading": .bool(election.isLeader),
            ])
            return .object(status)
        }
    }

    /// The admission webhooks' HTTPS server (on Kubernetes only: nothing else sends
    /// AdmissionReviews): `/validate` and `/inject` with a serving certificate from meshd's CA,
    /// which the elected replica puts in the webhook configurations' caBundle.
    func admissionWebhook(
        _ dependencies: AdminDependencies, identity: MeshIdentity, dnsNames: [String], injection: InjectionValues, logger: Logger
    ) throws -> (any Service)? {
        guard storeSpec == "kubernetes" || registry == "kubernetes" else { return nil }
        let injector = SidecarInjector(values: injection)
        var ips = [listenAddress]
        if listenAddress == "0.0.0.0" { ips = ["127.0.0.1"] }
        let (chain, key) = try identity.ca.issueServingCertificate(dnsNames: dnsNames, ipAddresses: ips, ttl: .seconds(365 * 86_400))
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try chain.flatMap { try NIOSSLCertificate.fromPEMBytes(Array($0.utf8)) }.map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem)))
        let address = listenAddress
        return Application(
            router: AdmissionController.make(dependencies, injector: injector),
            server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: .init(address: .hostname(listenAddress, port: webhookPort), serverName: "meshd-webhook"),
            onServerRunning: { channel in
                logger.info("admission webhook listening webhook_address=\(Self.display(address)):\(channel.localAddress?.port ?? 0)")
            },
            logger: logger)
    }
}

extension MeshdCommand {
    /// The sidecar injector's values: `--injection-values` (YAML or JSON), else the defaults for
    /// meshd's namespace. A file that cannot be read or names an unknown key stops meshd.
    func injectionValues() throws -> InjectionValues {
        let namespace = kubernetesSystemNamespace
        guard let injectionValuesFile else { return InjectionValues(systemNamespace: namespace) }
        guard storeSpec == "kubernetes" || registry == "kubernetes" else {
            throw ValidationError("--injection-values needs --registry kubernetes or --store kubernetes (injection is Kubernetes' webhook)")
        }
        let text: String
        do {
            text = try String(contentsOfFile: injectionValuesFile, encoding: .utf8)
        } catch {
            throw ValidationError("--injection-values \(injectionValuesFile) cannot be read: \(error.localizedDescription)")
        }
        do {
            return try InjectionValues.parse(text, source: injectionValuesFile, systemNamespace: namespace)
        } catch {
            throw ValidationError("--injection-values: \(error.message)")
        }
    }
}
