/// One destination a rule's requests are copied to (Istio's `mirror` with `mirrorPercentage`,
/// or one entry of `mirrors`). The copy's response is discarded.
public struct HTTPMirrorPolicy: Sendable, Hashable {
    /// Where the copies go.
    public var destination: Destination
    /// The share of requests copied, in percent (0–100; 0 copies nothing, as in Istio).
    public var percentage: Double
    /// Where the destination was written, relative to the rule (`mirror`, `mirrors[1].destination`).
    public var field: String

    public init(destination: Destination, percentage: Double = 100, field: String = "mirror") {
        self.destination = destination
        self.percentage = percentage
        self.field = field
    }
}

extension HTTPMirrorPolicy {
    /// The rule's mirrors in Istio's order: `mirror` (share from `mirrorPercentage`, else the
    /// deprecated integer `mirrorPercent`, else 100%), then each of `mirrors`.
    static func reading(rule r: FieldReader) throws(MeshModelError) -> [HTTPMirrorPolicy] {
        var mirrors: [HTTPMirrorPolicy] = []
        if !r["mirror"].isAbsent, !(try r["mirrors"].list().isEmpty) {
            throw r["mirrors"].error("only one of mirror or mirrors can be specified")
        }
        if !r["mirror"].isAbsent {
            let share: Double
            if let percentage = try r["mirrorPercentage"].percent() {
                share = percentage
            } else if let percent = try r["mirrorPercent"].integer(in: 0...100, message: "must be between 0 and 100") {
                share = Double(percent)
            } else {
                share = 100
            }
            mirrors.append(HTTPMirrorPolicy(destination: try Destination(reading: r["mirror"]), percentage: share, field: "mirror"))
        } else if !r["mirrorPercentage"].isAbsent || !r["mirrorPercent"].isAbsent {
            let field = r["mirrorPercentage"].isAbsent ? r["mirrorPercent"] : r["mirrorPercentage"]
            throw field.error("needs mirror")
        }
        for (index, entry) in try r["mirrors"].list().enumerated() {
            guard try entry.object() != nil else { throw entry.error("expected an object") }
            guard !entry["destination"].isAbsent else { throw entry["destination"].error("destination is required for mirrors") }
            mirrors.append(
                HTTPMirrorPolicy(
                    destination: try Destination(reading: entry["destination"]),
                    percentage: try entry["percentage"].percent() ?? 100,
                    field: "mirrors[\(index)].destination"))
        }
        return mirrors
    }
}
