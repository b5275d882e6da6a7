import Foundation
import MeshCommon
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
        let canaryRevisions = store.revisions()
        let store = self.store
        group.addTask {
            // Decisions are store writes, so every replica sees each one, whichever drives it.
            var seen = await Self.lastDecisions(store)
            for await _ in canaryRevisions {
                let now = await Self.lastDecisions(store)
                for (key, event) in now.sorted(by: { $0.key < $1.key }) where seen[key] != event {
                    sink.yield(.canary(event))
                }
                seen = now
            }
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

    /// Each canary's newest decision as its event's data: `{namespace, name, phase, weight,
    /// decision, reason, time}`.
    static func lastDecisions(_ store: any ConfigStore) async -> [ConfigKey: JSONValue] {
        guard let canaries = try? await store.list(kind: .canary, namespace: nil) else { return [:] }
        var events: [ConfigKey: JSONValue] = [:]
        for stored in canaries {
            let key = stored.resource.key
            guard let json = stored.resource.status, let status = try? CanaryStatus(json: json, resource: key.description),
                let decision = status.decisions.last
            else { continue }
            events[key] = .object([
                "namespace": .string(key.namespace), "name": .string(key.name), "phase": .string(status.phase.rawValue),
                "weight": .number(Double(status.weight)), "decision": .string(decision.verb.rawValue), "reason": .string(decision.reason),
                "time": .string(decision.time.rfc3339),
            ])
        }
        return events
    }

    /// What the dashboard shows of the proxies, to tell a visible change from an ACK of the
    /// same state.
    static func proxyStates(_ entries: [JSONValue]) -> [JSONValue] {
        entries.compactMap(MeshOverview.proxy)
    }
}
