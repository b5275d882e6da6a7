import Foundation

extension Date {
    /// RFC 3339 in UTC to the second (`2026-11-30T08:00:00Z`), as the admin API writes times.
    /// A value-type format style: no formatter object built per record or per proxy.
    var rfc3339: String { formatted(.iso8601) }
}
