import ArgumentParser
import Foundation
import MeshModel

/// `meshctl canary …`: canaries meshd drives itself — weights stepped by the new subset's
/// observed errors and latency, rolled back when they are out of bounds (docs/canary-steps.md).
struct CanaryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "canary",
        abstract: "Start, watch and steer canaries that step a VirtualService's weights by observed traffic.",
        subcommands: [
            CanaryStartCommand.self, CanaryStatusCommand.self, CanaryOperationCommand.Abort.self,
            CanaryOperationCommand.Promote.self, CanaryOperationCommand.Resume.self,
        ])
}

/// `meshctl canary start HOST --from v1 --to v2 --steps 10,25,50,100 …`: applies a `Canary`.
struct CanaryStartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start a canary: apply a Canary resource, which meshd then drives.",
        discussion: """
            meshd sets the new subset's weight to each step in turn in every route of the \
            VirtualService that sends HOST to the two subsets, watches the new subset's observed \
            traffic for an interval, and advances while it is within bounds; out of bounds, or \
            with fewer than --min-requests requests in an interval, it restores the VirtualService \
            as it was before the canary. Needs meshd started with --prometheus-url.
            """)

    @ParentCommand var root: MeshctlCommand

    @Argument(help: "The destination host whose subsets move (reviews, or reviews.default.svc.cluster.local).")
    var host: String

    @Option(help: "The subset traffic moves away from.")
    var from: String

    @Option(help: "The subset traffic moves to.")
    var to: String

    @Option(help: "The new subset's weight at each step, comma-separated and increasing (1-100).")
    var steps: String = "10,25,50,100"

    @Option(help: "How long each step is watched (2s to 1h).")
    var interval: String = "1m"

    @Option(help: "The highest error rate of the new subset, percent (1% or 1).")
    var maxErrorRate: String = "1%"

    @Option(help: "The highest p99 latency of the new subset (500ms); none by default.")
    var maxP99: String?

    @Option(help: "The fewest requests to the new subset an interval must see.")
    var minRequests: Int = 100

    @Option(help: "Which observed traffic judges: any, client, destination or envoy.")
    var source: String = "any"

    @Option(help: "The VirtualService to step (default: the one in the namespace whose hosts name HOST).")
    var virtualService: String?

    @Option(help: "The canary's name (default: HOST's first label).")
    var name: String?

    @Option(name: .shortAndLong, help: "Namespace (default: default).")
    var namespace: String = "default"

    /// The Canary document this command applies.
    func document() throws -> JSONValue {
        let weights = try steps.split(separator: ",").map { text -> JSONValue in
            guard let weight = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--steps takes comma-separated weights such as 10,25,50,100")
            }
            return .number(Double(weight))
        }
        var analysis: [String: JSONValue] = [
            "maxErrorRate": .string(maxErrorRate.hasSuffix("%") ? maxErrorRate : maxErrorRate + "%"),
            "minRequests": .number(Double(minRequests)), "source": .string(source),
        ]
        if let maxP99 { analysis["maxP99"] = .string(maxP99) }
        var spec: [String: JSONValue] = [
            "host": .string(host), "from": .string(from), "to": .string(to), "steps": .array(weights),
            "interval": .string(interval), "analysis": .object(analysis),
        ]
        if let virtualService { spec["virtualService"] = .string(virtualService) }
        let canaryName = name ?? String(host.split(separator: ".").first ?? Substring(host))
        return .object([
            "apiVersion": .string("meshd.io/v1alpha1"), "kind": .string("Canary"),
            "metadata": .object(["name": .string(canaryName), "namespace": .string(namespace)]), "spec": .object(spec),
        ])
    }

    func run() async throws {
        let document = try document()
        let name = document["metadata"]?["name"]?.stringValue ?? ""
        try await AdminClient.withClient(root.global) { client in
            // The same spec again would change nothing (meshd keeps its status): say how to re-run it.
            if let existing = try? await client.get(kind: "Canary", namespace: namespace, name: name), existing["spec"] == document["spec"],
                let phase = existing["status"]?["phase"]?.stringValue, ["Succeeded", "RolledBack", "Aborted", "Failed"].contains(phase)
            {
                throw MeshctlError(
                    .input,
                    "canary \(namespace)/\(name) already ran with this spec (\(phase)); delete it first (meshctl delete canary \(name) -n \(namespace)) to run it again, or change the spec"
                )
            }
            let data = Data(document.canonicalJSON().utf8)
            let response = try await client.apply(ManifestSource(name: "canary", data: data, contentType: "application/json"))
            Console.out(response.results.map { $0.line + "\n" }.joined())
            response.warnings.forEach(Console.warning)
        }
    }
}

