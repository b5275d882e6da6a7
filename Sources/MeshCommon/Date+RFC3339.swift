import Foundation

extension Date {
    /// RFC 3339 in UTC to the second (`2026-11-30T08:00:00Z`), as meshd writes times (the admin
    /// API, stored credentials, meshctl). A value-type format style: no formatter object built
    /// per record or per proxy.
    public var rfc3339: String { formatted(.iso8601) }

    /// The time an RFC 3339 text in `rfc3339`'s form names, or nil.
    public init?(rfc3339 text: String) {
        guard let date = try? Date(text, strategy: .iso8601) else { return nil }
        self = date
    }
}
