import MeshModel

/// The routes of a VirtualService a canary steps, and the spec with a step's weights, worked
/// on the stored JSON so every field the canary does not own (matches, timeouts, ports,
/// headers) is kept exactly as written.
///
/// A route is stepped when every destination of it is the canary's host with subset `from`
/// or `to`: the weight of `to` becomes the step's, `from` gets the rest. Other routes are left
/// alone (a rule sending a header-matched group to v2 is the operator's, not the canary's).
public struct CanaryRoutes: Sendable {
    /// The canary's host, fully qualified.
    public var host: String
    /// The VirtualService's namespace, where its short host names resolve.
    public var namespace: String
    /// The subset traffic moves away from.
    public var from: String
    /// The subset traffic moves to.
    public var to: String

    /// The route sections a canary may step; each holds `route: [{destination, weight}]`.
    static let sections = ["http", "tls", "tcp"]

    /// Creates the rule for one canary.
    public init(host: String, namespace: String, from: String, to: String) {
        self.host = host
        self.namespace = namespace
        self.from = from
        self.to = to
    }

    /// The stepped routes' paths (`spec.http[0]`), in document order.
    public func stepped(in spec: JSONValue) -> [String] {
        Self.sections.flatMap { section -> [String] in
            guard case .array(let routes)? = spec[section] else { return [] }
            return routes.indices.filter { isStepped(routes[$0]) }.map { "spec.\(section)[\($0)]" }
        }
    }

    /// The weight `to` has in the first stepped route now (a lone destination without a weight
    /// has all of it); nil when no route is stepped.
    public func currentWeight(in spec: JSONValue) -> Int? {
        for section in Self.sections {
            guard case .array(let routes)? = spec[section] else { continue }
            for route in routes where isStepped(route) {
                guard case .array(let destinations)? = route["route"] else { continue }
                let lone = destinations.count == 1
                let weight = destinations.filter { subset(of: $0) == to }.reduce(0) { sum, entry in
                    let own = entry["weight"]?.intValue ?? (lone ? 100 : 0)
                    return sum + min(max(own, 0), 100)
                }
                return min(weight, 100)
            }
        }
        return nil
    }

    /// `spec` with every stepped route sending `weight` percent to `to` and the rest to `from`.
    /// A subset missing from a route is added as a copy of the other's destination.
    public func weighted(_ spec: JSONValue, weight: Int) -> JSONValue {
        guard case .object(var object) = spec else { return spec }
        for section in Self.sections {
            guard case .array(var routes)? = object[section] else { continue }
            for index in routes.indices where isStepped(routes[index]) {
                routes[index] = reweighted(routes[index], weight: min(max(weight, 0), 100))
            }
            object[section] = .array(routes)
        }
        return .object(object)
    }

    private func reweighted(_ route: JSONValue, weight: Int) -> JSONValue {
        guard case .object(var object) = route, case .array(let destinations)? = route["route"],
            let model = destinations.first
        else { return route }
        let old = destinations.first { subset(of: $0) == from } ?? withSubset(model, from)
        let new = destinations.first { subset(of: $0) == to } ?? withSubset(model, to)
        object["route"] = .array([withWeight(old, 100 - weight), withWeight(new, weight)])
        return .object(object)
    }

    private func withSubset(_ entry: JSONValue, _ subset: String) -> JSONValue {
        guard case .object(var object) = entry, case .object(var destination)? = entry["destination"] else { return entry }
        destination["subset"] = .string(subset)
        object["destination"] = .object(destination)
        return .object(object)
    }

    private func withWeight(_ entry: JSONValue, _ weight: Int) -> JSONValue {
        guard case .object(var object) = entry else { return entry }
        object["weight"] = .number(Double(weight))
        return .object(object)
    }

    private func isStepped(_ route: JSONValue) -> Bool {
        guard case .array(let destinations)? = route["route"], !destinations.isEmpty else { return false }
        return destinations.allSatisfy { entry in
            guard let target = entry["destination"]?["host"]?.stringValue,
                HostName.resolve(target, namespace: namespace).lowercased() == host.lowercased(),
                let subset = subset(of: entry)
            else { return false }
            return subset == from || subset == to
        }
    }

    private func subset(of entry: JSONValue) -> String? { entry["destination"]?["subset"]?.stringValue }

    /// A digest of a spec's content (FNV-1a, 64 bits, of its canonical JSON): the canary keeps
    /// the one of the VirtualService it last wrote, to tell its own writes from anyone else's.
    /// A change detector, not a security check: whoever can write the VirtualService can also
    /// pause or abort the canary.
    public static func digest(_ spec: JSONValue) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in spec.canonicalJSON().utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
