import Discovery
import MeshModel

/// A workload a selector can select: a WorkloadEntry, an inline ServiceEntry endpoint, or a
/// connected proxy (a proxyless client need not be registered to be selected by a policy).
public struct AnalysisWorkload: Sendable, Hashable {
    /// The workload's namespace.
    public var namespace: String
    /// A name for messages (`WorkloadEntry default/reviews-v1`, a proxy's node id).
    public var name: String
    /// Its labels.
    public var labels: [String: String]

    /// Creates a workload.
    public init(namespace: String, name: String, labels: [String: String]) {
        self.namespace = namespace
        self.name = name
        self.labels = labels
    }

    /// Whether it carries every label of `selector`.
    func matches(_ selector: [String: String]) -> Bool {
        selector.allSatisfy { labels[$0.key] == $0.value }
    }
}

/// What the analyzers read: every resource that validates (including those a PushContext
/// leaves out as duplicates), the context built from them, and the workloads selectors can match.
public struct AnalysisInput: Sendable {
    /// Every valid resource, sorted by key.
    public let resources: [PushContextBuilder.Input]
    /// The context of those resources (its `invalid` lists stored resources that fail validation).
    public let context: PushContext
    /// The WorkloadEntries and inline ServiceEntry endpoints of `resources`, then `connected`.
    public let workloads: [AnalysisWorkload]
    /// `workloads` by namespace: selectors look in one namespace, once per policy.
    private let byNamespace: [String: [AnalysisWorkload]]

    /// The input for `resources` and their `context`; `connected` adds workloads known only by
    /// their connection (proxies' namespace and labels).
    public init(resources: [PushContextBuilder.Input], context: PushContext, connected: [AnalysisWorkload] = []) {
        self.resources = resources.sorted { $0.key < $1.key }
        self.context = context
        var workloads: [AnalysisWorkload] = []
        for input in self.resources {
            switch input.config {
            case .workloadEntry(let spec):
                workloads.append(.init(namespace: input.key.namespace, name: "\(input.key)", labels: spec.labels))
            case .serviceEntry(let spec):
                for endpoint in spec.endpoints where !endpoint.labels.isEmpty {
                    workloads.append(
                        .init(
                            namespace: input.key.namespace, name: "\(input.key) endpoint \(endpoint.address)",
                            labels: endpoint.labels))
                }
            default:
                break
            }
        }
        self.workloads = workloads + connected
        byNamespace = Dictionary(grouping: self.workloads, by: \.namespace)
    }

    /// The input for `resources`, building their context with `settings` (tests, files).
    public init(resources: [PushContextBuilder.Input], settings: MeshSettings = MeshSettings(), connected: [AnalysisWorkload] = []) {
        self.init(
            resources: resources, context: PushContextBuilder.build(revision: 0, inputs: resources, settings: settings),
            connected: connected)
    }

    /// The resources of one kind with their typed spec, sorted by key.
    func all<Spec>(_ extract: (TypedConfig) -> Spec?) -> [(key: ConfigKey, createdRevision: Int64, spec: Spec)] {
        resources.compactMap { input in extract(input.config).map { (input.key, input.createdRevision, $0) } }
    }

    var virtualServices: [(key: ConfigKey, createdRevision: Int64, spec: VirtualService)] {
        all {
            switch $0 {
            case .virtualService(let spec): spec
            default: nil
            }
        }
    }

    var destinationRules: [(key: ConfigKey, createdRevision: Int64, spec: DestinationRule)] {
        all {
            switch $0 {
            case .destinationRule(let spec): spec
            default: nil
            }
        }
    }

    var sidecars: [(key: ConfigKey, createdRevision: Int64, spec: Sidecar)] {
        all {
            switch $0 {
            case .sidecar(let spec): spec
            default: nil
            }
        }
    }

    var authorizationPolicies: [(key: ConfigKey, createdRevision: Int64, spec: AuthorizationPolicy)] {
        all {
            switch $0 {
            case .authorizationPolicy(let spec): spec
            default: nil
            }
        }
    }

    var requestAuthentications: [(key: ConfigKey, createdRevision: Int64, spec: RequestAuthentication)] {
        all {
            switch $0 {
            case .requestAuthentication(let spec): spec
            default: nil
            }
        }
    }

    var peerAuthentications: [(key: ConfigKey, createdRevision: Int64, spec: PeerAuthentication)] {
        all {
            switch $0 {
            case .peerAuthentication(let spec): spec
            default: nil
            }
        }
    }

    var gateways: [(key: ConfigKey, createdRevision: Int64, spec: Gateway)] {
        all {
            switch $0 {
            case .gateway(let spec): spec
            default: nil
            }
        }
    }

    /// The workloads of `namespace`.
    func workloads(in namespace: String) -> [AnalysisWorkload] {
        byNamespace[namespace] ?? []
    }
}
