import MeshModel
import Testing

/// The line diff operators read: diff -u's format, minimal within the table bound, correct past
/// it. Only `render` is used, so the suite holds for either branch's copy of `UnifiedDiff`.
@Suite struct UnifiedDiffTests {
    static func text(_ lines: [String]) -> String { lines.map { $0 + "\n" }.joined() }

    /// The two texts a one-hunk diff (rendered with context covering everything) stands for,
    /// and how many lines it kept.
    static func sides(_ diff: String) -> (old: [String], new: [String], kept: Int) {
        var old: [String] = []
        var new: [String] = []
        var kept = 0
        for line in diff.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(3) where !line.isEmpty {
            let text = String(line.dropFirst())
            switch line.first {
            case " ":
                old.append(text)
                new.append(text)
                kept += 1
            case "-": old.append(text)
            case "+": new.append(text)
            default: break
            }
        }
        return (old, new, kept)
    }

    @Test func equalTextsHaveNoDiff() {
        #expect(UnifiedDiff.render(old: "a\nb\n", new: "a\nb\n", oldName: "a/x", newName: "b/x") == "")
    }

    @Test func oneChangedLineIsOneHunkWithThreeLinesOfContext() {
        let old = (1...10).map { "line \($0)" }
        var new = old
        new[4] = "line five"
        let diff = UnifiedDiff.render(old: Self.text(old), new: Self.text(new), oldName: "a/Cluster/x", newName: "b/Cluster/x")
        #expect(
            diff == """
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
        #expect(
            UnifiedDiff.render(old: "", new: "a\nb\n", oldName: "/dev/null", newName: "b/x")
                == "--- /dev/null\n+++ b/x\n@@ -0,0 +1,2 @@\n+a\n+b\n")
        #expect(
            UnifiedDiff.render(old: "a\nb\n", new: "", oldName: "a/x", newName: "/dev/null")
                == "--- a/x\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-a\n-b\n")
    }

    @Test func distantChangesAreSeparateHunksAndNearOnesShareOne() {
        let old = (1...30).map { "l\($0)" }
        var far = old
        far[2] = "x"
        far[25] = "y"
        let farDiff = UnifiedDiff.render(old: Self.text(old), new: Self.text(far), oldName: "a", newName: "b")
        #expect(
            farDiff.components(separatedBy: "@@ -").count == 3 && farDiff.contains("@@ -1,6 +1,6 @@")
                && farDiff.contains("@@ -23,7 +23,7 @@"))
        var near = old
        near[10] = "x"
        near[16] = "y"
        let nearDiff = UnifiedDiff.render(old: Self.text(old), new: Self.text(near), oldName: "a", newName: "b")
        #expect(nearDiff.contains("@@ -8,13 +8,13 @@") && nearDiff.components(separatedBy: "@@ -").count == 2)
        // Six unchanged lines between: both hunks' context covers them, so they touch and join.
        var touching = old
        touching[10] = "x"
        touching[17] = "y"
        let touchingDiff = UnifiedDiff.render(old: Self.text(old), new: Self.text(touching), oldName: "a", newName: "b")
        #expect(touchingDiff.contains("@@ -8,14 +8,14 @@") && touchingDiff.components(separatedBy: "@@ -").count == 2)
    }

    @Test func theDiffIsMinimalAndReproducesBothTexts() {
        let old = ["a", "b", "c", "d", "e", "f"]
        let new = ["a", "c", "d", "x", "e", "f", "g"]
        let sides = Self.sides(UnifiedDiff.render(old: Self.text(old), new: Self.text(new), oldName: "a", newName: "b", context: 100))
        #expect(sides.old == old && sides.new == new)
        #expect(sides.kept == 5, "the LCS a c d e f is kept")
    }

    @Test func pastTheTableBoundTheDiffIsStillCorrect() {
        let count = 2_100  // 2,100² cells > the table bound
        let old = ["head"] + (0..<count).map { "o\($0 % 7)" } + ["tail"]
        let new = ["head"] + (0..<count).map { "n\($0 % 5)" } + ["o1", "tail"]
        let sides = Self.sides(
            UnifiedDiff.render(
                old: Self.text(old), new: Self.text(new), oldName: "a", newName: "b",
                context: 10_000))
        #expect(sides.old == old && sides.new == new)
    }

    @Test func canonicalJSONOverSeveralLinesSortsKeysAndPutsOneValuePerLine() throws {
        let value = try JSONValue.parse(json: #"{"b": [1, 2.5, "x"], "a": {}, "c": {"z": null, "y": []}}"#)
        #expect(
            value.canonicalJSON(indent: 2) == """
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
