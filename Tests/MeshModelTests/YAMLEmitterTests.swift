import Testing
import Yams

@testable import MeshModel

/// The emitter's shortcut for strings agrees with Yams's resolver: the same text, and every
/// string reads back as itself.
struct YAMLEmitterTests {
    static let strings = [
        "reviews", "docker.io/istio/examples-bookinfo-reviews-v1:1.20.2", "yes", "Yes", "NO", "no", "null", "Null", "on", "OFF",
        "y", "n", "true1", "nullable", "a: b", "a #b", "x y", "1.0", "0x1F", "1_000", "190:20:30", "~", "", "2026-12-07", ".inf",
        ".NaN", "<<", "=", "key\nline", "é", "-", "- a", "! tag", "&anchor", "*alias", "@x", "`x", "%x", "[x]", "{x}", "Z", "e1",
        "E5", "Infinity", "NaN", "True ", " true", "/var/run/secrets/istio", "/", "_x", "/a: b", "/#x", "_ #",
    ]

    @Test(arguments: strings)
    func aStringReadsBackAsItselfAndPrintsAsYamsWouldPrintIt(_ text: String) throws {
        let emitted = try JSONValue.object(["k": .string(text)]).yamlDocument()
        #expect(try ConfigDocumentParser.plainDocuments(emitted) == [.object(["k": .string(text)])], "\(emitted)")
        var reference = text.represented()
        if text.contains("\n") && reference.style == .any { reference.style = .literal }
        let expected = try Yams.serialize(node: Node([(Node("k"), Node.scalar(reference))], Tag(.map)), width: -1, allowUnicode: true)
        #expect(emitted == expected)
    }

    @Test func theShortcutTakesOnlyLetterInitialNonKeywords() {
        #expect(YAMLEmitter.startsPlainString("reviews"))
        #expect(!YAMLEmitter.startsPlainString("yes"))
        #expect(!YAMLEmitter.startsPlainString("1abc"))
        #expect(!YAMLEmitter.startsPlainString(""))
        #expect(!YAMLEmitter.startsPlainString(".inf"))
    }
}
