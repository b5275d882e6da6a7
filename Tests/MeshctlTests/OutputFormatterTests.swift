import Foundation
import MeshModel
import Testing

@testable import meshctl

/// `meshctl get`'s table: kubectl's columns for the kind, REVISION, AGE, and NAMESPACE across
/// namespaces only.
@Suite struct OutputFormatterTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func resource(_ kind: String, _ name: String, spec: String, created: Date? = now.addingTimeInterval(-90)) throws -> JSONValue {
        let stamp = created.map { #", "creationTimestamp": "\#($0.formatted(.iso8601))""# } ?? ""
        return try JSONValue.parse(
            json:
                #"{"apiVersion": "networking.istio.io/v1", "kind": "\#(kind)", "metadata": {"name": "\#(name)", "namespace": "default", "resourceVersion": "7"\#(stamp)}, "spec": \#(spec)}"#
        )
    }

    static func cells(_ line: Substring) -> [Substring] { line.split(separator: " ", omittingEmptySubsequences: true) }

    @Test func virtualServicesShowGatewaysHostsRevisionAndAge() throws {
        var formatter = OutputFormatter(format: .table)
        formatter.showNamespace = false
        formatter.now = Self.now
        let text = try formatter.render(list: [
            try Self.resource("VirtualService", "reviews", spec: #"{"hosts": ["reviews"], "gateways": ["mesh"]}"#),
            try Self.resource("VirtualService", "old", spec: #"{"hosts": ["a", "b"]}"#, created: nil),
        ])
        let lines = text.split(separator: "\n")
        #expect(Self.cells(lines[0]) == ["NAME", "GATEWAYS", "HOSTS", "REVISION", "AGE"])
        #expect(Self.cells(lines[1]) == ["reviews", #"["mesh"]"#, #"["reviews"]"#, "7", "90s"])
        // No gateways: the cell is empty, as kubectl leaves it; a pruned creation record: <unknown>.
        #expect(Self.cells(lines[2]) == ["old", #"["a","b"]"#, "7", "<unknown>"])
        #expect(lines[2].hasPrefix("old       " + String(repeating: " ", count: #"["mesh"]"#.count)))
    }

    @Test func acrossNamespacesTheNamespaceComesFirst() throws {
        var formatter = OutputFormatter(format: .table)
        formatter.now = Self.now
        let text = try formatter.render(resource: try Self.resource("DestinationRule", "reviews", spec: #"{"host": "reviews"}"#))
        let lines = text.split(separator: "\n")
        #expect(Self.cells(lines[0]) == ["NAMESPACE", "NAME", "HOST", "REVISION", "AGE"])
        #expect(Self.cells(lines[1]) == ["default", "reviews", "reviews", "7", "90s"])
    }

    @Test func kindsWithoutColumnsShowNameRevisionAndAge() throws {
        var formatter = OutputFormatter(format: .table)
        formatter.showNamespace = false
        formatter.now = Self.now
        let text = try formatter.render(list: [try Self.resource("Gateway", "ingress", spec: "{}")])
        #expect(Self.cells(text.split(separator: "\n")[0]) == ["NAME", "REVISION", "AGE"])
    }
}
