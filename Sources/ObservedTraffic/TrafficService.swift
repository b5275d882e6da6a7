/// One service as the traffic report reads it: its host, its subsets and how its workloads'
/// series are told apart, and the weights its VirtualService configures.
public struct TrafficService: Sendable, Hashable {
    /// A DestinationRule subset: its name and the workload labels that select it.
    public struct Subset: Sendable, Hashable {
        public var name: String
        public var labels: [String: String]

        public init(name: String, labels: [String: String]) {
            self.name = name
            self.labels = labels
        }
    }

    /// The service's fully qualified host (`reviews.default.svc.cluster.local`).
    public var host: String
    /// The service's namespace.
    public var namespace: String
    /// The subsets of the DestinationRule for the host (empty: no rule).
    public var subsets: [Subset]
    /// The workload label every endpoint of the service shares and names the application by
    /// (`WorkloadIdentity.shared(in:)`); nil when there is none, and then the destination side
    /// cannot be read.
    public var application: WorkloadIdentity?
    /// The weight per subset of the VirtualService's default route, nil with no VirtualService.
    public var weights: [String: Int]?

    public init(host: String, namespace: String, subsets: [Subset], application: WorkloadIdentity?, weights: [String: Int]?) {
        self.host = host
        self.namespace = namespace
        self.subsets = subsets
        self.application = application
        self.weights = weights
    }
}

/// The label a service's workloads are recognised by in Prometheus, as Istio recognises a
/// canonical service: `app`, else `app.kubernetes.io/name`, else
/// `service.istio.io/canonical-name`, with one value on every endpoint.
public struct WorkloadIdentity: Sendable, Hashable {
    /// The workload label's key, as the registry has it (`app.kubernetes.io/name`).
    public var key: String
    /// Its value on every endpoint.
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }

    /// The keys tried, in Istio's order of precedence for the canonical service name.
    public static let keys = ["app", "app.kubernetes.io/name", "service.istio.io/canonical-name"]

    /// The first of `keys` that every one of `endpointLabels` carries with the same value; nil
    /// when there are no endpoints or none is shared.
    public static func shared(in endpointLabels: [[String: String]]) -> WorkloadIdentity? {
        guard let first = endpointLabels.first else { return nil }
        for key in keys {
            guard let value = first[key], !value.isEmpty else { continue }
            if endpointLabels.allSatisfy({ $0[key] == value }) { return WorkloadIdentity(key: key, value: value) }
        }
        return nil
    }
}
