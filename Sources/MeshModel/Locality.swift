/// Where a workload or a proxy runs: Envoy's three-level locality (`Node.locality`, an
/// endpoint group's locality), and Istio's `region/zone/subzone` form.
public struct Locality: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var region: String
    public var zone: String
    public var subZone: String

    public init(region: String = "", zone: String = "", subZone: String = "") {
        self.region = region
        self.zone = zone
        self.subZone = subZone
    }

    /// Parses Istio's `region/zone/subzone` form; missing parts are empty.
    public init(istio text: String?) {
        let parts = (text ?? "").split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        self.init(
            region: parts.count > 0 ? parts[0] : "", zone: parts.count > 1 ? parts[1] : "",
            subZone: parts.count > 2 ? parts[2] : "")
    }

    /// `region/zone/subZone` (Istio's label form); empty when unknown.
    public var description: String {
        [region, zone, subZone].allSatisfy(\.isEmpty) ? "" : "\(region)/\(zone)/\(subZone)"
    }

    public static func < (a: Locality, b: Locality) -> Bool {
        (a.region, a.zone, a.subZone) < (b.region, b.zone, b.subZone)
    }
}
