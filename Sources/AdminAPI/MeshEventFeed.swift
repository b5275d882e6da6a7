import MeshModel
import PushPipeline
import Storage
import XDSCore

/// What one dashboard event stream follows: the store's change feed, the connected proxies'
/// states (this replica's and, on etcd, its peers'), and a keep-alive clock.
///
/// Every producer yields into one `AsyncStream` that the response writer drains, so the writer
/// stays the only task writing to the connection.
struct MeshEventFeed: Sendable {
    let store: any ConfigStore
    let statuses: ProxyStatusRegistry
    let peers: (any PeerProxyStatuses)?
    /// The gap between keep-alive comments.
    var keepAlive: Duration = .seconds(15)
    /// The shortest gap between two `proxies` events: proxies change state on every push and
    /// ACK, and a page needs a refetch, not one per ACK.
    var proxiesInterval: Duration = .milliseconds(500)
    /// How often the peers' shared statuses (one etcd read) are compared with the last ones.
    var peerPoll: Duration = .seconds(5)

    /// Starts the producers as child tasks of `group`; each runs until the group is cancelled.
    func start(in group: inout ThrowingTaskGroup<Void, any Error>, sink: AsyncStream<ServerSentEvent>.Continuation) {
        let revisions = store.revisions()
        group.addTask {
            for await revision in revisions { sink.yield(.revision(revision)) }
        }
        let changes = statuses.changes()
        let registry = self.statuses
        let interval = proxiesInterval
        group.addTask {
            var last = Self.proxyStates(SynczEntries.local(registry))
            for await _ in changes {
                let now = Self.proxyStates(SynczEntries.local(registry))
                if now != last {
                    last = now
                    sink.yield(.proxies)
                    // Coalesce: changes during the pause leave one pending signal, read after it.
                    try? await Task.sleep(for: interval)
                }
            }
        }
        if let shared = self.peers {
            let poll = peerPoll
            group.addTask {
                var last = Self.proxyStates(await shared.peerEntries())
                while !Task.isCancelled {
                    try? await Task.sleep(for: poll)
                    if Task.isCancelled { break }
                    let now = Self.proxyStates(await shared.peerEntries())
                    if now != last {
                        last = now
                        sink.yield(.proxies)
                    }
                }
            }
        }
        let idle = keepAlive
        group.addTask {
            while !Task.isCancelled {
                try? await Task.sleep(for: idle)
                if Task.isCancelled { break }
                sink.yield(.keepAlive)
            }
        }
    }

    /// What the dashboard shows of the proxies, to tell a visible change from an ACK of the
    /// same state.
    static func proxyStates(_ entries: [JSONValue]) -> [JSONValue] {
        entries.compactMap(MeshOverview.proxy)
    }
}
