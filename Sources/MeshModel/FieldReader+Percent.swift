extension FieldReader {
    /// Istio's `Percent` message (`{value: 12.5}`) as 0–100, nil when absent; a present message
    /// without `value` is 0 (proto3's default).
    func percent() throws(MeshModelError) -> Double? {
        guard try object() != nil else { return nil }
        let value = self["value"]
        guard case .number(let number)? = value.value else {
            if value.isAbsent { return 0 }
            throw value.error("expected a number")
        }
        guard number >= 0, number <= 100 else { throw value.error("must be between 0 and 100") }
        return number
    }
}
