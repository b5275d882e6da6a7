import Foundation
import Storage

/// When each resource was created, for `metadata.creationTimestamp` (kubectl's AGE): the time
/// of the history record at the resource's `createdRevision`.
///
/// Every store keeps that record (SQLite, etcd and the Kubernetes ledger alike), so no store
/// schema changes; a revision's time never changes, so it is cached for good. A resource whose
/// creation record was pruned (`--history-retention`) has no timestamp, and kubectl's
/// `<unknown>` is what meshctl shows.
actor CreationTimes {
    private let store: any ConfigStore
    private var times: [Int64: Date] = [:]
    /// The newest revision the cache has read the history up to.
    private var readThrough: Int64 = 0
    /// Bounds the cache (one entry per revision that created a resource still asked about).
    static let capacity = 100_000

    init(store: any ConfigStore) {
        self.store = store
    }

    /// The creation times of `revisions` that history still holds. Reads the history again
    /// only when asked about a revision newer than the last read.
    func times(of revisions: Set<Int64>) async -> [Int64: Date] {
        if revisions.contains(where: { times[$0] == nil && $0 > readThrough }) {
            await refresh()
        }
        var found: [Int64: Date] = [:]
        for revision in revisions { found[revision] = times[revision] }
        return found
    }

    private func refresh() async {
        // A failed read leaves AGE unknown for this answer; the listing itself must not fail.
        guard let page = try? await store.history(HistoryQuery(limit: .max)) else { return }
        if times.count > Self.capacity { times.removeAll() }
        for record in page.items { times[record.revision] = record.time }
        readThrough = max(readThrough, page.items.first?.revision ?? readThrough)
    }
}
