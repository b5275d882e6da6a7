import MeshModel

/// How bad an analysis finding is, with istioctl's names (`Error`, `Warning`, `Info`).
public enum AnalysisLevel: String, Sendable, Hashable, CaseIterable, Comparable {
    case info = "Info"
    case warning = "Warning"
    case error = "Error"

    /// Info < Warning < Error, so a threshold keeps what is at least as bad.
    public static func < (a: AnalysisLevel, b: AnalysisLevel) -> Bool {
        a.rank < b.rank
    }

    private var rank: Int {
        switch self {
        case .info: 0
        case .warning: 1
        case .error: 2
        }
    }

    /// The level named `text`, case-insensitively (`error`, `Warning`, `INFO`), or nil.
    public init?(named text: String) {
        guard let level = Self.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else { return nil }
        self = level
    }
}

/// One finding of `ConfigAnalysis`: a stable code, its level, the resource and field it is
/// about, and what is wrong. The admin API's `GET /api/v1/analyze` answers a list of them.
public struct AnalysisMessage: Sendable, Hashable, CustomStringConvertible {
    /// What was found; fixes the code and level.
    public var code: AnalysisCode
    /// The resource the message is about.
    public var resource: ConfigKey
    /// The field path, Istio style (`spec.http[0].route[0].destination.host`).
    public var field: String
    /// What is wrong, in the words of the code's template.
    public var message: String

    /// Creates a message.
    public init(_ code: AnalysisCode, _ resource: ConfigKey, field: String, _ message: String) {
        self.code = code
        self.resource = resource
        self.field = field
        self.message = message
    }

    /// The level of the message's code.
    public var level: AnalysisLevel { code.level }

    /// istioctl's line: `Error [IST0101] (VirtualService default/reviews) Referenced host not found: "x"`.
    public var description: String { "\(level.rawValue) [\(code.rawValue)] (\(resource)) \(message)" }

    /// Orders by resource, then field, then code: a stable order for answers and tests.
    static func ordered(_ a: AnalysisMessage, _ b: AnalysisMessage) -> Bool {
        (a.resource, a.field, a.code.rawValue, a.message) < (b.resource, b.field, b.code.rawValue, b.message)
    }
}

/// Kubernetes' selector text for `labels` (`app=reviews,version=v1`, keys sorted), as Istio's
/// messages print selectors.
func selectorText(_ labels: [String: String]) -> String {
    labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
}
