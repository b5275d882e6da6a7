import ArgumentParser
import GRPCNIOTransportHTTP2
import MeshCommon

/// `--ca-address HOST:PORT`: where meshd's TLS port (15012) listens.
struct CAAddress: Sendable, Equatable, ExpressibleByArgument, CustomStringConvertible {
    /// meshd's TLS port on loopback, istiod's port number.
    static let `default` = CAAddress(host: "127.0.0.1", port: MeshDefaults.tlsPort)

    /// A DNS name or an IP literal (without brackets).
    let host: String
    /// The TCP port.
    let port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Accepts `host:port`, `1.2.3.4:port` and `[::1]:port`; an unbracketed IPv6 address is
    /// rejected because the port cannot be told apart from it.
    init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":"),
            let port = Int(argument[argument.index(after: colon)...]), (1...65535).contains(port)
        else { return nil }
        var host = String(argument[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
            guard host.contains(":") else { return nil }
        } else if host.contains(":") {
            return nil
        }
        guard !host.isEmpty else { return nil }
        self.init(host: host, port: port)
    }

    var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Whether `text` is an IPv4 or IPv6 literal rather than a DNS name.
    static func isIPLiteral(_ text: String) -> Bool {
        if text.contains(":") { return true }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { part in
                !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCII) && UInt8(part) != nil
            }
    }

    /// The gRPC target: IP literals are dialled directly, names are resolved through DNS.
    var target: any ResolvableTarget {
        if host.contains(":") { return ResolvableTargets.IPv6.ipv6(address: host, port: port) }
        if Self.isIPLiteral(host) { return ResolvableTargets.IPv4.ipv4(address: host, port: port) }
        return ResolvableTargets.DNS.dns(host: host, port: port)
    }
}
