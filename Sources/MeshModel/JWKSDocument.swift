/// The checks meshd makes on a JSON Web Key Set (RFC 7517), inline in a RequestAuthentication or
/// fetched from its `jwksUri`: a JSON object whose `keys` is a list of keys, each with a `kty`,
/// and no private key material (an inline set is sent to every selected proxy; a private key
/// there would be published).
public enum JWKSDocument {
    /// Members that only private keys carry (RSA and EC: `d`; RSA: the CRT parts).
    static let privateMembers = ["d", "p", "q", "dp", "dq", "qi"]

    /// What is wrong with `text` as a public key set, or nil when it is one.
    public static func problem(in text: String) -> String? {
        let value: JSONValue
        do {
            value = try JSONValue.parse(json: text)
        } catch {
            return "the key set is not JSON: \(error.message)"
        }
        guard case .array(let keys)? = value["keys"] else { return "the key set must be a JSON object with a \"keys\" list" }
        for (index, key) in keys.enumerated() {
            guard case .object(let members) = key else { return "keys[\(index)] must be an object" }
            guard case .string(let type)? = members["kty"], !type.isEmpty else { return "keys[\(index)] has no \"kty\"" }
            if type != "oct", let member = privateMembers.first(where: { members[$0] != nil }) {
                return "keys[\(index)] holds private key material (\"\(member)\"); publish only the public key"
            }
        }
        return nil
    }

    /// The key IDs (`kid`) of a valid set, in order (absent ids left out).
    public static func keyIDs(in text: String) -> [String] {
        guard let value = try? JSONValue.parse(json: text), case .array(let keys)? = value["keys"] else { return [] }
        return keys.compactMap { if case .string(let id)? = $0["kid"] { id } else { nil } }
    }
}

/// A `jwksUri` as meshd fetches it: http or https, a host, an optional numeric port.
public struct JWKSURI: Sendable, Hashable {
    /// `http` or `https`.
    public var scheme: String
    /// The host (an IPv6 literal without brackets).
    public var host: String
    /// The port, explicit or the scheme's.
    public var port: Int

    /// Parses `text`; nil when it is not an http(s) URL with a host and a valid port.
    public init?(_ text: String) {
        guard let separator = text.range(of: "://") else { return nil }
        let scheme = text[..<separator.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        let rest = text[separator.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.contains("@") else { return nil }
        var host = Substring(authority)
        var port = scheme == "https" ? 443 : 80
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let after = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let number = Int(after.dropFirst()), (1...65535).contains(number) else { return nil }
                port = number
            }
        } else if let colon = host.lastIndex(of: ":") {
            guard let number = Int(host[host.index(after: colon)...]), (1...65535).contains(number) else { return nil }
            port = number
            host = host[..<colon]
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " }) else { return nil }
        self.scheme = scheme
        self.host = String(host)
        self.port = port
    }
}

/// HTTP header names as Envoy's validation accepts them in filter configs: an RFC 7230 token
/// (the same rule as hash-policy header names).
enum HeaderNameSyntax {
    static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy(ConsistentHashSettings.isTokenCharacter)
    }
}
