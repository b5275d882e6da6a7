import ArgumentParser
import CertificateAuthority
import Discovery
import Kubernetes
import KubernetesStore
import Logging
import MeshModel
import PushPipeline
import ServiceLifecycle

/// The Kubernetes registry's parts as meshd runs them (`--registry kubernetes`).
struct KubernetesParts {
    let discovery: KubernetesDiscovery
    /// What the push loop reads.
    let source: PlatformRegistrySource
    /// The CA's authenticator for service-account tokens.
    let tokenReview: KubernetesTokenReview
}

extension MeshdCommand {
    /// The Kubernetes registry `--registry` asks for, nil for the embedded one alone; throws a
    /// usage error for an unknown registry or a kubeconfig that cannot be used.
    func kubernetesRegistry(health: ServingHealth, logger: Logger) throws -> KubernetesParts? {
        switch registry {
        case "embedded":
            if kubeconfig != nil, storeSpec != "kubernetes" {
                throw ValidationError("--kubeconfig needs --registry kubernetes or --store kubernetes")
            }
            return nil
        case "kubernetes":
            break
        default:
            throw ValidationError("--registry takes 'embedded' or 'kubernetes', not '\(registry)'")
        }
        guard NameRules.isDNS1123Subdomain(clusterDomain) else {
            throw ValidationError("--cluster-domain must be a DNS name like cluster.local")
        }
        let api = try kubernetesClient()
        let config = api.config
        let source = PlatformRegistrySource()
        let discovery = KubernetesDiscovery(
            api: api, clusterDomain: clusterDomain,
            publish: { services, endpointHosts, synced in source.publish(services, endpointHosts: endpointHosts, synced: synced) },
            health: { message in health.set("kubernetes", message) }, logger: logger)
        logger.info("kubernetes registry", metadata: ["server": "\(config.server)", "cluster_domain": "\(clusterDomain)"])
        return KubernetesParts(discovery: discovery, source: source, tokenReview: KubernetesTokenReview(reviewer: TokenReviewer(api: api)))
    }
}

extension MeshdCommand {
    /// A client of the API server `--kubeconfig` names (the pod's service account without it);
    /// throws a usage error when the credentials cannot be used.
    func kubernetesClient() throws -> KubeAPIClient {
        let config: KubeClientConfig
        do {
            config = try kubeconfig.map { try KubeClientConfig.kubeconfig(path: $0) } ?? KubeClientConfig.inCluster()
        } catch {
            throw ValidationError(
                "the Kubernetes API server cannot be reached with \(kubeconfig.map { "--kubeconfig \($0)" } ?? "the pod's service account"): \(error)"
            )
        }
        do { return try KubeAPIClient(config: config) } catch { throw ValidationError("\(error)") }
    }
}

/// The CA's service-account token check: a Kubernetes TokenReview with audience `istio-ca`.
struct KubernetesTokenReview: ServiceAccountTokenReviewer {
    let reviewer: TokenReviewer

    func review(_ token: String) async throws(CAError) -> (namespace: String, serviceAccount: String) {
        do {
            return try await reviewer.review(token)
        } catch {
            throw CAError(code: .unauthenticated, message: "Kubernetes service-account token refused: \(error)")
        }
    }
}

/// Runs the Kubernetes registry's watches until meshd shuts down.
struct KubernetesDiscoveryService: ServiceLifecycle.Service {
    let discovery: KubernetesDiscovery

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            await discovery.run()
            await discovery.api.shutdown()
        }
    }
}

extension MeshdCommand {
    /// The root certificate ConfigMaps' publisher when meshd reads the cluster without keeping
    /// its config there (with the Kubernetes store, the Lease holder publishes them).
    func rootCertServices(_ kubernetes: KubernetesParts?, rootPEM: String, logger: Logger) -> [any ServiceLifecycle.Service] {
        guard let kubernetes, storeSpec != "kubernetes" else { return [] }
        return [RootCertService(publisher: RootCertPublisher(api: kubernetes.discovery.api, rootPEM: rootPEM, logger: logger))]
    }
}

/// Keeps the root certificate ConfigMaps when meshd reads the cluster but keeps its config
/// elsewhere (`--registry kubernetes` without `--store kubernetes`): every replica publishes,
/// which is harmless (writes happen only on a difference; a lost race is a 409, skipped). With
/// the Kubernetes store the Lease holder alone does it.
struct RootCertService: ServiceLifecycle.Service {
    let publisher: RootCertPublisher

    func run() async throws {
        await cancelWhenGracefulShutdown { await publisher.run() }
    }
}
