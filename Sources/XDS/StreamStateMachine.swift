import PushPipeline
import Translator
import XDSCore

/// The state-of-the-world ADS protocol for one stream, as a value type that returns events.
///
/// No I/O: the server feeds it requests and new snapshots and performs the events it returns,
/// in order. Rules it implements (xDS spec):
/// - Every response carries a fresh nonce. A request whose nonce is not the latest sent for its
///   type is stale and ignored (grpcio may ACK an older nonce after several nonce-less requests).
/// - ACK = the latest nonce without `error_detail`; NACK = with it. Versions are per type.
/// - A request without a nonce (a new stream, a reconnect with a version, or an early repeat
///   before the first response) is answered with everything it names that exists. An ACK that
///   only drops names is not answered.
/// - A push sends a type only when its content for this proxy changed; LDS/CDS carry the full set,
///   RDS/EDS only the changed names.
/// - A type meshd does not serve is answered with an empty response (so the proxy is not left
///   waiting) and leaves no state behind: a client cannot grow the machine by inventing types.
/// - Make-before-break: CDS (keeping clusters about to go), EDS, LDS, RDS, then CDS without the
///   removed clusters. When the proxy watches every cluster (wildcard CDS) and EDS, routes naming a
///   new cluster are held until that cluster's endpoints have been sent.
public struct StreamStateMachine: Sendable {
    /// What the server must do or record, in order.
    public typealias Event = XDSEvent

    struct TypeState: Sendable {
        var wildcard = false
        var names: Set<String> = []
        /// What the proxy holds, as far as this stream has sent it.
        var sent: [String: XDSResource] = [:]
        var tracker = ResponseTracker()
    }

    private var nonces: NonceSequence
    /// The types served, their push order and how responses carry them.
    public let registry: XDSTypeRegistry
    private var types: [String: TypeState] = [:]
    private var order = MakeBeforeBreak()
    /// Types whose nonce-less request came before the stream had a snapshot: the first push must
    /// answer them even when what they name does not exist (else the proxy waits for its
    /// does-not-exist timer, 15 s in grpcio).
    private var unansweredRequests: Set<String> = []

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

    /// The type URLs the proxy has asked for.
    public var subscribedTypes: [String] { types.keys.sorted() }

    /// The names the proxy subscribes to in `typeURL` (empty when wildcard or not subscribed).
    public func subscribedNames(_ typeURL: String) -> Set<String> { types[typeURL]?.names ?? [] }

    /// Whether the proxy subscribes to every resource of `typeURL` (LDS or CDS asked with no names).
    public func isWildcard(_ typeURL: String) -> Bool { types[typeURL]?.wildcard ?? false }

    /// The most names the proxy asked for in one type (one request's worth, already bounded).
    public var largestSubscription: Int { types.values.reduce(0) { max($0, $1.names.count) } }

    /// Per-type status for proxy-status and `/debug/syncz`.
    public func status(of typeURL: String) -> TypeStatus {
        types[typeURL]?.tracker.status ?? TypeStatus(status: .notSent)
    }

    // MARK: - Requests

