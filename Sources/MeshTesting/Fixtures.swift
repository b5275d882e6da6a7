import MeshModel

/// The canary scenario's config as users write it: `reviews` v1 and v2 behind a ServiceEntry,
/// subsets by `version`, and a VirtualService splitting traffic by weight.
public enum CanaryFixture {
    /// ServiceEntry + two WorkloadEntries (ports 9081, 9082 on 127.0.0.1).
    public static let registry = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: reviews, namespace: default}
        spec:
          hosts: [reviews.default.svc.cluster.local]
          ports: [{number: 9080, name: grpc, protocol: GRPC}]
          resolution: STATIC
          workloadSelector: {labels: {app: reviews}}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: reviews-v1, namespace: default}
        spec: {address: 127.0.0.1, ports: {grpc: 9081}, labels: {app: reviews, version: v1}, locality: us-east/zone-a}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: reviews-v2, namespace: default}
        spec: {address: 127.0.0.1, ports: {grpc: 9082}, labels: {app: reviews, version: v2}, locality: us-east/zone-a}
        """

    /// A DestinationRule with the given subsets (by `version` label).
    public static func destinationRule(subsets: [String]) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews, namespace: default}
        spec:
          host: reviews
          subsets: [\(subsets.map { "{name: \($0), labels: {version: \($0)}}" }.joined(separator: ", "))]
        """
    }

    /// A VirtualService sending `weights[subset]` to each subset.
    public static func virtualService(_ weights: [(String, Int)]) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews, namespace: default}
        spec:
          hosts: [reviews]
          http:
          - route: [\(weights.map { "{destination: {host: reviews, subset: \($0.0)}, weight: \($0.1)}" }.joined(separator: ", "))]
        """
    }

    /// Parses several YAML texts into resources (test helper; traps on invalid fixtures).
    public static func resources(_ texts: String...) -> [ConfigResource] {
        texts.flatMap { text in
            do { return try ConfigDocumentParser.parse(text) } catch { fatalError("invalid fixture: \(error)") }
        }
    }
}
