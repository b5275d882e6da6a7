import MeshModel
import Testing

/// The line diff operators read: diff -u's format, minimal within the table bound, correct past it.
@Suite struct UnifiedDiffTests {
    static func text(_ lines: [String]) -> String { lines.map { $0 + "\n" }.joined() }

    /// The two texts an edit script stands for.
    static func sides(_ edits: [UnifiedDiff.Edit]) -> (old: [String], new: [String]) {
        var old: [String] = [], new: [String] = []
        for edit in edits {
            switch edit {
            case .same(let line): old.append(line); new.append(line)
            case .removed(let line): old.append(line)
            case .added(let line): new.append(line)
            }
        }
        return (old, new)
    }

    @Test func equalTextsHaveNoDiff() {
        #expect(UnifiedDiff.diff("a\nb\n", "a\nb\n", fromFile: "a/x", toFile: "b/x") == "")
    }

    @Test func oneChangedLineIsOneHunkWithThreeLinesOfContext() {
        let old = (1...10).map { "line \($0)" }
        var new = old
        new[4] = "line five"
        let diff = UnifiedDiff.diff(Self.text(old), Self.text(new), fromFile: "a/Cluster/x", toFile: "b/Cluster/x")
        #expect(diff == """
            --- a/Cluster/x
            +++ b/Cluster/x
            @@ -2,7 +2,7 @@
             line 2
             line 3
             line 4
            -line 5
            +line five
             line 6
             line 7
             line 8

            """)
    }

    @Test func aCreatedFileIsAllAdditionsFromLineZero() {
        #expect(UnifiedDiff.diff("", "a\nb\n", fromFile: "/dev/null", toFile: "b/x") == "--- /dev/null\n+++ b/x\n@@ -0,0 +1,2 @@\n+a\n+b\n")
        #expect(UnifiedDiff.diff("a\n", "", fromFile: "a/x", toFile: "/dev/null") == "--- a/x\n+++ /dev/null\n@@ -1 +0,0 @@\n-a\n")
    }

    @Test func distantChangesAreSeparateHunksAndNearOnesShareOne() {
        let old = (1...30).map { "l\($0)" }
        var far = old
        far[2] = "x"
        far[25] = "y"
        let farDiff = UnifiedDiff.diff(Self.text(old), Self.text(far), fromFile: "a", toFile: "b")
        #expect(farDiff.components(separatedBy: "@@ -").count == 3 && farDiff.contains("@@ -1,6 +1,6 @@")
                && farDiff.contains("@@ -23,7 +23,7 @@"))
        var near = old
        near[10] = "x"
        near[16] = "y"
        let nearDiff = UnifiedDiff.diff(Self.text(old), Self.text(near), fromFile: "a", toFile: "b")
        #expect(nearDiff.contains("@@ -8,13 +8,13 @@") && nearDiff.components(separatedBy: "@@ -").count == 2)
    }

    @Test func theEditScriptIsMinimalAndReproducesBothTexts() {
        let old = ["a", "b", "c", "d", "e", "f"]
        let new = ["a", "c", "d", "x", "e", "f", "g"]
        let edits = UnifiedDiff.edits(old: old, new: new)
        #expect(Self.sides(edits).old == old && Self.sides(edits).new == new)
        #expect(edits.filter { if case .same = $0 { true } else { false } }.count == 5, "the LCS a c d e f is kept")
    }

    @Test func pastTheTableBoundTheDiffIsStillCorrect() {
        let count = 2_100  // 2,100² cells > maxTableCells
        let old = (0..<count).map { "o\($0 % 7)" }
        let new = (0..<count).map { "n\($0 % 5)" } + ["o1"]
        let edits = UnifiedDiff.edits(old: ["head"] + old + ["tail"], new: ["head"] + new + ["tail"])
        #expect(Self.sides(edits).old == ["head"] + old + ["tail"])
        #expect(Self.sides(edits).new == ["head"] + new + ["tail"])
    }

    @Test func canonicalJSONOverSeveralLinesSortsKeysAndPutsOneValuePerLine() throws {
        let value = try JSONValue.parse(json: #"{"b": [1, 2.5, "x"], "a": {}, "c": {"z": null, "y": []}}"#)
        #expect(value.canonicalJSON(indent: 2) == """
            {
              "a": {},
              "b": [
                1,
                2.5,
                "x"
              ],
              "c": {
                "y": [],
                "z": null
              }
            }
            """)
    }
}
