import Testing

@testable import MeshModel

/// `metadata.resourceVersion` as apply reads it, and the unified diff history shows.
@Suite struct ResourceVersionAndDiffTests {
    static func document(_ version: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: reviews
          \(version)
        spec: {hosts: [reviews]}
        """
    }

    @Test func readsDecimalStringsAndIntegersAndTreatsEmptyAsUnset() throws {
        #expect(try ConfigDocumentParser.parseDocuments(Self.document("resourceVersion: \"42\""))[0].resourceVersion == 42)
        #expect(try ConfigDocumentParser.parseDocuments(Self.document("resourceVersion: 42"))[0].resourceVersion == 42)
        #expect(try ConfigDocumentParser.parseDocuments(Self.document("resourceVersion: \"\""))[0].resourceVersion == nil)
        #expect(try ConfigDocumentParser.parseDocuments(Self.document("resourceVersion: null"))[0].resourceVersion == nil)
        #expect(try ConfigDocumentParser.parseDocuments(Self.document("labels: {a: b}"))[0].resourceVersion == nil)
        // The resource itself is the same with or without a version: re-applying is unchanged.
        #expect(try ConfigDocumentParser.parse(Self.document("resourceVersion: \"42\"")) == ConfigDocumentParser.parse(Self.document("labels: {}")))
    }

    @Test(arguments: ["\"abc\"", "\"-1\"", "\"0\"", "0", "-3", "1.5", "true", "[1]", "\"1e3\"", "\"99999999999999999999\""])
    func anythingElseIsInvalidNamingTheField(_ value: String) {
        do throws(MeshModelError) {
            _ = try ConfigDocumentParser.parseDocuments(Self.document("resourceVersion: \(value)"))
            Issue.record("\(value) was accepted")
        } catch {
            #expect(error.code == .invalid)
            #expect(error.field == "metadata.resourceVersion")
            #expect(error.resource == "VirtualService default/reviews")
        }
    }

    @Test func unifiedDiffShowsTheChangedLinesWithContext() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n"
        let new = "a\nb\nc\nD\ne\nf\ng\nh\ni\n"
        let diff = UnifiedDiff.render(old: old, new: new, oldName: "a/x.yaml", newName: "b/x.yaml", context: 1)
        #expect(
            diff == """
                --- a/x.yaml
                +++ b/x.yaml
                @@ -3,3 +3,3 @@
                 c
                -d
                +D
                 e
                @@ -8,1 +8,2 @@
                 h
                +i

                """)
        #expect(UnifiedDiff.render(old: old, new: old, oldName: "a", newName: "b").isEmpty)
    }

    @Test func unifiedDiffOfACreationAndADeletion() {
        #expect(
            UnifiedDiff.render(old: "", new: "x\ny\n", oldName: "/dev/null", newName: "b/n") == "--- /dev/null\n+++ b/n\n@@ -0,0 +1,2 @@\n+x\n+y\n")
        #expect(UnifiedDiff.render(old: "x\n", new: "", oldName: "a/n", newName: "/dev/null") == "--- a/n\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-x\n")
    }

    @Test func unifiedDiffIsMinimalOnInterleavedChanges() {
        let diff = UnifiedDiff.script(["x", "a", "y", "b", "z"], ["a", "q", "b", "z", "w"])
        let kept = diff.filter { if case .same = $0 { true } else { false } }
        #expect(kept == [.same("a"), .same("b"), .same("z")])
    }

    @Test func yamlKeepsNumericStringsQuotedAndWholeNumbersIntegral() throws {
        let value: JSONValue = .object(["version": .string("42"), "weight": .number(50), "ratio": .number(0.5), "flag": .string("true")])
        let yaml = try value.yamlDocument()
        #expect(yaml.hasPrefix("flag: ") && yaml.contains("\nratio: 0.5\n") && yaml.hasSuffix("\nweight: 50\n"))
        #expect(try YAMLConverter.documents(in: yaml) == [value])
    }
}
