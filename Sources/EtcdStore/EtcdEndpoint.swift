import Foundation
import Storage

/// One etcd member's client address, from `--store etcd://HOST:PORT[,HOST:PORT…]`.
public struct EtcdEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// A host name or an IP literal (IPv6 without brackets).
    public var host: String
    /// The client port (etcd's default is 2379).
    public var port: Int

    /// Creates an endpoint.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The members named by a store URL: `etcd://HOST:PORT[,HOST:PORT…]` (a missing port is 2379;
    /// IPv6 literals in brackets). Throws a message naming the bad part.
    public static func parse(storeURL: String) throws(StorageError) -> [EtcdEndpoint] {
        let scheme = "etcd://"
        guard storeURL.hasPrefix(scheme) else {
            throw StorageError(code: .database, message: "--store \(storeURL): expected sqlite or etcd://HOST:PORT[,HOST:PORT...]")
        }
        var endpoints: [EtcdEndpoint] = []
        for part in storeURL.dropFirst(scheme.count).split(separator: ",", omittingEmptySubsequences: false) {
            let text = part.trimmingCharacters(in: .whitespaces).trimmingSuffix("/")
            guard let endpoint = parseOne(text) else {
                throw StorageError(code: .database, message: "--store \(storeURL): \"\(text)\" is not HOST:PORT")
            }
            endpoints.append(endpoint)
        }
        guard !endpoints.isEmpty else {
            throw StorageError(code: .database, message: "--store \(storeURL): no etcd endpoint")
        }
        return endpoints
    }

    private static func parseOne(_ text: String) -> EtcdEndpoint? {
        var host = text
        var portText: Substring = "2379"
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return nil }
                portText = rest.dropFirst()
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains("/"), !host.contains("@"),
            let port = Int(portText), (1...65_535).contains(port)
        else { return nil }
        return EtcdEndpoint(host: host, port: port)
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
