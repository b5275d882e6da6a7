import ArgumentParser
import Foundation
import MeshModel

/// `meshctl x traffic HOST [--window 30s]`: the traffic each subset of a service actually
/// takes, beside the weight configured, from the Prometheus server meshd reads
/// (`GET /api/v1/traffic`): per source (proxyless clients, the destination workloads, Envoy
/// proxies) the observed share, requests per second, errors and p50/p99 latency.
struct TrafficCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "traffic",
        abstract: "Show the traffic each subset of a service takes, observed by Prometheus, beside the configured weights.",
        discussion: """
            HOST is a service host (reviews.default.svc.cluster.local) or a short name matching \
            every host it begins (reviews). Needs meshd started with --prometheus-url.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The service host, or a short name.")
    var host: String

    @Option(help: "The span rates and quantiles are taken over (5s to 1h).")
    var window: String = "30s"

    @Option(name: .shortAndLong, help: "Output format: table or json.")
    var output: OutputFormat = .table

    func run() async throws {
        let answer = try await AdminClient.withClient(global) { client in
            try await client.traffic(host: host, window: window)
        }
        guard output == .table else {
            Console.out(try (output == .json ? answer.prettyJSON() + "\n" : answer.yamlDocument()))
            return
        }
        Console.out(Self.render(answer))
    }

    /// One table per service: a row per source and subset.
    static func render(_ answer: JSONValue) -> String {
        let window = answer["window"]?.stringValue ?? "?"
        var text = ""
        for service in answer["services"]?.arrayValue ?? [] {
            if !text.isEmpty { text += "\n" }
            text += "\(service["host"]?.stringValue ?? "?") (over \(window), from \(answer["prometheus"]?.stringValue ?? "Prometheus"))\n"
            var table = TextTable(header: ["SOURCE", "SUBSET", "WEIGHT", "OBSERVED", "RPS", "ERRORS", "P50", "P99"])
            var notes: [String] = []
            for source in ["client", "destination", "envoy"] {
                let reading = service["sources"]?[source]
                let rows = reading?["rows"]?.arrayValue ?? []
                if rows.isEmpty {
                    table.append([source, "-", "-", "no traffic seen", "-", "-", "-", "-"])
                }
                for row in rows {
                    let subset = row["subset"]?.stringValue ?? ""
                    table.append([
                        source, subset.isEmpty ? "(none)" : subset,
                        row["weight"]?.doubleValue.map { "\(Int($0))%" } ?? "-",
                        percent(row["sharePercent"]), decimal(row["requestsPerSecond"], places: 1),
                        percent(row["errorPercent"]), milliseconds(row["p50Ms"]), milliseconds(row["p99Ms"]),
                    ])
                }
                if let note = reading?["note"]?.stringValue { notes.append("\(source): \(note)") }
            }
            text += table.render()
            for note in notes { text += "Note: \(note)\n" }
        }
        return text.isEmpty ? "No service matches.\n" : text
    }

    static func percent(_ value: JSONValue?) -> String {
        guard let number = value?.doubleValue else { return "-" }
        return String(format: "%.1f%%", number)
    }

    static func decimal(_ value: JSONValue?, places: Int) -> String {
        guard let number = value?.doubleValue else { return "-" }
        return String(format: "%.\(places)f", number)
    }

    static func milliseconds(_ value: JSONValue?) -> String {
        guard let number = value?.doubleValue else { return "-" }
        return number < 10 ? String(format: "%.2fms", number) : String(format: "%.0fms", number)
    }
}
