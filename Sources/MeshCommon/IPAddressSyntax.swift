#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one IP-address parser of meshd, meshctl and mesh-agent: textual IPv4/IPv6 address and
/// CIDR checks written out (the same rules on every platform), and the address's bytes for
/// those that pass.
public enum IPAddressSyntax {
    /// Dotted-quad IPv4 (`10.0.0.1`); leading zeros are refused, as Go's `netip` refuses them,
    /// because they are read as octal by some tools.
    public static func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { part in
                guard (1...3).contains(part.count), part.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                    part.count == 1 || part.first != "0", let value = Int(part)
                else { return false }
                return value <= 255
            }
    }

    /// IPv6 in any RFC 4291 text form (`::1`, `fe80::1`, `::ffff:10.0.0.1`); zones are refused.
    public static func isIPv6(_ s: String) -> Bool {
        guard s.contains(":") else { return false }
        let halves = s.split(separator: "::", omittingEmptySubsequences: false)
        guard halves.count <= 2 else { return false }
        var groups = 0
        for (h, half) in halves.enumerated() where !half.isEmpty {
            let parts = half.split(separator: ":", omittingEmptySubsequences: false)
            for (i, part) in parts.enumerated() {
                // An embedded IPv4 address may end the address and counts as two groups.
                if h == halves.count - 1, i == parts.count - 1, part.contains(".") {
                    guard isIPv4(String(part)) else { return false }
                    groups += 2
                } else {
                    // ASCII only: Character.isHexDigit also accepts fullwidth digits (`１`).
                    guard (1...4).contains(part.utf8.count), part.utf8.allSatisfy(isASCIIHexDigit) else { return false }
                    groups += 1
                }
            }
        }
        return halves.count == 2 ? groups <= 7 : groups == 8
    }

    private static func isASCIIHexDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
    }

    /// Either kind of address.
    public static func isIPAddress(_ s: String) -> Bool {
        isIPv4(s) || isIPv6(s)
    }

    /// `address/prefix` with a prefix length that fits the address family.
    public static func isCIDR(_ s: String) -> Bool {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[1].isEmpty, parts[1].utf8.allSatisfy({ (0x30...0x39).contains($0) }),
            let bits = Int(parts[1])
        else { return false }
        let address = String(parts[0])
        if isIPv4(address) { return bits <= 32 }
        if isIPv6(address) { return bits <= 128 }
        return false
    }

    /// The address's network-order bytes (4 or 16) when `s` is an address by these rules, else
    /// nil; the conversion itself is the C library's, once the text has passed the checks above.
    public static func bytes(_ s: String) -> [UInt8]? {
        if isIPv4(s) {
            var v4 = in_addr()
            guard inet_pton(AF_INET, s, &v4) == 1 else { return nil }
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        if isIPv6(s) {
            var v6 = in6_addr()
            guard inet_pton(AF_INET6, s, &v6) == 1 else { return nil }
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    /// Whether `s` is a loopback address: 127.0.0.0/8 or `::1`.
    public static func isLoopback(_ s: String) -> Bool {
        guard let bytes = bytes(s) else { return false }
        return bytes.count == 4 ? bytes[0] == 127 : bytes == Array(repeating: 0, count: 15) + [1]
    }
}