/// `meshctl canary status [NAME]`: each canary's phase, weight and last decision; with a name,
/// its decisions too.
struct CanaryStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show canaries: phase, step, weight and the decisions with their reasons.")

    @ParentCommand var root: MeshctlCommand

    @Argument(help: "A canary's name; omit to list.")
    var name: String?

    @Option(name: .shortAndLong, help: "Namespace (default: default).")
    var namespace: String = "default"

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "List across all namespaces.")
    var allNamespaces = false

    @Option(name: .shortAndLong, help: "Output format: table, yaml or json.")
    var output: OutputFormat = .table

    func run() async throws {
        try await AdminClient.withClient(root.global) { client in
            let items: [JSONValue]
            if let name {
                items = [try await client.get(kind: "Canary", namespace: namespace, name: name)]
            } else {
                items = try await client.list(kind: "Canary", namespace: allNamespaces ? nil : namespace)
            }
            switch output {
            case .json: Console.out((name == nil ? JSONValue.object(["items": .array(items)]) : items[0]).prettyJSON() + "\n")
            case .yaml: Console.out(try (name == nil ? JSONValue.object(["items": .array(items)]) : items[0]).yamlDocument())
            case .table:
                if items.isEmpty {
                    Console.err("No canaries found.")
                    return
                }
                Console.out(Self.table(items, namespaces: allNamespaces))
                if name != nil, let canary = items.first { Console.out("\n" + Self.decisions(canary)) }
            }
        }
    }

    /// NAME HOST FROM TO PHASE STEP WEIGHT MESSAGE.
    static func table(_ items: [JSONValue], namespaces: Bool) -> String {
        var table = TextTable(
            header: (namespaces ? ["NAMESPACE"] : []) + ["NAME", "HOST", "FROM", "TO", "PHASE", "STEP", "WEIGHT", "MESSAGE"])
        for item in items {
            let spec = item["spec"]
            let status = item["status"]
            let steps = spec?["steps"]?.arrayValue?.count ?? 0
            // The index shown from 1; meshd writes at most 100 steps, a larger value is shown as sent.
            let step = status?["step"]?.intValue.map { "\($0 < CanarySpec.maximumSteps ? $0 + 1 : $0)/\(steps)" } ?? "-"
            table.append(
                (namespaces ? [item["metadata"]?["namespace"]?.stringValue ?? ""] : []) + [
                    item["metadata"]?["name"]?.stringValue ?? "", spec?["host"]?.stringValue ?? "", spec?["from"]?.stringValue ?? "",
                    spec?["to"]?.stringValue ?? "", status?["phase"]?.stringValue ?? "Pending", step,
                    status?["weight"]?.intValue.map { "\($0)%" } ?? "-", status?["message"]?.stringValue ?? "waiting for meshd to start it",
                ])
        }
        return table.render()
    }

    /// TIME DECISION WEIGHT REASON, oldest first.
    static func decisions(_ canary: JSONValue) -> String {
        var table = TextTable(header: ["TIME", "DECISION", "WEIGHT", "REASON"])
        for decision in canary["status"]?["decisions"]?.arrayValue ?? [] {
            table.append([
                decision["time"]?.stringValue ?? "", decision["decision"]?.stringValue ?? "",
                decision["weight"]?.intValue.map { "\($0)%" } ?? "", decision["reason"]?.stringValue ?? "",
            ])
        }
        return table.render()
    }
}

/// `meshctl canary abort|promote|resume NAME [--dry-run [--proxy ID]]`.
enum CanaryOperationCommand {
    /// Runs `operation` on the canary and prints its status line (with `--dry-run`, what it would
    /// do and which connected proxies it would reach, as `apply --dry-run` prints it).
    static func run(_ operation: String, target: Target, global: GlobalOptions) async throws {
        let preview = target.preview
        try await AdminClient.withClient(global) { client in
            let data = try await client.canaryOperation(
                operation, namespace: target.namespace, name: target.name, dryRun: preview.dryRun, proxy: preview.proxy)
            if preview.output == .json {
                Console.out(try JSONValue.parse(data, what: "canary \(operation)").prettyJSON() + "\n")
            } else if preview.dryRun {
                preview.print(try DryRunAnswer.decode(data))
            } else {
                let answer = try JSONValue.parse(data, what: "canary \(operation)")
                Console.out(CanaryStatusCommand.table([answer["canary"] ?? .null], namespaces: false))
            }
        }
    }

    /// The arguments every operation takes.
    struct Target: ParsableArguments {
        @Argument(help: "The canary's name.") var name: String
        @Option(name: .shortAndLong, help: "Namespace (default: default).") var namespace: String = "default"
        @OptionGroup var preview: DryRunOptions
    }

    struct Abort: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "abort", abstract: "Stop a canary and restore its VirtualService as it was before the canary.")
        @ParentCommand var root: MeshctlCommand
        @OptionGroup var target: Target
        func validate() throws { try target.preview.validate(command: "canary abort") }
        func run() async throws { try await CanaryOperationCommand.run("abort", target: target, global: root.global) }
    }

    struct Promote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "promote", abstract: "Send 100% to the canary's new subset and end it.")
        @ParentCommand var root: MeshctlCommand
        @OptionGroup var target: Target
        func validate() throws { try target.preview.validate(command: "canary promote") }
        func run() async throws { try await CanaryOperationCommand.run("promote", target: target, global: root.global) }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "resume", abstract: "Resume a paused canary at its current step (its weights applied again).")
        @ParentCommand var root: MeshctlCommand
        @OptionGroup var target: Target
        func validate() throws { try target.preview.validate(command: "canary resume") }
        func run() async throws { try await CanaryOperationCommand.run("resume", target: target, global: root.global) }
    }
}
