import PushPipeline
import Translator
import XDSCore

/// What a stream machine does at each step of a make-before-break push; `MakeBeforeBreak`
/// decides the order, the machine what each step sends in its protocol's terms.
protocol MakeBeforeBreakSteps {
    /// Sends changed and added clusters but keeps the clusters about to go (routes may still
    /// name them). Returns the names of clusters the proxy did not hold yet, and whether a
    /// removal step must follow.
    mutating func sendClustersKeepingRemoved() -> (events: [XDSEvent], added: Set<String>, removing: Bool)
    /// Sends what changed of `typeURL` (EDS, LDS, RDS) for this proxy, if anything.
    mutating func sendChanges(_ typeURL: String) -> [XDSEvent]
    /// The break: stops holding the clusters (and their endpoints) nothing routes to any more.
    mutating func sendRemovals() -> [XDSEvent]
    /// The types the stream serves, in push order.
    var registry: XDSTypeRegistry { get }
    /// Whether the proxy subscribed to EDS (so a new cluster warms only once its endpoints arrive).
    var watchesEndpoints: Bool { get }
    /// Whether the endpoints of `cluster` have been sent to the proxy.
    func holdsEndpoints(_ cluster: String) -> Bool
    /// Whether a route configuration the proxy would be sent now names one of `clusters`.
    func changedRoutesName(anyOf clusters: Set<String>) -> Bool
}

/// The push order both ADS protocols follow, as a small value kept per stream: the registry's
/// order (CDS keeping the clusters about to be removed, EDS, LDS, RDS), then the removals. When the proxy watches EDS,
/// routes naming a cluster it does not have the endpoints of are held back until a request for
/// those endpoints was answered, and the removals wait with them.
struct MakeBeforeBreak: Sendable {
    private var awaitingEndpoints: Set<String> = []
    private var routesDeferred = false
    private var removalDeferred = false

    /// Runs one push through `stream`'s steps in its registry's order; returns what they sent.
    /// Clusters and routes get the make-before-break steps; every other type (EDS, LDS, and any
    /// type registered later) is sent at its place when it changed.
    mutating func push<Stream: MakeBeforeBreakSteps>(_ stream: inout Stream) -> [XDSEvent] {
        var events: [XDSEvent] = []
        var removing = false
        for type in stream.registry.pushOrder {
            switch type.typeURL {
            case TypeURL.cluster:
                let (sent, added, removes) = stream.sendClustersKeepingRemoved()
                events += sent
                removing = removes
                if stream.watchesEndpoints { awaitingEndpoints.formUnion(added) }
            case TypeURL.route:
                routesDeferred = routesWait(stream)
                if !routesDeferred { events += stream.sendChanges(TypeURL.route) }
            default:
                events += stream.sendChanges(type.typeURL)
                if type.typeURL == TypeURL.endpoint { forgetSentEndpoints(stream) }
            }
        }
        // Last, the break: unless routes still wait for endpoints.
        removalDeferred = removalDeferred || removing
        if removalDeferred && !routesDeferred {
            removalDeferred = false
            events += stream.sendRemovals()
        }
        return events
    }

    /// After a request for endpoints was answered: sends the routes (and removals) held back
    /// for them, once none waits any more.
    mutating func endpointsRequested<Stream: MakeBeforeBreakSteps>(_ stream: inout Stream) -> [XDSEvent] {
        forgetSentEndpoints(stream)
        guard routesDeferred, !routesWait(stream) else { return [] }
        routesDeferred = false
        var events = stream.sendChanges(TypeURL.route)
        if removalDeferred {
            removalDeferred = false
            events += stream.sendRemovals()
        }
        return events
    }

    private mutating func forgetSentEndpoints(_ stream: some MakeBeforeBreakSteps) {
        if !awaitingEndpoints.isEmpty { awaitingEndpoints = awaitingEndpoints.filter { !stream.holdsEndpoints($0) } }
    }

    private func routesWait(_ stream: some MakeBeforeBreakSteps) -> Bool {
        !awaitingEndpoints.isEmpty && stream.changedRoutesName(anyOf: awaitingEndpoints)
    }
}
