import PushPipeline
import Translator
import XDSCore

/// The incremental (Delta) ADS protocol for one stream, as a value type that returns events.
///
/// No I/O, like `StreamStateMachine`: the server feeds it requests and snapshots and performs
/// the events it returns, in order. Rules it implements (Envoy's incremental xDS):
/// - Subscriptions per type: the first request of a type that subscribes to no name is a
///   (legacy) wildcard subscription, and so is subscribing to `*` at any time; unsubscribing
///   from `*` ends it. Named subscriptions accumulate across requests until unsubscribed.
/// - The client holds what it was sent, plus, on a stream's first request of a type, what its
///   `initial_resource_versions` declare (a reconnect): only what differs is sent, and names
///   it holds that no longer exist come back in `removed_resources`.
/// - A response carries a fresh nonce, the added and changed resources with their versions, and
///   `removed_resources` for deleted ones the client holds (wildcard: every deleted one; named:
///   the deleted names it subscribed to). A subscribed name that does not exist gets nothing
///   until it is created; then it is sent once.
/// - ACK = the latest nonce without `error_detail`; NACK = with it (recorded, nothing resent);
///   an older nonce is stale: its ACK or NACK is ignored, but the subscription changes it
///   carries are still applied (Delta requests are diffs: dropping one would lose them for good).
/// - A request that only unsubscribes, and a push that changes nothing the proxy holds or wants,
///   get no response at all. The first wildcard request of a type is always answered, even
///   empty, so the proxy's initial fetch completes.
/// - Make-before-break as in state of the world (`MakeBeforeBreak`): CDS and EDS updates, LDS,
///   RDS, then removed clusters and their endpoints last.
/// - Unknown types: answered empty and not tracked, as state of the world does.
/// - A type registered as not withdrawing deleted resources (SDS) never sends
///   `removed_resources`: the proxy keeps what it holds, as in state of the world.
/// - `system_version_info` is the content version of the set the proxy holds of that type after
///   applying the response: the `version_info` state of the world would send for that set.
public struct DeltaStreamStateMachine: Sendable {
    /// What the server must do or record, in order.
    public typealias Event = XDSEvent

    struct TypeState: Sendable {
        var wildcard = false
        /// Explicit subscriptions (kept while wildcard, so that ending wildcard keeps them).
        var names: Set<String> = []
        var held = HeldResources()
        var tracker = ResponseTracker()

        func wants(_ name: String) -> Bool { wildcard || names.contains(name) }
    }

    private var nonces: NonceSequence
    /// The types served, their push order and how responses carry them.
    public let registry: XDSTypeRegistry
    private var types: [String: TypeState] = [:]
    private var order = MakeBeforeBreak()
    /// Types first requested before the stream had a snapshot: the first push answers them as
    /// the request would have been (removals included, and wildcard even when empty).
    private var unanswered: Set<String> = []

    /// The node id from the stream's first request.
    public private(set) var nodeID: String?
    /// The snapshot responses are built from.
    public private(set) var snapshot: ProxySnapshot?

    /// A machine for a new stream; `streamID` prefixes its nonces so they are unique per server.
    public init(streamID: String, snapshot: ProxySnapshot? = nil, registry: XDSTypeRegistry = .standard) {
        self.nonces = NonceSequence(streamID: streamID)
        self.snapshot = snapshot
        self.registry = registry
    }

    /// The type URLs the proxy has subscribed to.
    public var subscribedTypes: [String] { types.keys.sorted() }

    /// Per-type status for proxy-status and `/debug/syncz`.
    public func status(of typeURL: String) -> TypeStatus {
        types[typeURL]?.tracker.status ?? TypeStatus(status: .notSent)
    }

    /// The names the proxy subscribes to by name in `typeURL`.
    public func subscribedNames(_ typeURL: String) -> Set<String> { types[typeURL]?.names ?? [] }

    /// Whether the proxy subscribes to every resource of `typeURL`.
    public func isWildcard(_ typeURL: String) -> Bool { types[typeURL]?.wildcard ?? false }

    /// The most names the stream subscribes to by name in any one type. Subscriptions
    /// accumulate across requests, so the server bounds this total, not just each request.
    /// (What a wildcard stream holds is meshd's own config, and initial versions are read from
    /// one, already bounded, request.)
    public var largestSubscription: Int { types.values.reduce(0) { max($0, $1.names.count) } }

    // MARK: - Requests

