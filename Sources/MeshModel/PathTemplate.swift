/// An AuthorizationPolicy path written with Istio's template operators: `{*}` is exactly one
/// path segment, `{**}` one or more (only as the last operator), as Envoy's URI templates
/// (`envoy.extensions.path.match.uri_template.v3`) match them. A path without operators is
/// not a template (nil): Istio's `*` prefix and suffix forms apply to it instead.
public struct PathTemplate: Sendable, Hashable {
    /// One piece of the template.
    enum Piece: Sendable, Hashable {
        case literal(String)
        /// `{*}`: one segment.
        case segment
        /// `{**}`: one or more segments.
        case segments
    }

    let pieces: [Piece]

    /// The template `path` spells, nil when it has no `{*}` or `{**}`.
    public init?(_ path: String) {
        guard path.contains("{*}") || path.contains("{**}") else { return nil }
        var pieces: [Piece] = []
        var rest = Substring(path)
        while !rest.isEmpty {
            if rest.hasPrefix("{**}") {
                pieces.append(.segments)
                rest = rest.dropFirst(4)
            } else if rest.hasPrefix("{*}") {
                pieces.append(.segment)
                rest = rest.dropFirst(3)
            } else {
                let end = rest.dropFirst().firstIndex(of: "{") ?? rest.endIndex
                pieces.append(.literal(String(rest[..<end])))
                rest = rest[end...]
            }
        }
        self.pieces = pieces
    }

    /// Why `path` is not a valid template, nil when it is one or is no template at all
    /// (Istio's `validatePathTemplate`): `{**}` only as the last operator, no other braces.
    public static func problem(in path: String) -> String? {
        guard let template = PathTemplate(path) else { return nil }
        var sawMulti = false
        for piece in template.pieces {
            switch piece {
            case .literal(let text):
                if text.contains("{") || text.contains("}") {
                    return "a path template may only use the operators {*} and {**}, got \"\(path)\""
                }
            case .segment, .segments:
                if sawMulti { return "{**} must be the last operator of a path template, got \"\(path)\"" }
                if piece == .segments { sawMulti = true }
            }
        }
        return nil
    }

    /// Envoy's spelling: `{*}` → `*`, `{**}` → `**`.
    public var envoyTemplate: String {
        pieces.map { piece in
            switch piece {
            case .literal(let text): text
            case .segment: "*"
            case .segments: "**"
            }
        }.joined()
    }

    /// The same match as an RE2 regex over the whole path (for gRPC, which has no templates).
    public var regex: String {
        pieces.map { piece in
            switch piece {
            case .literal(let text): text.map { "\\.+*?()|[]{}^$".contains($0) ? "\\\($0)" : String($0) }.joined()
            case .segment: "[^/]+"
            case .segments: "[^/]+(/[^/]+)*"
            }
        }.joined()
    }
}
