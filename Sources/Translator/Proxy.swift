import MeshModel

/// A connected xDS client, as the generators see it: who it is, what kind of data plane, and
/// where it runs. Built from the Node it sends (and, on the mTLS port, its certificate).
public struct Proxy: Sendable, Hashable {
    /// The node id it sent (the connection id when it sent none).
    public var id: String
    /// Its kind: decides which generators serve it (`GeneratorTable`).
    public var kind: ProxyKind
    /// The namespace it runs in: its certificate's when authenticated, else what its node says.
    public var namespace: String
    /// Its workload's labels (node metadata LABELS).
    public var labels: [String: String]
    /// Its workload's addresses (node metadata INSTANCE_IPS, else the IP in an Istio node id).
    public var instanceIPs: [String]
    /// The cluster it runs in (node metadata CLUSTER_ID), or empty.
    public var clusterID: String
    /// Where it runs (Node.locality).
    public var locality: Locality
    /// Its SPIFFE identity when it authenticated with a mesh certificate (the mTLS port), else nil.
    public var identity: String?
    /// The addresses it serves on as a proxyless gRPC server: the inbound listener names
    /// (`xds.istio.io/grpc/lds/inbound/IP:PORT`) it asks LDS for. Set by the stream from its
    /// LDS subscription, not from the node.
    public var inbound: Set<InboundAddress> = []

    public init(
        id: String, kind: ProxyKind = .proxylessGRPC, namespace: String = "default", labels: [String: String] = [:],
        instanceIPs: [String] = [], clusterID: String = "", locality: Locality = Locality(), identity: String? = nil
    ) {
        self.id = id
        self.kind = kind
        self.namespace = namespace
        self.labels = labels
        self.instanceIPs = instanceIPs
        self.clusterID = clusterID
        self.locality = locality
        self.identity = identity
    }

    /// Its labels with Istio's topology labels for its locality added (what `failoverPriority`
    /// compares; a label the workload sets itself wins).
    public var topologyLabels: [String: String] {
        var result: [String: String] = [:]
        if !locality.region.isEmpty { result[LocalityLoadBalancerSetting.regionLabel] = locality.region }
        if !locality.zone.isEmpty { result[LocalityLoadBalancerSetting.zoneLabel] = locality.zone }
        if !locality.subZone.isEmpty { result[LocalityLoadBalancerSetting.subzoneLabel] = locality.subZone }
        return result.merging(labels) { _, own in own }
    }

    /// Whether the proxy proved its identity with a mesh certificate.
    public var isAuthenticated: Bool { identity != nil }
}
