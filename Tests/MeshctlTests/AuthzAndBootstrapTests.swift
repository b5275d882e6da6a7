import MeshModel
import Testing

@testable import meshctl

/// The server side of `meshctl bootstrap` and the rendering of `meshctl x authz check`.
@Suite struct AuthzAndBootstrapTests {
    @Test func everyBootstrapNamesServerListenersAndSaysGRPC() throws {
        let document = BootstrapCommand.bootstrap(
            serverURI: "127.0.0.1:15010", nodeID: "n", namespace: "shop",
            labels: ["app": "reviews"])
        #expect(document["server_listener_resource_name_template"]?.stringValue == "xds.istio.io/grpc/lds/inbound/%s")
        let metadata = document["node"]?["metadata"]
        #expect(metadata?["GENERATOR"]?.stringValue == "grpc")
        #expect(metadata?["NAMESPACE"]?.stringValue == "shop")
        #expect(metadata?["LABELS"]?["app"]?.stringValue == "reviews")
        let bare = BootstrapCommand.bootstrap(serverURI: "127.0.0.1:15010", nodeID: "n")
        #expect(bare["node"]?["metadata"]?["NAMESPACE"] == nil && bare["node"]?["metadata"]?["LABELS"] == nil)
        #expect(bare["server_listener_resource_name_template"] != nil)
    }

    /// `meshctl bootstrap ARGS` parsed and validated as the CLI does it.
    static func bootstrapCommand(_ arguments: [String]) throws -> BootstrapCommand {
        let parsed = try MeshctlCommand.parseAsRoot(["bootstrap"] + arguments)
        return try #require(parsed as? BootstrapCommand)
    }

    @Test func namespaceAndLabelsAreForGRPCBootstrapsToo() throws {
        let command = try Self.bootstrapCommand(["--namespace", "shop", "--labels", "app=reviews,version=v1", "--labels", "empty="])
        #expect(try command.parsedLabels() == ["app": "reviews", "version": "v1", "empty": ""])
        #expect(command.namespace == "shop")
        for bad in [["--labels", "app"], ["--labels", "=x"], ["--labels", "a=1,a=2"], ["--namespace", ""]] {
            #expect(throws: (any Error).self) { try Self.bootstrapCommand(bad) }
        }
    }

    @Test func authzCheckRendering() {
        let answer = JSONValue.object([
            "ports": .array([.object(["port": .number(50051), "mode": .string("STRICT"), "policies": .array([.string("default/strict")])])]),
            "authorizationPolicies": .array([.object(["name": .string("default/deny"), "action": .string("DENY")])]),
            "deny": .array([.string("ns[default]-policy[deny]-rule[0]: authn:exact:spiffe://x -> any")]),
        ])
        let text = AuthzCheckCommand.render(answer)
        #expect(text.contains("50051") && text.contains("STRICT") && text.contains("default/strict"))
        #expect(text.contains("ns[default]-policy[deny]-rule[0]: authn:exact:spiffe://x -> any"))
        #expect(text.contains("No ALLOW policy"))
    }

    @Test func authzCheckTakesAWorkloadEntryOrAProxy() throws {
        #expect(throws: (any Error).self) { _ = try AuthzCheckCommand.parse([]) }
        #expect(throws: (any Error).self) { _ = try AuthzCheckCommand.parse(["reviews-1", "--proxy", "sidecar~1.2.3.4~a.b~b.svc.cluster.local"]) }
        #expect(try AuthzCheckCommand.parse(["--proxy", "sidecar~1.2.3.4~a.b~b.svc.cluster.local"]).proxy != nil)
        #expect(try AuthzCheckCommand.parse(["reviews-1", "-n", "shop"]).workload == "reviews-1")
    }

    @Test func authzCheckRenderingForEnvoy() {
        let deny = JSONValue.array([.string("ns[default]-policy[deny]-rule[0]: authn:exact:spiffe://x -> any")])
        let answer = JSONValue.object([
            "ports": .array([
                .object([
                    "port": .number(9080), "protocol": .string("HTTP"), "mode": .string("STRICT"), "policies": .array([]), "declared": .bool(true),
                ]),
                .object([
                    "port": .number(7000), "protocol": .string("AUTO"), "mode": .string("DISABLE"), "policies": .array([]), "declared": .bool(false),
                ]),
            ]),
            "workloadMode": .object(["mode": .string("PERMISSIVE"), "policies": .array([])]),
            "authorizationPolicies": .array([]),
            "deny": deny,
            "envoy": .object([
                "http": .object(["DENY": deny]),
                "tcp": .object(["AUDIT": .array([.string("ns[default]-policy[a]-rule[0]: any -> any")]), "DENY": deny, "ALLOW": .array([])]),
            ]),
        ])
        let text = AuthzCheckCommand.render(answer)
        #expect(text.contains("7000 (portLevelMtls)") && text.contains("* (other ports)") && text.contains("PERMISSIVE"))
        // gRPC and Envoy's HTTP ports share their rules: one block.
        #expect(text.contains("Rules for proxyless gRPC servers, Envoy sidecar HTTP ports:"))
        #expect(text.contains("Rules for Envoy sidecar TCP ports:\n  AUDIT rules (a match is logged):"))
        #expect(text.contains("ALLOW rules (a request must match one):\n    (none: nothing matches)"))
    }
}
