import EtcdAPI
import Foundation
import Logging
import ServiceLifecycle
import Storage

/// Lease-based election of the one replica that runs singleton work (etcd housekeeping), while
/// every replica keeps serving xDS, the CA and the admin API.
///
/// A replica campaigns by creating `PREFIX leader` (its name) under a fresh lease in a
/// create-if-absent transaction; whoever created it leads and runs `work` until it can no longer
/// renew the lease within half the TTL — then it stops the work before the lease can expire and
/// another replica take over. Followers retry every `retry`; a leader that shuts down revokes its
/// lease, so the next one starts at once instead of after the TTL.
public final class EtcdElection: Service, Sendable {
    let client: EtcdClient
    let keyspace: EtcdKeyspace
    /// The campaigning replica's name, the value of the leader key.
    public let replicaID: String
    let ttl: Int64
    let retry: Duration
    let logger: Logger
    let work: @Sendable () async -> Void

    /// Creates an election; `work` runs while this replica leads and is cancelled when it stops.
    public init(
        client: EtcdClient, keyspace: EtcdKeyspace, replicaID: String, ttl: Int64 = 10,
        retry: Duration = .seconds(2), logger: Logger, work: @escaping @Sendable () async -> Void
    ) {
        self.client = client
        self.keyspace = keyspace
        self.replicaID = replicaID
        self.ttl = ttl
        self.retry = retry
        self.logger = logger
        self.work = work
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if let lease = try? await self.campaign() {
                    self.logger.notice("leading singleton work", metadata: ["replica": "\(self.replicaID)"])
                    await self.lead(lease)
                    // Shutting down cancels this task, and a cancelled task's calls fail at once:
                    // the revoke runs in a task of its own, so the next leader need not wait
                    // out the lease's TTL.
                    let client = self.client
                    await Task { await client.revoke(lease: lease, what: "resign the singleton election") }.value
                    self.logger.notice("stopped leading singleton work", metadata: ["replica": "\(self.replicaID)"])
                }
                try? await Task.sleep(for: self.retry)
            }
        }
    }

    /// Creates the leader key under a new lease; the lease when this replica won, else nil
    /// (the lease given back).
    private func campaign() async throws(StorageError) -> Int64? {
        let lease = try await client.grantLease(ttl: ttl, what: "campaign for singleton work")
        var absent = EtcdClient.modRevision(keyspace.leader, is: 0)
        absent.target = .create
        absent.createRevision = 0
        var request = Etcdserverpb_TxnRequest()
        request.compare = [absent]
        request.success = [EtcdClient.put(keyspace.leader, Data(replicaID.utf8), lease: lease)]
        do {
            if try await client.txn(request, what: "campaign for singleton work").succeeded { return lease }
        } catch {
            await client.revoke(lease: lease, what: "campaign for singleton work")
            throw error
        }
        await client.revoke(lease: lease, what: "campaign for singleton work")
        return nil
    }

    /// Runs `work` while the lease is renewed in time; returns when it is not (or on cancellation).
    private func lead(_ lease: Int64) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.work() }
            group.addTask { await self.holdLease(lease) }
            // Whichever ends first (losing the lease, cancellation) ends the other.
            await group.next()
            group.cancelAll()
        }
    }

    /// Renews every third of the TTL; returns once a renewal has not succeeded for half the TTL.
    private func holdLease(_ lease: Int64) async {
        var renewed = ContinuousClock.now
        let limit = Duration.seconds(ttl) / 2
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(ttl) / 3)
            if let remaining = try? await client.keepAlive(lease: lease, what: "renew the singleton lease") {
                if remaining <= 0 { return }
                renewed = .now
            }
            if ContinuousClock.now - renewed > limit {
                logger.warning("cannot renew the singleton lease; stopping singleton work", metadata: ["replica": "\(replicaID)"])
                return
            }
        }
    }
}
