import EtcdAPI
import Foundation
import Logging
import Storage

/// Singleton housekeeping (run by the elected replica): compacts etcd's history, as
/// kube-apiserver does, so meshd's writes — every proxy-status round adds revisions — do not
/// grow etcd's database until it hits its space quota.
///
/// Every `interval` it compacts to the revision it saw one interval earlier, so at least one
/// interval of history stays for watches to resume from (a watch further behind relists).
/// Compaction is cluster-wide: with etcd's own `--auto-compaction-*` set, turn this off.
public struct EtcdCompactor: Sendable {
    let client: EtcdClient
    let interval: Duration
    let logger: Logger

    /// Creates a compactor.
    public init(client: EtcdClient, interval: Duration, logger: Logger) {
        self.client = client
        self.interval = interval
        self.logger = logger
    }

    /// Runs until cancelled.
    public func run() async {
        var previous: Int64?
        while !Task.isCancelled {
            do {
                var probe = Etcdserverpb_RangeRequest()
                probe.key = Data([0])
                probe.countOnly = true
                let now = try await client.range(probe, what: "read the revision to compact to").header.revision
                if let previous, previous > 0 {
                    try await compact(to: previous)
                    logger.info("compacted etcd history", metadata: ["revision": "\(previous)"])
                }
                previous = now
            } catch {
                // Compacted already (by etcd's own policy, or another meshd), or etcd is away:
                // the next round tries again.
                logger.debug("etcd compaction skipped", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// One compaction to `revision`.
    func compact(to revision: Int64) async throws(StorageError) {
        var request = Etcdserverpb_CompactionRequest()
        request.revision = revision
        let options = client.options()
        _ = try await client.call("compact etcd history") { grpc in
            try await Etcdserverpb_KV.Client(wrapping: grpc).compact(request, options: options)
        }
    }
}
