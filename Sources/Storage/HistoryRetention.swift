import Foundation
import MeshCommon

/// How much history a store keeps (`--history-retention`): the newest N records, or the
/// records younger than an age. Older records are pruned and the store's floor — the oldest
/// revision that can be restored or compared — moves up to the newest pruned revision.
public enum HistoryRetention: Sendable, Hashable, CustomStringConvertible {
    /// Keep the newest `n` records (at least 1).
    case count(Int)
    /// Keep the records younger than this many seconds (the newest record is always kept).
    case age(TimeInterval)

    /// meshd's default: the last 1000 changes.
    public static let `default` = HistoryRetention.count(1000)

    /// Parses `1000` (records) or an age in meshd's duration grammar with days (`90s`, `30m`,
    /// `12h`, `7d`, `1d12h`: `DurationSyntax`); nil for anything else (zero, negative,
    /// overflowing, fractions of a second or unknown units).
    public static func parse(_ text: String) -> HistoryRetention? {
        let text = text.trimmingCharacters(in: .whitespaces)
        if let n = Int(text) { return n > 0 ? .count(n) : nil }
        guard let age = DurationSyntax.parse(text, units: .withDays), let seconds = DurationSyntax.wholeSeconds(age) else { return nil }
        return .age(TimeInterval(seconds))
    }

    /// `1000 revisions` or `604800s`, for logs.
    public var description: String {
        switch self {
        case .count(let n): "\(n) revisions"
        case .age(let seconds): "\(Int(seconds))s"
        }
    }

    /// The newest revision to prune among records (revision, time), or nil when none is to go.
    /// Pure; both stores prune through it.
    public func pruneThrough(_ records: [(revision: Int64, time: Date)], now: Date) -> Int64? {
        let sorted = records.sorted { $0.revision > $1.revision }
        switch self {
        case .count(let n):
            return sorted.count > n ? sorted[n].revision : nil
        case .age(let seconds):
            let cutoff = now.addingTimeInterval(-seconds)
            // The newest record stays whatever its age: it is what the current configuration came from.
            return sorted.dropFirst().first { $0.time < cutoff }?.revision
        }
    }
}
