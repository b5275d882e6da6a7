import PushPipeline
import Translator
import XDSCore

/// A stream's protocol machine as the push server drives it and the status registry shows it,
/// whichever ADS protocol the stream speaks (`StreamStateMachine`, `DeltaStreamStateMachine`).
///
/// Conformers are values with no I/O: the server feeds them requests and snapshots and performs
/// the events they return, in order; a copy kept for `/debug/syncz` never changes.
public protocol ADSStreamMachine: StreamStatusSource {
    /// A request as the machine decides on it (no protobuf).
    associatedtype Request: Sendable

    /// The most names the stream subscribes to in one type; the server bounds it.
    var largestSubscription: Int { get }

    /// The names of `typeURL` the proxy subscribes to once `request` is taken (without taking
    /// it): the server reads a gRPC server's inbound listener names from it before answering,
    /// since they decide the proxy's view.
    func names(of typeURL: String, after request: Request) -> Set<String>

    /// Handles one request from the proxy.
    mutating func receive(_ request: Request) -> [XDSEvent]
    /// Moves to a new snapshot and returns what must be sent, in make-before-break order.
    mutating func push(_ snapshot: ProxySnapshot) -> [XDSEvent]
}

extension StreamStateMachine: ADSStreamMachine {
    public var protocolName: String { "sotw" }

    /// A state-of-the-world request names the whole subscription of its type.
    public func names(of typeURL: String, after request: DiscoveryRequestInfo) -> Set<String> {
        request.typeURL == typeURL ? Set(request.resourceNames) : subscribedNames(typeURL)
    }
}

extension DeltaStreamStateMachine: ADSStreamMachine {
    public var protocolName: String { "delta" }

    /// A Delta request changes the subscription of its type by what it (un)subscribes.
    public func names(of typeURL: String, after request: DeltaDiscoveryRequestInfo) -> Set<String> {
        let current = subscribedNames(typeURL)
        guard request.typeURL == typeURL else { return current }
        return current.union(request.subscribe).subtracting(request.unsubscribe)
    }
}
