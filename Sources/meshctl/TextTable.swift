/// A plain-text table with left-aligned columns, as kubectl and istioctl print them.
///
/// Columns are separated by three spaces and the last column is not padded, so lines carry no
/// trailing whitespace and `awk '{print $2}'` works as it does on kubectl's output.
struct TextTable: Sendable {
    /// Column titles, printed upper-case as given.
    let header: [String]
    /// Cells, one array per row; a short row is padded with empty cells.
    private(set) var rows: [[String]] = []

    init(header: [String]) {
        self.header = header
    }

    /// Adds a row; newlines in cells become spaces so one row stays one line.
    mutating func append(_ row: [String]) {
        rows.append(row.map { $0.split(whereSeparator: \.isNewline).joined(separator: " ") })
    }

    /// The table as text, one line per row after the header, ending with a newline.
    func render() -> String {
        let all = [header] + rows
        let count = all.map(\.count).max() ?? 0
        var widths = Array(repeating: 0, count: count)
        for row in all {
            for (column, cell) in row.enumerated() {
                widths[column] = max(widths[column], cell.count)
            }
        }
        var text = ""
        for row in all {
            let cells = (0..<count).map { $0 < row.count ? row[$0] : "" }
            var line = ""
            for (column, cell) in cells.enumerated() {
                let isLast = column == count - 1
                line += isLast ? cell : cell.padding(to: widths[column]) + "   "
            }
            while line.hasSuffix(" ") { line.removeLast() }
            text += line + "\n"
        }
        return text
    }
}

extension String {
    fileprivate func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
