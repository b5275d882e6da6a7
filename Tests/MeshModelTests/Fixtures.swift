@testable import MeshModel

/// Shared inputs: the canary example from DESIGN.md, as a user would apply it to Istio.
enum Fixtures {
    static let canaryYAML = """
        # reviews v1 and v2 running side by side on this machine
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata:
          name: reviews
        spec:
          hosts: [reviews]
          ports:
          - number: 9080
            name: grpc
            protocol: GRPC
          resolution: STATIC
          workloadSelector:
            labels:
              app: reviews
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata:
          name: reviews-v1
          labels:
            app: reviews
        spec:
          address: 127.0.0.1
          ports:
            grpc: 9081
          labels:
            app: reviews
            version: v1
        ---
        apiVersion: networking.istio.io/v1beta1
        kind: WorkloadEntry
        metadata:
          name: reviews-v2
        spec:
          address: 127.0.0.1
          ports:
            grpc: 9082
          labels:
            app: reviews
            version: v2
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata:
          name: reviews
        spec:
          host: reviews
          subsets:
          - name: v1
            labels:
              version: v1
          - name: v2
            labels:
              version: v2
        ---
        apiVersion: networking.istio.io/v1alpha3
        kind: VirtualService
        metadata:
          name: reviews
          namespace: default
        spec:
          hosts:
          - reviews
          http:
          - route:
            - destination:
                host: reviews
                subset: v1
              weight: 50
            - destination:
                host: reviews
                subset: v2
              weight: 50
        """

    /// Wraps a spec (YAML, indented by the caller as a block under `spec:`) in a full document.
    static func document(kind: String, name: String = "reviews", spec: String) -> String {
        "apiVersion: networking.istio.io/v1\nkind: \(kind)\nmetadata:\n  name: \(name)\nspec:\n"
            + spec.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
    }

    /// Parses one document and validates it.
    static func validate(kind: String, spec: String) throws -> TypedConfig {
        let resources = try ConfigDocumentParser.parse(document(kind: kind, spec: spec))
        return try ConfigValidator.validate(resources[0])
    }
}
