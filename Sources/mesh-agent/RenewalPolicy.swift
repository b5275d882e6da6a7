import Foundation

/// When to renew and how long to wait after a failure: pure arithmetic, no clock or I/O, so the
/// loop's timing rules are easy to read in one place.
struct RenewalPolicy: Sendable {
    /// Renew once this fraction of the lifetime has passed (Istio's default, 50%): leaves the
    /// second half for retries while meshd is down.
    var renewAtFraction = 0.5
    /// ±this fraction of the renewal point, so agents started together (a node reboot, a
    /// rollout) do not all hit the CA in the same second half a lifetime later.
    var jitterFraction = 0.1
    /// The first retry delay after a failed issuance.
    var initialBackoff: Duration = .seconds(1)
    /// The longest retry delay: a restarted meshd is noticed within a minute.
    var maximumBackoff: Duration = .seconds(60)
    /// The shortest wait before a renewal, even when the renewal point is past: a CA that
    /// returns certificates already due (skewed clocks, a cap below the asked lifetime) must
    /// not be called in a tight loop.
    var minimumRenewalDelay: Duration = .seconds(1)

    /// How long to wait from `now` before renewing a certificate whose lifetime runs from
    /// `start` (see `IssuedCertificate.lifetimeStart`) to `notAfter`.
    func renewalDelay(
        start: Date, notAfter: Date, now: Date,
        using generator: inout some RandomNumberGenerator
    ) -> Duration {
        let lifetime = max(0, notAfter.timeIntervalSince(start))
        let jitter = Double.random(in: -jitterFraction...jitterFraction, using: &generator)
        let renewAt = start.addingTimeInterval(lifetime * renewAtFraction * (1 + jitter))
        let delay = Duration.milliseconds(Int64(max(0, renewAt.timeIntervalSince(now)) * 1_000))
        return max(delay, minimumRenewalDelay)
    }

    /// `renewalDelay(start:notAfter:now:using:)` for `certificate`, with the system generator.
    func renewalDelay(for certificate: IssuedCertificate, now: Date = Date()) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return renewalDelay(start: certificate.lifetimeStart, notAfter: certificate.notAfter, now: now, using: &generator)
    }

    /// The wait after `failures` consecutive failed attempts (1 for the first): the initial
    /// backoff doubled each time, capped at the maximum.
    func backoff(afterFailures failures: Int) -> Duration {
        var delay = initialBackoff
        for _ in 1..<max(1, failures) where delay < maximumBackoff {
            delay *= 2
        }
        return min(delay, maximumBackoff)
    }
}
