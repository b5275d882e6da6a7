import Foundation
import MeshModel

/// The columns `kubectl get` prints for each Istio kind: the CRDs' `additionalPrinterColumns`
/// (of the first served version), read from the embedded CRDs so `meshctl get` and kubectl
/// cannot disagree. Every CRD column is a plain `.a.b` path, which is all `value(in:)` reads.
public struct PrinterColumn: Sendable, Hashable {
    /// The title, as the CRD spells it (`Hosts`); kubectl prints it upper-case.
    public var name: String
    /// The OpenAPI type: `string`, `date`, `integer`…
    public var type: String
    /// `.spec.hosts`.
    public var jsonPath: String

    public init(name: String, type: String, jsonPath: String) {
        self.name = name
        self.type = type
        self.jsonPath = jsonPath
    }

    /// The columns of `kind`; empty for a kind without a CRD (`Secret`) or without columns
    /// (kubectl then prints NAME and AGE).
    public static func of(_ kind: ConfigKind) -> [PrinterColumn] {
        table[kind.rawValue] ?? []
    }

    /// Every kind's columns, read once. meshd's own `Canary` has no CRD yet: its columns are
    /// stated here, in the CRD's terms.
    static let table: [String: [PrinterColumn]] = {
        var table: [String: [PrinterColumn]] = [
            "Canary": [
                PrinterColumn(name: "Host", type: "string", jsonPath: ".spec.host"),
                PrinterColumn(name: "Phase", type: "string", jsonPath: ".status.phase"),
                PrinterColumn(name: "Weight", type: "integer", jsonPath: ".status.weight"),
                PrinterColumn(name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp"),
            ],
            // The Gateway API CRDs' own columns (v1.6.1), plus where each route stands.
            "HTTPRoute": routeColumns,
            "GRPCRoute": routeColumns,
        ]
        for crd in (try? InstallManifest.crds()) ?? [] {
            guard let kind = crd["spec"]?["names"]?["kind"]?.stringValue,
                let columns = crd["spec"]?["versions"]?[0]?["additionalPrinterColumns"]?.arrayValue
            else { continue }
            table[kind] = columns.compactMap { column in
                guard let name = column["name"]?.stringValue, let path = column["jsonPath"]?.stringValue else { return nil }
                return PrinterColumn(name: name, type: column["type"]?.stringValue ?? "string", jsonPath: path)
            }
        }
        return table
    }()

    /// A route's columns: kubectl's (`Hostnames`, `Age`).
    static let routeColumns = [
        PrinterColumn(name: "Hostnames", type: "string", jsonPath: ".spec.hostnames"),
        PrinterColumn(name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp"),
    ]

    /// The column's cell for `resource` as kubectl prints it: a string as is, a list or map as
    /// JSON (`["reviews"]`), a date as an age at `now` (`<unknown>` when absent or not a
    /// timestamp), anything absent as empty.
    public func value(in resource: JSONValue, now: Date) -> String {
        var current: JSONValue? = resource
        for segment in jsonPath.split(separator: ".") { current = current?[String(segment)] }
        if type == "date" {
            guard let text = current?.stringValue, let date = try? Date(text, strategy: .iso8601) else { return "<unknown>" }
            return Self.age(now.timeIntervalSince(date))
        }
        switch current {
        case .string(let text)?: return text
        case .none, .null?: return ""
        case let value?: return value.canonicalJSON()
        }
    }

    /// A duration as kubectl's AGE column shows it (Kubernetes' `HumanDuration`): `45s`,
    /// `3m12s`, `25m`, `5h10m`, `30h`, `3d4h`, `120d`, `2y45d`, `9y`.
    public static func age(_ interval: TimeInterval) -> String {
        let seconds = interval.isFinite ? Int(max(0, interval.rounded(.down)).clamped(to: 0...1e15)) : 0
        let minutes = seconds / 60
        let hours = seconds / 3600
        let days = hours / 24
        let years = days / 365
        switch seconds {
        case ..<120: return "\(seconds)s"
        case ..<600: return seconds % 60 == 0 ? "\(minutes)m" : "\(minutes)m\(seconds % 60)s"
        case ..<(3 * 3600): return "\(minutes)m"
        case ..<(8 * 3600): return minutes % 60 == 0 ? "\(hours)h" : "\(hours)h\(minutes % 60)m"
        case ..<(48 * 3600): return "\(hours)h"
        case ..<(8 * 86400): return hours % 24 == 0 ? "\(days)d" : "\(days)d\(hours % 24)h"
        case ..<(2 * 365 * 86400): return "\(days)d"
        case ..<(8 * 365 * 86400): return days % 365 == 0 ? "\(years)y" : "\(years)y\(days % 365)d"
        default: return "\(years)y"
        }
    }
}

extension Double {
    fileprivate func clamped(to range: ClosedRange<Double>) -> Double { Swift.min(Swift.max(self, range.lowerBound), range.upperBound) }
}
