/// List-then-watch of one resource, as Kubernetes' API conventions define it and client-go's
/// reflector behaves, as a pure state machine (no I/O, no clock): the driver sends the requests
/// it asks for, feeds back what came of them, and applies the store changes it emits.
///
/// - **List** in pages (`limit`/`continue`) over the server's consistent snapshot; the complete
///   list replaces what the consumer holds: changed objects upserted, missing ones deleted,
///   unchanged ones (same resourceVersion) left alone. Then `synced`.
/// - **Watch** from the list's resourceVersion with bookmarks; every event and bookmark moves
///   the resume point. A watch the server ends (its `timeoutSeconds`, a clean close) resumes at
///   once from the last version seen; so does one that failed (connection reset, 5xx), after a
///   backoff.
/// - **Relist** only on `410 Gone` (an expired watch version or continue token): a full list
///   again, which the store replace turns into exactly the missed changes.
/// - **No change applied twice**: an event whose object has the resourceVersion the consumer
///   already holds for that key is dropped (a replay after a resume), and a delete of an object
///   the consumer does not hold is dropped. resourceVersions are only compared for equality.
/// - **Backoff** on failures: 800 ms doubling to 30 s (client-go's), reset by any success (a
///   list page, an answered watch, an event or a bookmark).
public struct ListWatchMachine: Sendable {
    /// A request the driver makes to the API server.
    public enum Request: Sendable, Hashable {
        /// `GET …?limit=L[&continue=TOKEN]`.
        case list(limit: Int, continueToken: String?)
        /// `GET …?watch=1&allowWatchBookmarks=true&resourceVersion=RV`.
        case watch(resourceVersion: String)
    }

    /// One watch event.
    public enum Event: Sendable, Hashable {
        case added(KubeObject)
        case modified(KubeObject)
        case deleted(KubeObject)
        /// A bookmark: nothing changed up to this version.
        case bookmark(resourceVersion: String)
    }

    /// What the driver tells the machine.
    public enum Input: Sendable, Hashable {
        /// Begin (once).
        case start
        /// A list page arrived: its items, the next `continue` token (nil or empty: last page) and
        /// the list's resourceVersion.
        case listPage(items: [KubeObject], continueToken: String?, resourceVersion: String)
        /// The server answered the watch request (200): it is reachable again.
        case watchOpened
        /// A watch event arrived.
        case event(Event)
        /// The server ended the watch cleanly (its timeout, or a close between events).
        case watchEnded
        /// `410 Gone`: the watch's version or the list's continue token is too old.
        case gone
        /// The request failed (unreachable, reset, 5xx, undecodable): retry after a backoff.
        case failed(String)
        /// The backoff the machine asked for has elapsed.
        case backoffElapsed
    }

    /// What the machine asks of the driver.
    public enum Effect: Sendable, Hashable {
        /// Make this request (after ending any open one).
        case send(Request)
        /// Store this object (new or changed).
        case upsert(KubeObject)
        /// Remove this object: a watch's DELETED event carries its final state; a delete a relist
        /// finds carries only its key and last resourceVersion (the machine keeps no bodies).
        case delete(KubeObject)
        /// The consumer holds the complete state of a list (client-go's HasSynced); emitted after
        /// every complete list.
        case synced
        /// Wait this long, then feed `backoffElapsed`.
        case wait(Duration)
    }

    private enum Phase: Sendable, Hashable {
        case idle
        /// Pages of the list under way, by key.
        case listing(pages: [ObjectKey: KubeObject])
        case watching
        /// Waiting out a backoff; `relist` when the resume point is unknown.
        case backingOff(relist: Bool)
    }

    /// The page size asked for.
    public let pageSize: Int
    private var phase: Phase = .idle
    /// What the consumer holds, by key: the resourceVersion only. The consumer keeps what it
    /// needs of the bodies; holding them here too would double the memory of 10,000 pods.
    private var held: [ObjectKey: String] = [:]
    /// Where a watch resumes: the last version seen in a list, an event or a bookmark.
    public private(set) var resourceVersion: String?
    /// Failures since the last success.
    public private(set) var consecutiveFailures = 0
    /// How many complete lists were made (the first and every relist).
    public private(set) var lists = 0
    /// Whether a complete list has been applied at least once.
    public private(set) var hasSynced = false

