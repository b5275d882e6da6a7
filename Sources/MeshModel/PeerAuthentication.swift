/// Istio `PeerAuthentication` (security.istio.io v1 and v1beta1): the mutual TLS mode a
/// workload's servers accept.
///
/// Scope as in Istio: a policy in the mesh root namespace without a selector is mesh-wide, one
/// without a selector elsewhere is its namespace's, and one with `selector.matchLabels` applies
/// to the workloads of its namespace carrying those labels. Which one wins is
/// `PeerAuthenticationIndex`'s (Translator) business; this type only holds a validated spec.
public struct PeerAuthentication: Sendable, Hashable {
    /// The mutual TLS modes Istio defines. `unset` inherits from the enclosing scope.
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// Inherit from the parent scope (PERMISSIVE at the mesh level).
        case unset = "UNSET"
        /// Plaintext only.
        case disable = "DISABLE"
        /// Plaintext and mutual TLS.
        case permissive = "PERMISSIVE"
        /// Mutual TLS only.
        case strict = "STRICT"
    }

    /// `selector.matchLabels`; nil when the policy has no selector (mesh- or namespace-wide).
    /// An empty map selects nothing particular either, as in Istio.
    public var selector: [String: String]?
    /// `mtls.mode` (`unset` when absent).
    public var mode: Mode
    /// `portLevelMtls`: the workload port (the port the server listens on) → mode.
    public var portLevelMtls: [UInt32: Mode]

    /// Creates a policy.
    public init(selector: [String: String]? = nil, mode: Mode = .unset, portLevelMtls: [UInt32: Mode] = [:]) {
        self.selector = selector
        self.mode = mode
        self.portLevelMtls = portLevelMtls
    }

    /// Whether the policy selects particular workloads (a non-empty `matchLabels`).
    public var selectsWorkloads: Bool { !(selector ?? [:]).isEmpty }
}

extension PeerAuthentication {
    /// Reads and validates a spec with Istio's `ValidatePeerAuthentication` rules: a valid
    /// selector, known modes, no port 0, and `portLevelMtls` only with a selector (one that
    /// names labels: stricter than Istio, which ignores it on a namespace-wide policy).
    init(reading spec: FieldReader) throws(MeshModelError) {
        selector = try WorkloadSelectorReading.matchLabels(spec["selector"])
        mode = try Self.mode(spec["mtls"])
        var ports: [UInt32: Mode] = [:]
        for (key, reader) in try spec["portLevelMtls"].members() {
            guard let port = UInt32(key), (1...65535).contains(port) else {
                throw reader.error("a port must be a number in 1-65535 (not 0), got \"\(key)\"")
            }
            guard try reader.object() != nil else { throw reader.error("mTLS must be specified for port \(port)") }
            ports[port] = try Self.mode(reader)
        }
        // Istio refuses only a missing selector; an empty `matchLabels` makes the policy
        // namespace-wide, where Istio ignores portLevelMtls, so meshd refuses that too.
        if !ports.isEmpty, (selector ?? [:]).isEmpty {
            throw spec["portLevelMtls"].error("portLevelMtls requires a workload selector with matchLabels")
        }
        portLevelMtls = ports
    }

    private static func mode(_ mtls: FieldReader) throws(MeshModelError) -> Mode {
        guard try mtls.object() != nil else { return .unset }
        return try mtls["mode"].oneOf(Mode.allCases.map(\.rawValue), what: "mode").flatMap(Mode.init(rawValue:)) ?? .unset
    }
}
