/// Fits weights into what Envoy and gRPC accept: a route's weighted clusters, a locality's
/// endpoint weights and a priority's locality weights must each add up within uint32.
///
/// Validation refuses config that would break this (`WeightBudget`, the route rule's sum), so
/// for valid config this is
/// the identity. It exists for config stored before that rule, or combined across resources
/// by a race between two writers: the translator must never trap on such input, and scaling
/// every weight down by one factor keeps the ratios a proxy would have applied.
enum WeightScaling {
    /// `weights` (one list per locality, or one list for a route), scaled down by one common divisor when their grand
    /// total does not fit in uint32; every weight stays at least 1.
    static func fitted(_ weights: [[UInt32]]) -> [[UInt32]] {
        let count = UInt64(weights.reduce(0) { $0 + $1.count })
        let total = weights.reduce(UInt64(0)) { sum, locality in locality.reduce(sum) { $0 + UInt64($1) } }
        let limit = UInt64(UInt32.max)
        guard total > limit else { return weights }
        // Each weight is rounded down and then raised to at least 1, which adds at most one per
        // endpoint: leave that much room below the limit.
        let room = max(1, limit - min(count, limit - 1))
        let divisor = (total + room - 1) / room
        return weights.map { locality in locality.map { UInt32(max(1, UInt64($0) / divisor)) } }
    }

    /// The sum of `weights`, which `fitted` guarantees fits; saturates instead of trapping.
    static func sum(_ weights: [UInt32]) -> UInt32 {
        weights.reduce(UInt32(0)) { total, weight in
            let (sum, overflow) = total.addingReportingOverflow(weight)
            return overflow ? .max : sum
        }
    }
}
