import EtcdAPI
import Foundation
import GRPCCore
import Logging
import MeshModel
import ServiceLifecycle
import Storage

/// Shares the proxies connected to this replica with the others through etcd, so proxy status
/// on any replica lists every proxy: one key per replica (`PREFIX proxies/REPLICA`), a JSON array
/// of its `/debug/syncz` entries, attached to a lease the replica keeps alive. A replica that
/// dies stops renewing and its key disappears with the lease (`ttl`); one that shuts down
/// revokes it at once.
///
/// Batched: the key is rewritten at most once per `interval`, and only when what it holds
/// changed — never once per ACK, so 10,000 proxies cost one small write a second per replica.
public final class EtcdProxyStatusShare: Service, Sendable {
    let client: EtcdClient
    let keyspace: EtcdKeyspace
    /// This replica's name in the keys and in the `replica` field of entries.
    public let replicaID: String
    let local: @Sendable () -> [JSONValue]
    let logger: Logger
    let interval: Duration
    /// Lease time-to-live, seconds: how long a dead replica's proxies stay listed.
    let ttl: Int64

    /// Creates the share; `local` returns this replica's entries (called every `interval`).
    public init(client: EtcdClient, keyspace: EtcdKeyspace, replicaID: String, logger: Logger,
                interval: Duration = .seconds(1), ttl: Int64 = 10, local: @escaping @Sendable () -> [JSONValue]) {
        self.client = client
        self.keyspace = keyspace
        self.replicaID = replicaID
        self.local = local
        self.logger = logger
        self.interval = interval
        self.ttl = ttl
    }

    public func run() async throws {
        let lease = await cancelWhenGracefulShutdown { await self.loop() }
        if lease != 0 { await revoke(lease) }
    }

    /// Publishes until cancelled; returns the lease held at the end (0: none).
    private func loop() async -> Int64 {
        var lease: Int64 = 0
        var written: String?
        var renewed = ContinuousClock.now
        let renewEvery = Duration.seconds(max(1, ttl / 3))
        while !Task.isCancelled {
            do {
                if lease == 0 {
                    lease = try await grant()
                    written = nil
                    renewed = .now
                }
                let text = JSONValue.array(local()).canonicalJSON()
                if text != written {
                    try await put(text, lease: lease)
                    written = text
                }
                if ContinuousClock.now - renewed >= renewEvery {
                    if try await keepAlive(lease) <= 0 { lease = 0 }  // expired while etcd was away
                    renewed = .now
                }
            } catch {
                // A put with a lease etcd no longer has fails; anything else is etcd trouble,
                // retried next round (the store's probe reports it).
                if "\(error)".contains("lease not found") { lease = 0 }
                logger.debug("sharing proxy status through etcd failed; retrying", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
        return lease
    }

    /// The entries the other replicas last shared, each tagged with its `replica`; empty when
    /// etcd cannot be read (a serializable read: any member answers, quorum or not).
    public func peerEntries() async -> [JSONValue] {
        var request = Etcdserverpb_RangeRequest()
        request.key = keyspace.proxiesStart
        request.rangeEnd = EtcdKeyspace.rangeEnd(keyspace.proxiesStart)
        request.serializable = true
        guard let response = try? await client.range(request, what: "read shared proxy status", timeout: .seconds(2)) else {
            return []
        }
        let own = keyspace.proxies(replica: replicaID)
        var entries: [JSONValue] = []
        for kv in response.kvs where kv.key != own {
            let replica = String(decoding: kv.key.dropFirst(keyspace.proxiesStart.count), as: UTF8.self)
            guard case .array(let shared)? = try? JSONValue.parse(json: String(decoding: kv.value, as: UTF8.self)) else { continue }
            for entry in shared {
                guard case .object(var members) = entry else { continue }
                members["replica"] = .string(replica)
                entries.append(.object(members))
            }
        }
        return entries
    }

    private func grant() async throws(StorageError) -> Int64 {
        var request = Etcdserverpb_LeaseGrantRequest()
        request.ttl = ttl
        let options = client.options()
        return try await client.call("grant the proxy-status lease") { grpc in
            try await Etcdserverpb_Lease.Client(wrapping: grpc).leaseGrant(request, options: options).id
        }
    }

    private func put(_ text: String, lease: Int64) async throws(StorageError) {
        var request = Etcdserverpb_PutRequest()
        request.key = keyspace.proxies(replica: replicaID)
        request.value = Data(text.utf8)
        request.lease = lease
        let options = client.options()
        _ = try await client.call("share proxy status") { grpc in
            try await Etcdserverpb_KV.Client(wrapping: grpc).put(request, options: options)
        }
    }

    /// One keep-alive round trip; returns the lease's remaining TTL (0 or less: gone).
    private func keepAlive(_ lease: Int64) async throws(StorageError) -> Int64 {
        var request = Etcdserverpb_LeaseKeepAliveRequest()
        request.id = lease
        let message = request
        let options = client.options()
        return try await client.call("renew the proxy-status lease") { grpc in
            try await Etcdserverpb_Lease.Client(wrapping: grpc).leaseKeepAlive(options: options) { writer in
                try await writer.write(message)
            } onResponse: { response in
                for try await answer in response.messages { return answer.ttl }
                return 0
            }
        }
    }

    private func revoke(_ lease: Int64) async {
        var request = Etcdserverpb_LeaseRevokeRequest()
        request.id = lease
        let options = client.options(timeout: .seconds(1))
        _ = try? await client.call("revoke the proxy-status lease") { grpc in
            try await Etcdserverpb_Lease.Client(wrapping: grpc).leaseRevoke(request, options: options)
        }
    }
}
