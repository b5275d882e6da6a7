import Foundation
import Kubernetes
import Logging
import MeshModel
import ServiceLifecycle

/// Shares the proxies connected to this replica with the others through the API server, so
/// proxy status on any replica lists every proxy (as meshd on etcd does): one ConfigMap per
/// replica, `meshd-proxies-REPLICA` in meshd's namespace, labelled `meshd.io/proxy-status=true`,
/// holding its `/debug/syncz` entries and when it last renewed them.
///
/// Written when the entries change, at most every `interval`, and renewed every `renewEvery`
/// even when they do not; readers skip a replica that has not renewed for `staleAfter` (it
/// died without deleting its ConfigMap). A replica that shuts down deletes its own. A
/// ConfigMap holds at most 1 MiB, so a replica shares its first entries up to `maxBytes` and
/// says how many it left out.
public final class KubeProxyStatusShare: Service, Sendable {
    let api: KubeAPIClient
    let namespace: String
    /// This replica's name, in the ConfigMap's name and each entry's `replica`.
    public let replicaID: String
    let local: @Sendable () -> [JSONValue]
    let logger: Logger
    let interval: Duration
    let renewEvery: Duration
    /// A peer whose ConfigMap was not renewed for this long is left out.
    let staleAfter: TimeInterval
    let maxBytes: Int

    /// The label every share ConfigMap carries (value `true`).
    static let label = "meshd.io/proxy-status"

    public init(
        api: KubeAPIClient, namespace: String, replicaID: String, logger: Logger, interval: Duration = .seconds(2),
        renewEvery: Duration = .seconds(15), staleAfter: TimeInterval = 60, maxBytes: Int = 900 * 1024,
        local: @escaping @Sendable () -> [JSONValue]
    ) {
        self.api = api
        self.namespace = namespace
        self.replicaID = replicaID
        self.local = local
        self.logger = logger
        self.interval = interval
        self.renewEvery = renewEvery
        self.staleAfter = staleAfter
        self.maxBytes = maxBytes
    }

    /// `meshd-proxies-REPLICA`, the replica's name made a valid object name.
    var configMapName: String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-.")
        let safe = String(replicaID.lowercased().map { allowed.contains($0) ? $0 : "-" })
        let trimmed = safe.trimmingCharacters(in: CharacterSet(charactersIn: "-."))
        return "meshd-proxies-" + String((trimmed.isEmpty ? "replica" : trimmed).prefix(200))
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.loop() }
        // Gone at once rather than stale for a minute.
        await Task.detached { await self.deleteOwn() }.value
    }

    private func deleteOwn() async {
        let path = "/api/v1/namespaces/\(namespace)/configmaps/\(configMapName)"
        do {
            _ = try await api.request(.DELETE, path, body: nil, what: "delete the proxy-status share")
        } catch {
            logger.debug("cannot delete the proxy-status share", metadata: ["error": "\(error)"])
        }
    }

    private func loop() async {
        var written: String?
        var renewed = ContinuousClock.now
        while !Task.isCancelled {
            let (entries, omitted) = Self.bounded(local(), maxBytes: maxBytes)
            let text = JSONValue.array(entries).canonicalJSON()
            if text != written || ContinuousClock.now - renewed >= renewEvery {
                do {
                    try await write(entries: text, omitted: omitted)
                    written = text
                    renewed = .now
                } catch {
                    logger.debug("sharing proxy status through the API server failed; retrying", metadata: ["error": "\(error)"])
                }
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// The first entries whose JSON fits `maxBytes`, and how many were left out.
    static func bounded(_ entries: [JSONValue], maxBytes: Int) -> ([JSONValue], Int) {
        var kept: [JSONValue] = []
        var bytes = 2
        for entry in entries {
            let size = entry.canonicalJSON().utf8.count + 1
            if bytes + size > maxBytes { break }
            bytes += size
            kept.append(entry)
        }
        return (kept, entries.count - kept.count)
    }

    /// Replaces this replica's ConfigMap (creating it the first time).
    private func write(entries: String, omitted: Int) async throws(KubeAPIError) {
        let path = "/api/v1/namespaces/\(namespace)/configmaps"
        let object: JSONValue = .object([
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": .object([
                "name": .string(configMapName), "namespace": .string(namespace), "labels": .object([Self.label: "true"]),
            ]),
            "data": .object([
                "replica": .string(replicaID), "renewed": .string(Date().timeIntervalSince1970.description), "entries": .string(entries),
                "omitted": .string(String(omitted)),
            ]),
        ])
        do {
            _ = try await api.request(.PUT, "\(path)/\(configMapName)", body: object.canonicalJSON(), what: "share proxy status")
        } catch {
            guard error.status == 404 else { throw error }
            _ = try await api.request(.POST, path, body: object.canonicalJSON(), what: "share proxy status")
        }
    }

    /// The entries the other replicas last shared, each tagged with its `replica`; empty when the
    /// API server cannot be read.
    public func peerEntries() async -> [JSONValue] {
        let collection = KubeCollection(
            path: "/api/v1/namespaces/\(namespace)/configmaps", labelSelector: "\(Self.label)=true", name: "proxy-status share")
        guard let maps = try? await api.listAll(collection) else { return [] }
        let now = Date().timeIntervalSince1970
        var entries: [JSONValue] = []
        for map in maps where map.key.name != configMapName {
            guard let replica = map.body["data"]?["replica"]?.stringValue,
                let renewed = map.body["data"]?["renewed"]?.stringValue.flatMap(Double.init), now - renewed < staleAfter,
                let text = map.body["data"]?["entries"]?.stringValue, case .array(let list)? = try? JSONValue.parse(json: text)
            else { continue }
            entries += list.map { Self.tagged($0, replica: replica) }
        }
        return entries
    }

    private static func tagged(_ entry: JSONValue, replica: String) -> JSONValue {
        guard case .object(var members) = entry else { return entry }
        members["replica"] = .string(replica)
        return .object(members)
    }
}