    /// A machine listing `pageSize` objects per page.
    public init(pageSize: Int = 500) {
        self.pageSize = max(1, pageSize)
    }

    /// The resourceVersion of each object the consumer holds (what the machine believes it holds).
    public var objects: [ObjectKey: String] { held }

    /// The delay before retry number `attempt` (1-based): 800 ms doubling, at most 30 s.
    public static func backoff(attempt: Int) -> Duration {
        var delay = Duration.milliseconds(800)
        for _ in 1..<max(1, min(attempt, 16)) where delay < .seconds(30) { delay *= 2 }
        return min(delay, .seconds(30))
    }

    /// Handles `input`; returns the effects in order.
    public mutating func handle(_ input: Input) -> [Effect] {
        switch (phase, input) {
        case (.idle, .start):
            return startList()
        case (.listing(var pages), .listPage(let items, let token, let version)):
            consecutiveFailures = 0
            for item in items { pages[item.key] = item }
            if let token, !token.isEmpty {
                phase = .listing(pages: pages)
                return [.send(.list(limit: pageSize, continueToken: token))]
            }
            return replace(with: pages, at: version)
        case (.listing, .gone):
            // The continue token expired mid-list: list again from the start.
            return startList()
        case (.watching, .watchOpened):
            // An answered request is a success: a later failure backs off from the start, not
            // from where an outage before this watch left the count.
            consecutiveFailures = 0
            return []
        case (.watching, .event(let event)):
            consecutiveFailures = 0
            return apply(event)
        case (.watching, .watchEnded):
            guard let resourceVersion else { return startList() }
            return [.send(.watch(resourceVersion: resourceVersion))]
        case (.watching, .gone):
            return startList()
        case (.listing, .failed), (.watching, .failed):
            consecutiveFailures += 1
            let relist: Bool = if case .listing = phase { true } else { resourceVersion == nil }
            phase = .backingOff(relist: relist)
            return [.wait(Self.backoff(attempt: consecutiveFailures))]
        case (.backingOff(let relist), .backoffElapsed):
            if relist { return startList() }
            phase = .watching
            return [.send(.watch(resourceVersion: resourceVersion ?? ""))]
        default:
            // Anything else is stale (a page after a restart, an event after the watch was
            // replaced) or out of order: ignored, as the request it answers is gone.
            return []
        }
    }

    private mutating func startList() -> [Effect] {
        phase = .listing(pages: [:])
        return [.send(.list(limit: pageSize, continueToken: nil))]
    }

    /// The complete list replaces what is held: upserts for new or changed objects, deletes for
    /// the missing, in key order; then watch from the list's version.
    private mutating func replace(with listed: [ObjectKey: KubeObject], at version: String) -> [Effect] {
        var effects: [Effect] = []
        for key in held.keys.sorted() where listed[key] == nil {
            if let gone = held.removeValue(forKey: key) { effects.append(.delete(KubeObject(key: key, resourceVersion: gone))) }
        }
        for key in listed.keys.sorted() {
            guard let object = listed[key], held[key] != object.resourceVersion else { continue }
            held[key] = object.resourceVersion
            effects.append(.upsert(object))
        }
        resourceVersion = version
        lists += 1
        hasSynced = true
        phase = .watching
        return effects + [.synced, .send(.watch(resourceVersion: version))]
    }

    private mutating func apply(_ event: Event) -> [Effect] {
        switch event {
        case .added(let object), .modified(let object):
            resourceVersion = object.resourceVersion
            guard held[object.key] != object.resourceVersion else { return [] }
            held[object.key] = object.resourceVersion
            return [.upsert(object)]
        case .deleted(let object):
            resourceVersion = object.resourceVersion
            guard held.removeValue(forKey: object.key) != nil else { return [] }
            return [.delete(object)]
        case .bookmark(let version):
            resourceVersion = version
            return []
        }
    }
}
