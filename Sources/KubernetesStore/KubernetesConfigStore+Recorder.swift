import Foundation
import Kubernetes
import MeshModel
import Storage

extension KubernetesConfigStore {
    /// Keeps the ledger recording what the API server holds, until cancelled: run by the one
    /// elected replica (`KubeLeaderElection`).
    ///
    /// After every change of objects or ledger it appends the entry `LedgerState.nextEntry`
    /// gives, as a create of the next revision's ConfigMap. A create that finds the name taken
    /// lost to another recorder (a leader that has not noticed it lost the Lease yet): the
    /// ledger watch brings that entry, and the next turn plans on top of it.
    public func record() async {
        logger.notice("recording Istio config changes in the history ledger", metadata: ["namespace": "\(namespace)"])
        var failures = 0
        let wakes = wakeRecorder.subscribe()
        // One turn now: changes made while no replica was recording are waiting.
        wakeRecorder.publish(0)
        for await _ in wakes {
            while !Task.isCancelled {
                let next = state.withLock { state in
                    state.writing > 0 ? nil : state.ledger.nextEntry(objects: state.objects, deleters: state.deleters, now: Date())
                }
                guard let entry = next else { break }
                do {
                    _ = try await api.request(
                        .POST, "/api/v1/namespaces/\(namespace)/configmaps", body: LedgerCodec.configMap(entry, namespace: namespace),
                        what: "record revision \(entry.revision)")
                    failures = 0
                    logger.info(
                        "recorded config revision",
                        metadata: [
                            "revision": "\(entry.revision)", "changes": "\(entry.record.changes.count)", "actor": "\(entry.record.actor)",
                        ])
                } catch  where error.status == 409 {
                    logger.debug("ledger revision taken by another recorder", metadata: ["revision": "\(entry.revision)"])
                } catch {
                    failures += 1
                    logger.warning("cannot record a config revision; retrying", metadata: ["revision": "\(entry.revision)", "error": "\(error)"])
                    try? await Task.sleep(for: ListWatchMachine.backoff(attempt: failures))
                    continue
                }
                // Applied here too: the next turn must plan on top of it, and the watch's copy
                // of the same entry is then ignored.
                await waitForLedger(beyond: entry.revision - 1)
            }
            if Task.isCancelled { return }
        }
    }

    /// Prunes the history `retention` lets go, every `interval`, until cancelled (singleton work,
    /// beside `record()`): first the floor ConfigMap moves to the revision pruned through, then
    /// the entries at or before it are deleted — but each present resource's newest entry,
    /// which every replica serves the resource's revisions from.
    public func prune(retention: HistoryRetention, interval: Duration) async {
        while !Task.isCancelled {
            await pruneOnce(retention: retention)
            try? await Task.sleep(for: interval)
        }
    }

    func pruneOnce(retention: HistoryRetention) async {
        let (records, pruned) = state.withLock { state in
            (state.ledger.records(after: 0).map { (revision: $0.revision, time: $0.time) }, state.ledger.prunedThrough)
        }
        let path = "/api/v1/namespaces/\(namespace)/configmaps"
        var through = pruned
        if let next = retention.pruneThrough(records, now: Date()), next > pruned {
            guard await moveFloor(to: next, path: path) else { return }
            through = next
        }
        // Also entries kept back before, whose resource has changed or gone since.
        let doomed = state.withLock { state in
            let live = state.ledger.liveRevisions
            return state.entries.filter { $0 <= through && !live.contains($0) }.sorted()
        }
        guard !doomed.isEmpty else { return }
        var deleted = 0
        for revision in doomed {
            do {
                _ = try await api.request(
                    .DELETE, "\(path)/\(LedgerCodec.name(revision: revision))", body: nil, what: "prune history revision \(revision)")
                deleted += 1
            } catch {
                if error.status == 404 { continue }
                logger.warning("cannot prune config history; retrying later", metadata: ["error": "\(error)"])
                break
            }
        }
        logger.info("pruned config history", metadata: ["through": "\(through)", "entries": "\(deleted)"])
    }

    /// Writes the floor ConfigMap; whether it was written.
    private func moveFloor(to through: Int64, path: String) async -> Bool {
        do {
            do {
                _ = try await api.request(
                    .PUT, "\(path)/\(LedgerCodec.floorName)", body: LedgerCodec.floorConfigMap(prunedThrough: through, namespace: namespace),
                    what: "move the history floor to \(through)")
            } catch {
                guard error.status == 404 else { throw error }
                _ = try await api.request(
                    .POST, path, body: LedgerCodec.floorConfigMap(prunedThrough: through, namespace: namespace),
                    what: "set the history floor to \(through)")
            }
        } catch {
            logger.warning("cannot move the history floor; retrying later", metadata: ["error": "\(error)"])
            return false
        }
        return true
    }

    /// Waits (bounded by `recordTimeout`) until the ledger's head is past `revision`.
    func waitForLedger(beyond revision: Int64) async {
        let deadline = ContinuousClock.now + recordTimeout
        while state.withLock({ $0.ledger.head }) <= revision, ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(2))
        }
    }
}
