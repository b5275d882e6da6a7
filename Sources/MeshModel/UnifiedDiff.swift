/// A line diff in the unified format (`diff -u`, `git diff`): what meshd's config history
/// shows between two revisions. Pure.
public enum UnifiedDiff {
    /// One line of an edit script.
    enum Edit: Equatable {
        case same(String), removed(String), added(String)
    }

    /// Most cells of the LCS table for the part that differs; beyond it the part is shown as
    /// wholly replaced (still a correct diff, only not a minimal one), so memory stays bounded.
    static let maxCells = 4_000_000

    /// The unified diff of `old` to `new` (texts split on newlines), with `context` lines around
    /// each change, under `--- oldName` / `+++ newName` headers; "" when they are equal.
    public static func render(old: String, new: String, oldName: String, newName: String, context: Int = 3) -> String {
        let a = lines(old)
        let b = lines(new)
        let edits = script(a, b)
        guard edits.contains(where: { if case .same = $0 { false } else { true } }) else { return "" }
        var text = "--- \(oldName)\n+++ \(newName)\n"
        for hunk in hunks(edits, context: max(0, context)) { text += hunk }
        return text
    }

    static func lines(_ text: String) -> [String] {
        guard !text.isEmpty else { return [] }
        var parts = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if parts.last == "" { parts.removeLast() }
        return parts
    }

    /// A shortest edit script from `a` to `b`: common prefix and suffix, then an LCS table.
    static func script(_ a: [String], _ b: [String]) -> [Edit] {
        var prefix = 0
        while prefix < a.count, prefix < b.count, a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < a.count - prefix, suffix < b.count - prefix, a[a.count - 1 - suffix] == b[b.count - 1 - suffix] { suffix += 1 }
        let x = Array(a[prefix..<(a.count - suffix)])
        let y = Array(b[prefix..<(b.count - suffix)])
        var middle: [Edit] = []
        if x.count * y.count > maxCells || x.isEmpty || y.isEmpty {
            middle = x.map(Edit.removed) + y.map(Edit.added)
        } else {
            // lcs[i][j]: length of the LCS of x[i...] and y[j...].
            let width = y.count + 1
            var lcs = [Int32](repeating: 0, count: (x.count + 1) * width)
            for i in stride(from: x.count - 1, through: 0, by: -1) {
                for j in stride(from: y.count - 1, through: 0, by: -1) {
                    lcs[i * width + j] =
                        x[i] == y[j]
                        ? lcs[(i + 1) * width + j + 1] + 1
                        : max(lcs[(i + 1) * width + j], lcs[i * width + j + 1])
                }
            }
            var i = 0
            var j = 0
            while i < x.count, j < y.count {
                if x[i] == y[j] {
                    middle.append(.same(x[i]))
                    i += 1
                    j += 1
                } else if lcs[(i + 1) * width + j] >= lcs[i * width + j + 1] {
                    middle.append(.removed(x[i]))
                    i += 1
                } else {
                    middle.append(.added(y[j]))
                    j += 1
                }
            }
            middle += x[i...].map(Edit.removed) + y[j...].map(Edit.added)
        }
        return a[..<prefix].map(Edit.same) + middle + a[(a.count - suffix)...].map(Edit.same)
    }

    /// The hunks of `edits`: runs of changes with `context` lines around, joined when close.
    static func hunks(_ edits: [Edit], context: Int) -> [String] {
        let changed = edits.indices.filter { if case .same = edits[$0] { false } else { true } }
        var ranges: [ClosedRange<Int>] = []
        for index in changed {
            let range = max(0, index - context)...min(edits.count - 1, index + context)
            if let last = ranges.last, range.lowerBound <= last.upperBound + 1 {
                ranges[ranges.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                ranges.append(range)
            }
        }
        // Line numbers before each edit, in the old and the new text.
        var oldLine: [Int] = []
        var newLine: [Int] = []
        var o = 1
        var n = 1
        for edit in edits {
            oldLine.append(o)
            newLine.append(n)
            switch edit {
            case .same:
                o += 1
                n += 1
            case .removed: o += 1
            case .added: n += 1
            }
        }
        return ranges.map { range in
            var body = ""
            var oldCount = 0
            var newCount = 0
            for edit in edits[range] {
                switch edit {
                case .same(let line):
                    body += " \(line)\n"
                    oldCount += 1
                    newCount += 1
                case .removed(let line):
                    body += "-\(line)\n"
                    oldCount += 1
                case .added(let line):
                    body += "+\(line)\n"
                    newCount += 1
                }
            }
            // An empty side is numbered by the line before it, as diff -u does.
            let oldStart = oldCount == 0 ? oldLine[range.lowerBound] - 1 : oldLine[range.lowerBound]
            let newStart = newCount == 0 ? newLine[range.lowerBound] - 1 : newLine[range.lowerBound]
            return "@@ -\(oldStart),\(oldCount) +\(newStart),\(newCount) @@\n" + body
        }
    }
}
