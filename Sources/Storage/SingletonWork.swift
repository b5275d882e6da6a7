import Synchronization

/// Work that runs on one replica at a time: whatever the store's election (or, for a lone
/// SQLite meshd, the process itself) runs while it leads. Jobs are added while meshd is wired,
/// before the election starts; `run` runs each of them until it is cancelled — the leader
/// stopping — and runs them afresh the next time this replica leads.
public final class SingletonWork: Sendable {
    private let jobs = Mutex<[@Sendable () async -> Void]>([])

    /// An empty set of jobs.
    public init() {}

    /// Adds a job; it runs from the next time `run` is called.
    public func add(_ job: @escaping @Sendable () async -> Void) {
        jobs.withLock { $0.append(job) }
    }

    /// Runs every job until all return or the calling task is cancelled.
    public func run() async {
        let current = jobs.withLock { $0 }
        await withDiscardingTaskGroup { group in
            for job in current { group.addTask { await job() } }
        }
    }
}
