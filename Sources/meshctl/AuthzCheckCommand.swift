import ArgumentParser
import MeshModel

/// `meshctl x`: experimental commands, as `istioctl x`.
struct ExperimentalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "x",
        abstract: "Experimental commands.",
        subcommands: [AuthzCommand.self])
}

/// `meshctl x authz`: authorization inspection.
struct AuthzCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authz",
        abstract: "Inspect the security policies that apply to a workload.",
        subcommands: [AuthzCheckCommand.self])
}

/// `meshctl x authz check WORKLOAD-ENTRY [-n NS]`: the mutual TLS mode per port and the RBAC
/// rules a workload's gRPC servers get, from meshd's current push context
/// (`GET /debug/authz`), as `istioctl x authz check` lists them for a pod.
struct AuthzCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "List the PeerAuthentication and AuthorizationPolicy results for a WorkloadEntry.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The WorkloadEntry's name.")
    var workload: String

    @Option(name: .shortAndLong, help: "The WorkloadEntry's namespace.")
    var namespace: String = "default"

    @Option(name: .shortAndLong, help: "Output format: table or json.")
    var output: OutputFormat = .table

    func run() async throws {
        let answer = try await AdminClient.withClient(global) { try await $0.authzCheck(namespace: namespace, workload: workload) }
        guard output == .table else {
            Console.out(try (output == .json ? answer.prettyJSON() + "\n" : answer.yamlDocument()))
            return
        }
        Console.out(Self.render(answer))
    }

    /// The human form: the ports table, the policies, then the DENY and ALLOW rules.
    static func render(_ answer: JSONValue) -> String {
        var ports = TextTable(header: ["PORT", "MTLS", "PEER AUTHENTICATIONS"])
        for port in answer["ports"]?.arrayValue ?? [] {
            let number = port["port"]?.displayText ?? "?"
            let policies = (port["policies"]?.arrayValue ?? []).compactMap(\.stringValue)
            ports.append([number, port["mode"]?.stringValue ?? "?", policies.isEmpty ? "(none)" : policies.joined(separator: ", ")])
        }
        var text = ports.render()
        var policies = TextTable(header: ["AUTHORIZATION POLICY", "ACTION"])
        for policy in answer["authorizationPolicies"]?.arrayValue ?? [] {
            policies.append([policy["name"]?.stringValue ?? "?", policy["action"]?.stringValue ?? "?"])
        }
        text += "\n" + policies.render()
        for (title, key) in [("DENY rules (any match denies)", "deny"), ("ALLOW rules (a request must match one)", "allow")] {
            guard let rules = answer[key]?.arrayValue else { continue }
            text += "\n\(title):\n"
            text += rules.isEmpty ? "  (none: nothing matches)\n" : rules.compactMap(\.stringValue).map { "  \($0)\n" }.joined()
        }
        if answer["allow"]?.arrayValue == nil {
            text += "\nNo ALLOW policy: every request no DENY rule matches is allowed.\n"
        }
        return text
    }
}
