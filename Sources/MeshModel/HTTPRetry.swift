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
        attempts = try Int(r["attempts"].nonNegativeInt32() ?? 0)
        perTryTimeout = try r["perTryTimeout"].duration()
        // proto3: "" is unset, which means Istio's default conditions, not "retry on nothing".
        retryOn = try r["retryOn"].string().flatMap { $0.isEmpty ? nil : $0 }
        // Istio: a policy with zero attempts is disabled, so settings beside it would be ignored.
        if attempts == 0, perTryTimeout != nil || retryOn != nil {
            throw r["attempts"].error("http retry policy configured when attempts are set to 0 (disabled)")
        }
    }
}