    /// Handles one request from the proxy.
    public mutating func receive(_ request: DiscoveryRequestInfo) -> [Event] {
        if nodeID == nil, let node = request.nodeID, !node.isEmpty { nodeID = node }
        let typeURL = request.typeURL
        guard registry.serves(typeURL) else {
            return nonces.answerUnknownType(typeURL, responseNonce: request.responseNonce)
        }
        // Taken out of `types` while it is changed, so its collections are uniquely referenced
        // and mutate in place instead of being copied; every path below puts it back.
        var state = types.removeValue(forKey: typeURL) ?? TypeState()
        let requested = Set(request.resourceNames)
        // Legacy SotW: an empty name list means "everything" for LDS and CDS.
        let wildcard = registry.isFullState(typeURL) && (requested.isEmpty || requested.contains("*"))
        var events: [Event] = []

        if request.responseNonce.isEmpty {
            state.wildcard = wildcard
            state.names = requested
            state.sent = [:]
            types[typeURL] = state
            if snapshot == nil { unansweredRequests.insert(typeURL) }
            events += respond(typeURL, force: true)
        } else {
            let answer = state.tracker.answer(nonce: request.responseNonce, error: request.errorDetail)
            guard answer != .stale else {
                if state.tracker.lastNonce != nil || !state.names.isEmpty || state.wildcard { types[typeURL] = state }
                return [.ignoredStale(typeURL: typeURL, nonce: request.responseNonce)]
            }
            events.append(ResponseTracker.event(answer, typeURL: typeURL, nonce: request.responseNonce))
            let changed = wildcard != state.wildcard || (!wildcard && requested != state.names)
            if changed {
                let added = requested.subtracting(state.names)
                // A request that only drops names needs no answer (the proxy stops watching
                // them; nothing it still holds changed), as istiod and the xDS conformance
                // suite treat it. grpcio sends one for CDS and EDS whenever a route stops
                // naming a cluster, so answering would cost two responses per proxy per such
                // change for nothing.
                let onlyDropped = added.isEmpty && !wildcard && !state.wildcard
                state.wildcard = wildcard
                state.names = requested
                state.sent = state.sent.filter { wildcard || requested.contains($0.key) }
                types[typeURL] = state
                if !onlyDropped {
                    events += respond(typeURL, force: true, only: registry.isFullState(typeURL) || wildcard ? nil : added)
                }
            } else {
                types[typeURL] = state
            }
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

    private func view(_ typeURL: String, _ state: TypeState) -> [String: XDSResource] {
        let available = snapshot?.of(typeURL) ?? [:]
        return state.wildcard ? available : available.filter { state.names.contains($0.key) }
    }

    /// Sends what the proxy should hold of `typeURL` now. `force` answers a request even when
    /// nothing changed; `only` narrows an RDS/EDS answer to newly subscribed names.
    private mutating func respond(_ typeURL: String, force: Bool, only: Set<String>? = nil) -> [Event] {
        guard snapshot != nil, var state = types.removeValue(forKey: typeURL) else { return [] }
        // `state` is out of `types` until the end, so `sent` mutates in place (no copy per send).
        defer { types[typeURL] = state }
        let force = force || unansweredRequests.remove(typeURL) != nil
        let view = self.view(typeURL, state)
        let resources: [XDSResource]
        if registry.isFullState(typeURL) {
            let unchanged = view.count == state.sent.count && view.allSatisfy { state.sent[$0.key]?.version == $0.value.version }
            if unchanged && !force { return [] }
            resources = Array(view.values)
            state.sent = view
        } else {
            var candidates = view
            if let only { candidates = candidates.filter { only.contains($0.key) } }
            if !force { candidates = candidates.filter { state.sent[$0.key]?.version != $0.value.version } }
            if candidates.isEmpty && !force { return [] }
            resources = Array(candidates.values)
            for resource in resources { state.sent[resource.name] = resource }
            // A name that no longer exists is forgotten, so that its return is sent again.
            if state.sent.keys.contains(where: { view[$0] == nil }) {
                state.sent = state.sent.filter { view[$0.key] != nil }
            }
        }
        return [.send(makeResponse(typeURL, resources: resources, view: view, state: &state))]
    }

    private mutating func makeResponse(
        _ typeURL: String, resources: [XDSResource], view: [String: XDSResource],
        state: inout TypeState
    ) -> DiscoveryResponseInfo {
        let nonce = nonces.next()
        let version = ContentVersion.of(view.values)
        state.tracker.sent(nonce: nonce, version: version)
        return DiscoveryResponseInfo(
            typeURL: typeURL, versionInfo: version, nonce: nonce,
            resources: resources.sorted { $0.name < $1.name })
    }
}

extension StreamStateMachine: MakeBeforeBreakSteps {
    mutating func sendClustersKeepingRemoved() -> (events: [Event], added: Set<String>, removing: Bool) {
        guard var clusters = types[TypeURL.cluster] else { return ([], [], false) }
        let view = self.view(TypeURL.cluster, clusters)
        let removed = clusters.sent.filter { view[$0.key] == nil }
        let changed = view.contains { clusters.sent[$0.key]?.version != $0.value.version }
        let added = Set(view.keys).subtracting(clusters.sent.keys)
        var events: [Event] = []
        if changed || unansweredRequests.remove(TypeURL.cluster) != nil {
            // SotW CDS is the full set: the clusters about to go stay in it until the break.
            let merged = view.merging(removed) { new, _ in new }
            clusters.sent = merged
            events.append(.send(makeResponse(TypeURL.cluster, resources: Array(merged.values), view: merged, state: &clusters)))
            types[TypeURL.cluster] = clusters
        }
        return (events, added, !removed.isEmpty)
    }

    mutating func sendChanges(_ typeURL: String) -> [Event] { respond(typeURL, force: false) }

    mutating func sendRemovals() -> [Event] { respond(TypeURL.cluster, force: false) }

    var watchesEndpoints: Bool { types[TypeURL.endpoint] != nil }

    func holdsEndpoints(_ cluster: String) -> Bool { types[TypeURL.endpoint]?.sent[cluster] != nil }

    func changedRoutesName(anyOf clusters: Set<String>) -> Bool {
        guard let routes = types[TypeURL.route] else { return false }
        return view(TypeURL.route, routes).values.contains { resource in
            routes.sent[resource.name]?.version != resource.version && resource.dependencies.contains(where: clusters.contains)
        }
    }
}
