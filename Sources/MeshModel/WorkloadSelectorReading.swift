/// Reads Istio's `istio.type.v1beta1.WorkloadSelector` (`selector: {matchLabels: …}`), as the
/// security kinds carry it, with Istio's `validateWorkloadSelector` rules.
enum WorkloadSelectorReading {
    /// The selector's `matchLabels`; nil when `selector` is absent.
    static func matchLabels(_ selector: FieldReader) throws(MeshModelError) -> [String: String]? {
        guard try selector.object() != nil else { return nil }
        let labels = try selector["matchLabels"].stringMap()
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
            let field = selector["matchLabels"][key]
            if key.isEmpty { throw field.error("a selector label key must not be empty") }
            if key.contains("*") || value.contains("*") { throw field.error("wildcards are not supported in a selector") }
        }
        return labels
    }
}
