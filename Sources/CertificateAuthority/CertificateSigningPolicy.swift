/// How long the CA's certificates may live.
///
/// A plain value: the CA copies it at load time, so changing a policy later affects only CAs created
/// from the new value.
public struct CertificateSigningPolicy: Sendable {
    /// The lifetime of a workload certificate when the request names none (or zero). Istio's default: 24 h.
    public var defaultTTL: Duration = .seconds(86_400)
    /// The longest lifetime a request may ask for; longer requests are refused, not shortened, so a
    /// misconfigured agent finds out. Istio's default: 90 days.
    public var maxTTL: Duration = .seconds(90 * 86_400)

    /// Creates a policy; the defaults are Istio's.
    public init(defaultTTL: Duration = .seconds(86_400), maxTTL: Duration = .seconds(90 * 86_400)) {
        self.defaultTTL = defaultTTL
        self.maxTTL = maxTTL
    }
}

extension CertificateSigningPolicy {
    /// The lifetime to issue for a requested TTL: nil or zero means `defaultTTL`; negative or beyond
    /// `maxTTL` is `invalidArgument`.
    func lifetime(for requested: Duration?) throws(CAError) -> Duration {
        guard let requested, requested != .zero else { return defaultTTL }
        guard requested > .zero else {
            throw CAError(code: .invalidArgument, message: "requested certificate TTL \(requested) is negative")
        }
        guard requested <= maxTTL else {
            throw CAError(
                code: .invalidArgument,
                message: "requested certificate TTL \(requested) exceeds the maximum \(maxTTL)")
        }
        return requested
    }
}
