/// A line diff in the unified format `diff -u` and `git diff` print, for operators reading what
/// a change does (a dry run's per-proxy xDS diff). Pure.
///
/// The same API and output as the history branch's `UnifiedDiff` (config history's YAML diffs):
/// the two are one concept, to be kept once at merge.
///
/// Bounded: common leading and trailing lines are matched first (changes are usually small
/// edits in long texts), and the rest by a longest-common-subsequence table only while that
/// table stays under `maxTableCells`; past it the middle is shown as removed then added — still
/// a correct diff, just not a minimal one — so a huge input costs linear time, not a quadratic
/// table.
public enum UnifiedDiff {
    /// One line of an edit script.
    enum Edit: Sendable, Hashable {
        /// In both texts.
        case same(String)
        /// Only in the old text.
        case removed(String)
        /// Only in the new text.
        case added(String)
    }

    /// The largest LCS table (old lines × new lines, after trimming common ends) computed.
    static let maxTableCells = 4_000_000

    /// The unified diff from `old` to `new`, headed `--- oldName` / `+++ newName`, with
    /// `context` unchanged lines around each change; empty when the texts are equal.
    /// Texts are split on `\n`; a final newline does not make an extra empty line.
    public static func render(old: String, new: String, oldName: String, newName: String, context: Int = 3) -> String {
        let edits = edits(old: lines(old), new: lines(new))
        guard edits.contains(where: { if case .same = $0 { false } else { true } }) else { return "" }
        var out = "--- \(oldName)\n+++ \(newName)\n"
        for hunk in hunks(edits, context: max(0, context)) { out += hunk }
        return out
    }

    /// The lines of `text` (split on `\n`, no empty last line for a final newline).
    static func lines(_ text: String) -> [String] {
        var result = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if result.last == "" { result.removeLast() }
        return result
    }

    /// An edit script turning `old` into `new`: removals before additions within a change.
    static func edits(old: [String], new: [String]) -> [Edit] {
        var prefix = 0
        while prefix < old.count, prefix < new.count, old[prefix] == new[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < old.count - prefix, suffix < new.count - prefix,
              old[old.count - 1 - suffix] == new[new.count - 1 - suffix] { suffix += 1 }
        let a = old[prefix..<(old.count - suffix)]
        let b = new[prefix..<(new.count - suffix)]
        var edits = old[..<prefix].map(Edit.same)
        edits += middle(Array(a), Array(b))
        edits += old[(old.count - suffix)...].map(Edit.same)
        return edits
    }

    /// The edits between two texts with no common first or last line.
    private static func middle(_ a: [String], _ b: [String]) -> [Edit] {
        guard !a.isEmpty, !b.isEmpty, a.count.multipliedReportingOverflow(by: b.count).partialValue <= maxTableCells,
              a.count <= maxTableCells, b.count <= maxTableCells else {
            return a.map(Edit.removed) + b.map(Edit.added)
        }
        // lcs[i][j] = length of the LCS of a[i...] and b[j...], flattened row by row.
        let width = b.count + 1
        var lcs = [Int32](repeating: 0, count: (a.count + 1) * width)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                lcs[i * width + j] = a[i] == b[j]
                    ? lcs[(i + 1) * width + j + 1] + 1
                    : max(lcs[(i + 1) * width + j], lcs[i * width + j + 1])
            }
        }
        var edits: [Edit] = []
        var added: [Edit] = []
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, a[i] == b[j] {
                edits += added
                added = []
                edits.append(.same(a[i]))
                i += 1
                j += 1
            } else if j < b.count, i == a.count || lcs[i * width + j + 1] >= lcs[(i + 1) * width + j] {
                // Held back so that a change reads as its removals, then its additions.
                added.append(.added(b[j]))
                j += 1
            } else {
                edits.append(.removed(a[i]))
                i += 1
            }
        }
        return edits + added
    }

    /// The `@@` hunks of an edit script with `context` lines around each change.
    private static func hunks(_ edits: [Edit], context: Int) -> [String] {
        let changed = edits.indices.filter { if case .same = edits[$0] { false } else { true } }
        guard var start = changed.first else { return [] }
        var ranges: [Range<Int>] = []
        var end = start
        for index in changed.dropFirst() {
            // Hunks whose context would touch or overlap are one hunk, as diff -u makes them.
            if index - end > 2 * context + 1 {
                ranges.append(max(0, start - context)..<min(edits.count, end + context + 1))
                start = index
            }
            end = index
        }
        ranges.append(max(0, start - context)..<min(edits.count, end + context + 1))

        var result: [String] = []
        // Line numbers (0-based) in each text where the edit script's index 0 starts.
        var oldLine = 0, newLine = 0, position = 0
        for range in ranges {
            while position < range.lowerBound {
                if case .removed = edits[position] { oldLine += 1 } else if case .added = edits[position] { newLine += 1 } else {
                    oldLine += 1
                    newLine += 1
                }
                position += 1
            }
            var body = ""
            var oldCount = 0, newCount = 0
            for edit in edits[range] {
                switch edit {
                case .same(let line): body += " \(line)\n"; oldCount += 1; newCount += 1
                case .removed(let line): body += "-\(line)\n"; oldCount += 1
                case .added(let line): body += "+\(line)\n"; newCount += 1
                }
            }
            result.append("@@ -\(span(oldLine, oldCount)) +\(span(newLine, newCount)) @@\n" + body)
            oldLine += oldCount
            newLine += newCount
            position = range.upperBound
        }
        return result
    }

    /// `START,COUNT`: 1-based start, or the line before for an empty span, as diff -u numbers it.
    private static func span(_ start: Int, _ count: Int) -> String {
        count == 0 ? "\(start),0" : "\(start + 1),\(count)"
    }
}
