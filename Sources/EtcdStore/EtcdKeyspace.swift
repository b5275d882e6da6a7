import Foundation
import MeshModel
import Storage

/// Where meshd keeps things in etcd, under one prefix (`--etcd-prefix`, default `/meshd/`):
///
/// - `PREFIX config/KIND/NAMESPACE/NAME`: one config resource, its value the canonical JSON of
///   `{apiVersion, labels, annotations, spec}` (revisions are etcd's own, never in the value);
/// - `PREFIX identity`: the cluster identity, its secrets sealed (`SealedIdentity`);
/// - `PREFIX proxies/REPLICA/CONNECTION`: one proxy stream of a replica, under its lease;
/// - `PREFIX leader`: the replica that runs singleton work, under its lease;
/// - `PREFIX history/UUID`: one config change's history record (`HistoryCodec`), written in the
///   change's own transaction, so its create_revision is the change's revision;
/// - `PREFIX history-floor`: the oldest revision history can reconstruct (decimal text);
/// - `PREFIX vault/NAMESPACE/NAME/DIGEST`: a gateway credential's key material, sealed
///   (`EtcdCredentialVault`).
public struct EtcdKeyspace: Sendable, Hashable {
    /// The prefix every key starts with, ending in `/`.
    public let prefix: String

    /// Creates a keyspace; a missing trailing `/` is added.
    public init(prefix: String = "/meshd/") {
        self.prefix = prefix.hasSuffix("/") ? prefix : prefix + "/"
    }

    /// The etcd key of one resource.
    public func key(_ key: ConfigKey) -> Data {
        Data("\(prefix)config/\(key.kind.rawValue)/\(key.namespace)/\(key.name)".utf8)
    }

    /// The first key of the config range.
    public var configStart: Data { Data("\(prefix)config/".utf8) }
    /// The end (exclusive) of the config range: the prefix with its last byte incremented.
    public var configEnd: Data { Self.rangeEnd(configStart) }
    /// The first key of one replica's shared proxy statuses.
    public func proxies(replica: String) -> Data { Data("\(prefix)proxies/\(replica)/".utf8) }
    /// The first key of the shared proxy statuses.
    public var proxiesStart: Data { Data("\(prefix)proxies/".utf8) }
    /// The singleton election's key.
    public var leader: Data { Data("\(prefix)leader".utf8) }
    /// A new history record's key.
    public func historyKey(_ id: UUID) -> Data { Data("\(prefix)history/\(id.uuidString.lowercased())".utf8) }
    /// The first key of the history range.
    public var historyStart: Data { Data("\(prefix)history/".utf8) }
    /// The end (exclusive) of the history range.
    public var historyEnd: Data { Self.rangeEnd(historyStart) }
    /// The history floor's key (outside the history range: `-` sorts before `/`).
    public var historyFloor: Data { Data("\(prefix)history-floor".utf8) }
    /// The vault key of one credential's material (`digest` empty: the credential's range start).
    public func vaultKey(namespace: String, name: String, digest: String) -> Data {
        Data("\(prefix)vault/\(namespace)/\(name)/\(digest)".utf8)
    }
    /// The identity record's key.
    public var identity: Data { Data("\(prefix)identity".utf8) }

    /// The resource key an etcd key names, or nil for a key outside the config range or one
    /// whose kind this meshd does not know (written by a newer meshd: left alone, not deleted).
    public func configKey(_ bytes: Data) -> ConfigKey? {
        guard let text = String(data: bytes, encoding: .utf8), text.hasPrefix("\(prefix)config/") else { return nil }
        let parts = text.dropFirst(prefix.count + "config/".count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, let kind = ConfigKind(rawValue: String(parts[0])) else { return nil }
        return ConfigKey(kind: kind, namespace: String(parts[1]), name: String(parts[2]))
    }

    /// The range end covering every key that starts with `start`.
    static func rangeEnd(_ start: Data) -> Data {
        var end = Array(start)
        while let last = end.last {
            if last < 0xff {
                end[end.count - 1] = last + 1
                return Data(end)
            }
            end.removeLast()
        }
        return Data([0])
    }

    /// The stored value of a resource: canonical JSON, so identical content is identical bytes.
    public static func encode(_ resource: ConfigResource) -> Data {
        Data(ResourceEnvelope.encode(resource).canonicalJSON().utf8)
    }

    /// A resource from its key and stored value.
    public static func decode(_ key: ConfigKey, _ value: Data) throws(StorageError) -> ConfigResource {
        let json: JSONValue
        do {
            json = try JSONValue.parse(json: String(decoding: value, as: UTF8.self))
        } catch {
            throw StorageError(code: .database, message: "etcd value of \(key) is not JSON", cause: error)
        }
        guard let resource = ResourceEnvelope.decode(key, json) else {
            throw StorageError(code: .database, message: "etcd value of \(key) has no apiVersion")
        }
        return resource
    }
}