    /// Handles one request from the proxy.
    public mutating func receive(_ request: DeltaDiscoveryRequestInfo) -> [Event] {
        if nodeID == nil, let node = request.nodeID, !node.isEmpty { nodeID = node }
        let typeURL = request.typeURL
        guard registry.serves(typeURL) else {
            return nonces.answerUnknownType(typeURL, responseNonce: request.responseNonce)
        }
        let first = types[typeURL] == nil
        // Out of `types` while it changes, so its collections mutate in place.
        var state = types.removeValue(forKey: typeURL) ?? TypeState()
        var events: [Event] = []
        if !request.responseNonce.isEmpty {
            let answer = state.tracker.answer(nonce: request.responseNonce, error: request.errorDetail)
            events.append(ResponseTracker.event(answer, typeURL: typeURL, nonce: request.responseNonce))
        }

        let subscribe = Set(request.subscribe)
        let unsubscribe = Set(request.unsubscribe)
        let wasWildcard = state.wildcard
        let before = state.names
        if (first && subscribe.isEmpty) || subscribe.contains("*") { state.wildcard = true }
        if unsubscribe.contains("*") { state.wildcard = false }
        state.names.formUnion(subscribe)
        state.names.subtract(unsubscribe)
        state.names.remove("*")
        if first {
            for (name, version) in request.initialVersions where state.wants(name) {
                state.held.insert(name: name, version: version)
            }
        }
        // The client drops what it unsubscribes from: nothing is removed for it, and it is
        // sent again if subscribed again.
        if !unsubscribe.isEmpty { state.held.keep(where: state.wants) }
        types[typeURL] = state

        // What the request newly wants; nil: everything it wants (a first request, or wildcard
        // turned on).
        let newly: Set<String>? =
            first || (state.wildcard && !wasWildcard)
            ? nil
            : (state.wildcard ? [] : subscribe.subtracting(before).subtracting(["*"]))
        if snapshot == nil {
            if first { unanswered.insert(typeURL) }
        } else if newly.map({ !$0.isEmpty }) ?? true {
            events += respond(typeURL, force: first && state.wildcard, removals: true, only: newly)
        }
        if typeURL == TypeURL.endpoint {
            var order = self.order
            events += order.endpointsRequested(&self)
            self.order = order
        }
        return events
    }

    // MARK: - Pushes

    /// Moves to a new snapshot and returns what must be sent, in make-before-break order.
    public mutating func push(_ newSnapshot: ProxySnapshot) -> [Event] {
        snapshot = newSnapshot
        var order = self.order
        defer { self.order = order }
        return order.push(&self)
    }

    // MARK: - Internals

    /// Sends what differs between what the proxy holds of `typeURL` and what it wants that
    /// exists: added and changed resources, and (with `removals`) the held names that no longer
    /// exist. `only` narrows it to some names; `force` answers even when nothing differs.
    private mutating func respond(_ typeURL: String, force: Bool = false, removals: Bool, only: Set<String>? = nil) -> [Event] {
        guard let snapshot, var state = types.removeValue(forKey: typeURL) else { return [] }
        defer { types[typeURL] = state }
        let answering = unanswered.remove(typeURL) != nil
        let force = force || (answering && state.wildcard)
        let removals = removals || answering
        let available = snapshot.of(typeURL)
        var updates: [XDSResource]
        if let only {
            updates = only.compactMap { state.wants($0) ? available[$0] : nil }
        } else if state.wildcard {
            updates = Array(available.values)
        } else {
            updates = state.names.compactMap { available[$0] }
        }
        updates.removeAll { state.held.version(of: $0.name) == $0.version }
        var removed: [String] = []
        if removals, registry.type(typeURL)?.withdrawsDeleted ?? true {
            removed = state.held.names.filter { available[$0] == nil && (only?.contains($0) ?? true) }
        }
        guard force || !updates.isEmpty || !removed.isEmpty else { return [] }
        for resource in updates { state.held.insert(resource) }
        for name in removed { state.held.remove(name) }
        let nonce = nonces.next()
        let version = state.held.version
        state.tracker.sent(nonce: nonce, version: version)
        return [
            .send(
                DiscoveryResponseInfo(
                    typeURL: typeURL, versionInfo: version, nonce: nonce,
                    resources: updates.sorted { $0.name < $1.name },
                    removedResources: removed.sorted()))
        ]
    }

    /// Whether the proxy holds a name of `typeURL` that no longer exists.
    private func removalsPending(_ typeURL: String) -> Bool {
        guard let state = types[typeURL] else { return false }
        let available = snapshot?.of(typeURL) ?? [:]
        return state.held.names.contains { available[$0] == nil }
    }
}

extension DeltaStreamStateMachine: MakeBeforeBreakSteps {
    mutating func sendClustersKeepingRemoved() -> (events: [Event], added: Set<String>, removing: Bool) {
        // Endpoints of a removed cluster go with it, after the routes stop naming it.
        let removing = removalsPending(TypeURL.cluster) || removalsPending(TypeURL.endpoint)
        guard let clusters = types[TypeURL.cluster] else { return ([], [], removing) }
        let available = snapshot?.of(TypeURL.cluster) ?? [:]
        let added = Set(available.keys.filter { clusters.wants($0) && !clusters.held.contains($0) })
        return (respond(TypeURL.cluster, removals: false), added, removing)
    }

    mutating func sendChanges(_ typeURL: String) -> [Event] {
        respond(typeURL, removals: typeURL != TypeURL.cluster && typeURL != TypeURL.endpoint)
    }

    mutating func sendRemovals() -> [Event] {
        respond(TypeURL.cluster, removals: true) + respond(TypeURL.endpoint, removals: true)
    }

    var watchesEndpoints: Bool { types[TypeURL.endpoint] != nil }

    func holdsEndpoints(_ cluster: String) -> Bool { types[TypeURL.endpoint]?.held.contains(cluster) ?? false }

    func changedRoutesName(anyOf clusters: Set<String>) -> Bool {
        guard let routes = types[TypeURL.route] else { return false }
        return (snapshot?.of(TypeURL.route) ?? [:]).values.contains { resource in
            routes.wants(resource.name) && routes.held.version(of: resource.name) != resource.version
                && resource.dependencies.contains(where: clusters.contains)
        }
    }
}
