/// Retry policy of an HTTP route.
public struct HTTPRetry: Sendable, Hashable {
    /// How many retries are allowed (0: none).
    public var attempts: Int
    /// Timeout per attempt, as a duration string (`2s`); parse with `IstioDuration`.
    public var perTryTimeout: String?
    /// Comma-separated retry conditions (Envoy `retry_on` values and gRPC status names).
    public var retryOn: String?

    /// Creates a retry policy.
    public init(attempts: Int, perTryTimeout: String? = nil, retryOn: String? = nil) {
        self.attempts = attempts
        self.perTryTimeout = perTryTimeout
        self.retryOn = retryOn
    }
}

extension HTTPRetry {
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        attempts = try r["attempts"].integer() ?? 0
        guard attempts >= 0 else { throw r["attempts"].error("must not be negative") }
        perTryTimeout = try r["perTryTimeout"].duration()
        retryOn = try r["retryOn"].string()
    }
}
