import ArgumentParser
import Foundation
import MeshModel

/// `meshctl analyze [-n NS | -A] [-f FILE ...] [-o log|json|yaml]`: meshd's cross-resource
/// checks, printed as istioctl analyze prints them, with its exit code when issues are found.
struct AnalyzeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Find problems across resources (istioctl analyze's codes).",
        discussion: """
            Analyzes the configuration stored in meshd; with -f, the files' resources are analyzed \
            on top of it without being written. Only messages about resources in the namespace are \
            shown: 'default' unless -n or -A is given (with -f and no -n: all namespaces). Exits \
            \(AnalyzeCommand.issuesExitCode), as istioctl does, when a message is at least as severe \
            as --failure-threshold (log output only). Codes: docs/analyze.md.
            """)

    /// istioctl's `ExitAnalyzerFoundIssues`: issues found, for CI/CD (not a meshctl failure).
    static let issuesExitCode: Int32 = 79

    /// Message levels, least severe first, with istioctl's names.
    enum Level: String, CaseIterable, ExpressibleByArgument, Comparable {
        case info = "Info", warning = "Warning", error = "Error"

        init?(argument: String) {
            guard let level = Self.allCases.first(where: { $0.rawValue.lowercased() == argument.lowercased() }) else { return nil }
            self = level
        }

        /// In declaration order: Info < Warning < Error.
        static func < (a: Level, b: Level) -> Bool {
            (allCases.firstIndex(of: a) ?? 0) < (allCases.firstIndex(of: b) ?? 0)
        }
    }

    /// istioctl's output formats.
    enum Format: String, CaseIterable, ExpressibleByArgument {
        case log, json, yaml
    }

    @ParentCommand var root: MeshctlCommand

    @Option(name: .shortAndLong, help: "Namespace whose resources' messages to show (default: default).")
    var namespace: String?

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "Show messages of every namespace.")
    var allNamespaces = false

    @Option(
        name: .shortAndLong,
        help: ArgumentHelp("File, directory or '-' to analyze on top of the stored configuration (repeatable).", valueName: "file"))
    var filename: [String] = []

    @Option(name: .shortAndLong, help: "Output format: log, json or yaml.")
    var output: Format = .log

    @Option(help: "The least severe level that makes the exit code \(AnalyzeCommand.issuesExitCode): Info, Warning or Error.")
    var failureThreshold: Level = .error

    @Option(help: "The least severe level printed: Info, Warning or Error.")
    var outputThreshold: Level = .info

    func validate() throws {
        if allNamespaces && namespace != nil {
            throw ValidationError("--namespace and --all-namespaces cannot be used together")
        }
    }

    /// The namespace to filter on, nil for all.
    var selectedNamespace: String? {
        if allNamespaces { return nil }
        if let namespace { return namespace }
        return filename.isEmpty ? GetCommand.defaultNamespace : nil
    }

    func run() async throws {
        let documents = filename.isEmpty ? nil : try Self.combine(try ManifestSource.load(filename))
        let answer = try await AdminClient.withClient(root.global) { client in
            try await client.analyze(namespace: selectedNamespace, documents: documents)
        }
        guard let all = answer["messages"]?.arrayValue else {
            throw MeshctlError(.badResponse, "analyze response has no \"messages\" array")
        }
        let messages = all.filter { (Level(argument: $0["level"]?.stringValue ?? "") ?? .error) >= outputThreshold }
        switch output {
        case .json: Console.out(JSONValue.array(messages).prettyJSON() + "\n")
        case .yaml: Console.out(try JSONValue.array(messages).yamlDocument())
        case .log: Console.out(messages.map { Self.line($0) + "\n" }.joined())
        }
        if messages.isEmpty {
            Console.err("\u{2714} No validation issues found when analyzing \(target).")
        }
        // As istioctl: the exit code follows every message (not only those printed), in log output.
        let failing = all.contains { (Level(argument: $0["level"]?.stringValue ?? "") ?? .error) >= failureThreshold }
        if output == .log && failing {
            Console.error("Analyzers found issues when analyzing \(target).\nSee docs/analyze.md for more information about causes and resolutions.")
            throw ExitCode(Self.issuesExitCode)
        }
    }

    /// What was analyzed, in istioctl's words.
    private var target: String {
        if !filename.isEmpty { return filename.joined(separator: ", ") }
        return selectedNamespace.map { "namespace: \($0)" } ?? "all namespaces"
    }

    /// istioctl's log line: `Error [IST0101] (VirtualService default/reviews) message`, with the field.
    static func line(_ message: JSONValue) -> String {
        let level = message["level"]?.stringValue ?? "?"
        let code = message["code"]?.stringValue ?? "?"
        let resource = message["resource"]?.stringValue ?? "?"
        let field = message["field"]?.stringValue.map { " \($0):" } ?? ""
        return "\(level) [\(code)] (\(resource))\(field) \(message["message"]?.stringValue ?? "")"
    }

    /// The files as one request body: YAML documents (JSON is YAML) separated by `---`.
    static func combine(_ sources: [ManifestSource]) throws -> ManifestSource {
        if sources.count == 1 { return sources[0] }
        var data = Data()
        for source in sources {
            if !data.isEmpty { data.append(Data("\n---\n".utf8)) }
            data.append(source.data)
        }
        return ManifestSource(name: sources.map(\.name).joined(separator: ", "), data: data, contentType: "application/yaml")
    }
}
