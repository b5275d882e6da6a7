/// istiod's cluster naming, so operators' greps carry over: `outbound|PORT|SUBSET|HOST`.
public enum ClusterName {
    /// The outbound cluster for a service port, optionally narrowed to a subset.
    public static func outbound(port: UInt32, subset: String? = nil, host: String) -> String {
        "outbound|\(port)|\(subset ?? "")|\(host)"
    }

    /// The parts of an outbound cluster name, or nil for any other name.
    public static func parse(_ name: String) -> (port: UInt32, subset: String, host: String)? {
        let parts = name.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "outbound", let port = UInt32(parts[1]) else { return nil }
        return (port, String(parts[2]), String(parts[3]))
    }
}

/// Names of the listener and route configuration a proxyless gRPC client asks for: `HOST:PORT`,
/// the target of `xds:///HOST:PORT`.
public enum ListenerName {
    public static func proxyless(host: String, port: UInt32) -> String { "\(host):\(port)" }
}
