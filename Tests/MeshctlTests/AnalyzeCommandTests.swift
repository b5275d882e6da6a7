import Foundation
import MeshModel
import Testing

@testable import meshctl

/// `meshctl analyze`'s local parts: istioctl's line, the namespace it asks for, levels, and
/// several files sent as one body.
@Suite struct AnalyzeCommandTests {
    @Test func printsIstioctlsLineWithTheField() {
        let message = JSONValue.object([
            "code": .string("IST0101"), "level": .string("Error"), "resource": .string("VirtualService default/reviews"),
            "field": .string("spec.http[0].route[0].destination.host"), "message": .string("Referenced host not found: \"x\""),
        ])
        #expect(
            AnalyzeCommand.line(message)
                == "Error [IST0101] (VirtualService default/reviews) spec.http[0].route[0].destination.host: Referenced host not found: \"x\"")
    }

    @Test(arguments: [
        (["analyze"], "default" as String?),
        (["analyze", "-n", "prod"], "prod"),
        (["analyze", "-A"], nil),
        (["analyze", "-f", "x.yaml"], nil),
        (["analyze", "-f", "x.yaml", "-n", "prod"], "prod"),
    ])
    func namespaceAskedFor(_ arguments: [String], _ expected: String?) throws {
        let parsed = try MeshctlCommand.parseAsRoot(arguments)
        let command = try #require(parsed as? AnalyzeCommand)
        #expect(command.selectedNamespace == expected)
    }

    @Test func namespaceAndAllNamespacesExcludeEachOther() {
        #expect(throws: (any Error).self) { try MeshctlCommand.parseAsRoot(["analyze", "-A", "-n", "x"]) }
    }

    @Test func levelsOrderAndParseCaseInsensitively() {
        #expect(AnalyzeCommand.Level(argument: "warning") == .warning)
        #expect(AnalyzeCommand.Level(argument: "ERROR") == .error)
        #expect(AnalyzeCommand.Level(argument: "fatal") == nil)
        #expect(AnalyzeCommand.Level.info < .warning && AnalyzeCommand.Level.warning < .error)
        #expect(!(AnalyzeCommand.Level.error < .warning))
    }

    @Test func severalFilesBecomeOneYAMLStream() throws {
        let a = ManifestSource(name: "a.yaml", data: Data("kind: A\n".utf8), contentType: "application/yaml")
        let b = ManifestSource(name: "b.json", data: Data("{\"kind\": \"B\"}".utf8), contentType: "application/json")
        let combined = try AnalyzeCommand.combine([a, b])
        #expect(String(decoding: combined.data, as: UTF8.self) == "kind: A\n\n---\n{\"kind\": \"B\"}")
        #expect(combined.contentType == "application/yaml")
        #expect(try AnalyzeCommand.combine([b]).contentType == "application/json")
    }
}
