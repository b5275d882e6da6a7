import MeshCommon
import MeshModel

/// The address a proxyless gRPC server listens on, as it names its inbound Listener:
/// `xds.istio.io/grpc/lds/inbound/IP:PORT` (its bootstrap's `server_listener_resource_name_template`
/// with the listening address in place of `%s`; IPv6 bracketed, e.g. `[::]:50051`).
///
/// Part of the proxy's view key: the inbound Listener repeats the address (a gRPC server stays
/// NOT_SERVING when the Listener's address differs from its own), so the address decides the
/// resource, while everything else in it depends only on the namespace, the policy labels and
/// the port.
public struct InboundAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The IP as the socket address carries it: no brackets (`0.0.0.0`, `::`).
    public var ip: String
    /// The port, 1-65535.
    public var port: UInt32

    /// Istio's prefix for inbound listener names.
    public static let listenerNamePrefix = "xds.istio.io/grpc/lds/inbound/"

    /// Creates an address; `ip` without brackets.
    public init(ip: String, port: UInt32) {
        self.ip = ip
        self.port = port
    }

    /// The address a listener name stands for; nil when the name is not an inbound name or its
    /// address is not an IP literal and a port in 1-65535 (gRPC resolves the address it
    /// listens on, so it only ever asks with an IP).
    public init?(listenerName name: String) {
        guard name.hasPrefix(Self.listenerNamePrefix) else { return nil }
        let address = name.dropFirst(Self.listenerNamePrefix.count)
        guard let colon = address.lastIndex(of: ":"), let port = UInt32(address[address.index(after: colon)...]),
            (1...65535).contains(port)
        else { return nil }
        var host = address[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = host.dropFirst().dropLast()
            guard host.contains(":") else { return nil }
        } else if host.contains(":") {
            return nil  // an unbracketed IPv6 address: where would the port start?
        }
        guard IPAddressSyntax.isIPAddress(String(host)) else { return nil }
        self.init(ip: String(host), port: port)
    }

    /// The inbound addresses among `names` (other names ignored).
    public static func parse<Names: Sequence<String>>(listenerNames names: Names) -> Set<InboundAddress> {
        Set(names.compactMap(InboundAddress.init(listenerName:)))
    }

    /// `IP:PORT`, IPv6 bracketed.
    public var description: String { ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)" }

    /// The listener name the server asks for.
    public var listenerName: String { Self.listenerNamePrefix + description }

    public static func < (lhs: InboundAddress, rhs: InboundAddress) -> Bool { (lhs.port, lhs.ip) < (rhs.port, rhs.ip) }
}
