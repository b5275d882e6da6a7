/// Prometheus' `histogram_quantile` over bucket rates already summed: the same arithmetic, so
/// one bucket query answers every quantile.
enum HistogramQuantile {
    /// The `q` quantile of cumulative buckets (`le` upper bounds, `+Inf` included, with their
    /// rates); nil without a `+Inf` bucket, with nothing counted, or fewer than two buckets.
    /// As Prometheus: buckets are sorted by bound and made monotonic, the rank is `q` times the
    /// `+Inf` count, the value is interpolated linearly inside the bucket the rank falls in (from
    /// 0 for the first bucket when its bound is positive), and a rank in the `+Inf` bucket
    /// answers the highest finite bound.
    static func quantile(_ q: Double, buckets: [(le: Double, count: Double)]) -> Double? {
        guard q >= 0, q <= 1 else { return nil }
        var sorted = buckets.filter { !$0.le.isNaN && $0.count.isFinite }.sorted { $0.le < $1.le }
        guard sorted.count >= 2, sorted.last?.le == .infinity else { return nil }
        // Counts may dip between buckets (scrapes of one histogram taken apart); keep them cumulative.
        for index in sorted.indices.dropFirst() where sorted[index].count < sorted[index - 1].count {
            sorted[index].count = sorted[index - 1].count
        }
        let total = sorted[sorted.count - 1].count
        guard total > 0 else { return nil }
        let rank = q * total
        guard let index = sorted.firstIndex(where: { $0.count >= rank }) else { return nil }
        if index == sorted.count - 1 { return sorted[sorted.count - 2].le }
        if index == 0, sorted[0].le <= 0 { return sorted[0].le }
        let upper = sorted[index].le
        let lower = index == 0 ? 0 : sorted[index - 1].le
        let below = index == 0 ? 0 : sorted[index - 1].count
        let inBucket = sorted[index].count - below
        guard inBucket > 0 else { return upper }
        return lower + (upper - lower) * ((rank - below) / inBucket)
    }
}
