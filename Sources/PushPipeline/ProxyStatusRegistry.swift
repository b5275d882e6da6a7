import Foundation
import Synchronization
import Translator
import XDSCore

/// What `/debug/syncz` shows for one connected stream.
///
/// It keeps the stream's machine (a value: copying it shares its storage; held as an
/// existential so SotW and Delta streams sit side by side, at the cost of one small box per
/// record) and derives the per-type view only when read, so recording a stream's state after
/// every request and push costs one dictionary store under the lock, not a rebuilt status.
public struct ProxyStatus: Sendable {
    public var connectionID: String
    public var connectedAt: Date
    /// The stream's protocol state when it last handled an event (either protocol).
    let machine: any StreamStatusSource
    /// Who the proxy is, once its first request named it.
    public var proxy: Proxy?

    /// `"sotw"` or `"delta"`: the ADS protocol the stream speaks.
    public var protocolName: String { machine.protocolName }

    /// The node id the proxy sent (the connection id until it sends one).
    public var proxyID: String { proxy?.id ?? machine.nodeID ?? connectionID }

    /// Status by short type name (LDS, RDS, CDS, EDS) for the types the proxy subscribed to.
    public var types: [String: TypeStatus] {
        var types: [String: TypeStatus] = [:]
        for typeURL in machine.subscribedTypes { types[machine.registry.shortName(typeURL)] = machine.status(of: typeURL) }
        return types
    }

    /// The snapshot the stream last sent from, for `/debug/config_dump`.
    public var snapshot: ProxySnapshot? { machine.snapshot }

    /// True when every subscribed type is SYNCED.
    public var synced: Bool { machine.synced }

    /// What the proxy subscribes to, by type URL (what a change would send it).
    public var subscriptions: [String: ResourceSubscription] { machine.subscriptions }
}

/// Connected proxies and where each stands; written by streams, read by the admin API.
///
/// Readers that want to follow changes (the dashboard's event stream) take `changes()`: one
/// pending signal per watcher at most, so a busy mesh costs a watcher nothing between reads
/// and costs the streams' hot path one check of an empty dictionary when nobody watches.
public final class ProxyStatusRegistry: Sendable {
    private struct State {
        var entries: [String: ProxyStatus] = [:]
    }

    private let state = Mutex(State())
    private let signal = ChangeSignal()

    public init() {}

    /// Records a stream's state after it handled an event.
    public func update(connectionID: String, connectedAt: Date, machine: some StreamStatusSource, proxy: Proxy? = nil) {
        let status = ProxyStatus(connectionID: connectionID, connectedAt: connectedAt, machine: machine, proxy: proxy)
        state.withLock { $0.entries[connectionID] = status }
        signal.signal()
    }

    /// Forgets a closed stream.
    public func remove(connectionID: String) {
        if state.withLock({ $0.entries.removeValue(forKey: connectionID) != nil }) { signal.signal() }
    }

    /// A signal after each recorded change (a stream's state, a stream gone), coalesced: however
    /// far behind a consumer falls it holds at most one pending signal. Ends when the consumer
    /// stops iterating.
    public func changes() -> AsyncStream<Void> {
        signal.changes()
    }

    /// How many consumers follow `changes()`.
    public var watcherCount: Int { signal.consumerCount }

    /// Every connected stream, sorted by proxy id.
    public var all: [ProxyStatus] {
        state.withLock { Array($0.entries.values) }.sorted { ($0.proxyID, $0.connectionID) < ($1.proxyID, $1.connectionID) }
    }

    /// The most recent stream of a proxy id.
    public func proxy(_ proxyID: String) -> ProxyStatus? {
        all.filter { $0.proxyID == proxyID }.max { $0.connectedAt < $1.connectedAt }
    }

    /// How many streams are open.
    public var count: Int { state.withLock { $0.entries.count } }
}
