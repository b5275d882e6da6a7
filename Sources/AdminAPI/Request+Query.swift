import Hummingbird

extension Request {
    /// The query parameters, refusing any name outside `allowed` with 400 `malformed` naming it:
    /// a misspelt `namspace=` must not silently widen a listing or a history filter to
    /// everything (no field silently ignored — query parameters are fields too).
    func query(allowing allowed: Set<String>) throws -> Parameters {
        let parameters = uri.queryParameters
        for (name, _) in parameters where !allowed.contains(String(name)) {
            let known = allowed.isEmpty ? "this endpoint takes no query parameters" : "known: \(allowed.sorted().joined(separator: ", "))"
            throw AdminError(
                code: "malformed", status: .badRequest,
                message: "unknown query parameter \"\(String(name).prefix(64))\"; \(known)",
                field: String(name.prefix(64)))
        }
        return parameters
    }
}
