import ArgumentParser
import MeshModel

/// `meshctl x`: experimental commands, as `istioctl x`.
struct ExperimentalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "x",
        abstract: "Experimental commands.",
        subcommands: [AuthzCommand.self, MeshConfigCommand.self, TrafficCommand.self])
}

/// `meshctl x authz`: authorization inspection.
struct AuthzCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authz",
        abstract: "Inspect the security policies that apply to a workload.",
        subcommands: [AuthzCheckCommand.self])
}

/// `meshctl x authz check WORKLOAD-ENTRY [-n NS]` (or `--proxy ID`, a connected Envoy sidecar
/// judged by its own labels and inbound ports): the mutual TLS mode per port and the RBAC
/// rules a workload's servers get — a proxyless gRPC server's, an Envoy sidecar's HTTP and TCP
/// chains' — from meshd's current push context (`GET /debug/authz`), as `istioctl x authz
/// check` lists them for a pod.
struct AuthzCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "List the PeerAuthentication and AuthorizationPolicy results for a WorkloadEntry or a connected Envoy sidecar.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The WorkloadEntry's name (or give --proxy).")
    var workload: String?

    @Option(help: "A connected Envoy sidecar's node id, checked with its own labels instead of a WorkloadEntry's.")
    var proxy: String?

    @Option(name: .shortAndLong, help: "The WorkloadEntry's namespace.")
    var namespace: String = "default"

    @Option(name: .shortAndLong, help: "Output format: table or json.")
    var output: OutputFormat = .table

    func validate() throws {
        guard (workload == nil) != (proxy == nil) else {
            throw ValidationError("give either a WorkloadEntry name or --proxy ID")
        }
    }

    func run() async throws {
        let answer = try await AdminClient.withClient(global) { client in
            if let proxy { return try await client.authzCheck(proxyID: proxy) }
            return try await client.authzCheck(namespace: namespace, workload: workload ?? "")
        }
        guard output == .table else {
            Console.out(try (output == .json ? answer.prettyJSON() + "\n" : answer.yamlDocument()))
            return
        }
        Console.out(Self.render(answer))
    }

    /// The human form: the ports table (the last row, `*`, is every port not listed: an Envoy
    /// sidecar's passthrough), the policies, then the rules as each kind of server applies
    /// them — gRPC servers, an Envoy sidecar's HTTP ports, its TCP ports — in evaluation order,
    /// kinds whose rules are the same shown once.
    static func render(_ answer: JSONValue) -> String {
        var ports = TextTable(header: ["PORT", "PROTOCOL", "MTLS", "PEER AUTHENTICATIONS"])
        func names(_ value: JSONValue?) -> String {
            let policies = (value?.arrayValue ?? []).compactMap(\.stringValue)
            return policies.isEmpty ? "(none)" : policies.joined(separator: ", ")
        }
        for port in answer["ports"]?.arrayValue ?? [] {
            let number = (port["port"]?.displayText ?? "?") + (port["declared"]?.boolValue == false ? " (portLevelMtls)" : "")
            ports.append([number, port["protocol"]?.stringValue ?? "-", port["mode"]?.stringValue ?? "?", names(port["policies"])])
        }
        if let workload = answer["workloadMode"] {
            ports.append(["* (other ports)", "AUTO", workload["mode"]?.stringValue ?? "?", names(workload["policies"])])
        }
        var text = ports.render()
        var policies = TextTable(header: ["AUTHORIZATION POLICY", "ACTION"])
        for policy in answer["authorizationPolicies"]?.arrayValue ?? [] {
            policies.append([policy["name"]?.stringValue ?? "?", policy["action"]?.stringValue ?? "?"])
        }
        text += "\n" + policies.render()
        if let authentications = answer["requestAuthentications"]?.arrayValue, !authentications.isEmpty {
            var table = TextTable(header: ["REQUEST AUTHENTICATION", "ISSUERS"])
            for entry in authentications {
                table.append([
                    entry["name"]?.stringValue ?? "?", (entry["issuers"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", "),
                ])
            }
            text += "\n" + table.render()
        }
        var grpc: [String: JSONValue] = [:]
        for key in ["deny", "allow"] { grpc[key.uppercased()] = answer[key] }
        var blocks: [(labels: [String], rules: JSONValue)] = []
        for (label, rules) in [
            ("proxyless gRPC servers", JSONValue.object(grpc)), ("Envoy sidecar HTTP ports", answer["envoy"]?["http"] ?? .object([:])),
            ("Envoy sidecar TCP ports", answer["envoy"]?["tcp"] ?? .object([:])),
        ] {
            if let index = blocks.firstIndex(where: { $0.rules == rules }) {
                blocks[index].labels.append(label)
            } else {
                blocks.append(([label], rules))
            }
        }
        for block in blocks {
            text += "\nRules for \(block.labels.joined(separator: ", ")):\n"
            var any = false
            for (action, title) in [
                ("CUSTOM", "CUSTOM rules (a match is sent to the external authorizer, or denied when it cannot be)"),
                ("AUDIT", "AUDIT rules (a match is logged)"), ("DENY", "DENY rules (any match denies)"),
                ("ALLOW", "ALLOW rules (a request must match one)"),
            ] {
                guard let rules = block.rules[action]?.arrayValue else { continue }
                any = true
                text += "  \(title):\n"
                text += rules.isEmpty ? "    (none: nothing matches)\n" : rules.compactMap(\.stringValue).map { "    \($0)\n" }.joined()
            }
            if !any { text += "  (no policy)\n" }
            if block.rules["ALLOW"] == nil { text += "  No ALLOW policy: every request no DENY rule matches is allowed.\n" }
        }
        return text
    }
}
