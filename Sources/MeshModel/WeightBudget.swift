/// The one rule for endpoint weights that Envoy and gRPC impose: the weights of a locality's
/// endpoints, and the weights of a priority's localities, must add up within uint32.
///
/// An endpoint without a weight counts as 1 (Istio's default; 0 is also read as 1), so the
/// total of a set of endpoints is the largest any locality or priority built from them can reach.
public enum WeightBudget {
    /// The effective weight of an endpoint whose spec says `weight`.
    public static func effective(_ weight: UInt32?) -> UInt32 {
        max(weight ?? 1, 1)
    }

    /// The sum of the effective weights, or `nil` when it does not fit in uint32.
    public static func total(of weights: some Sequence<UInt32?>) -> UInt32? {
        var total: UInt32 = 0
        for weight in weights {
            let (sum, overflow) = total.addingReportingOverflow(effective(weight))
            if overflow { return nil }
            total = sum
        }
        return total
    }
}
