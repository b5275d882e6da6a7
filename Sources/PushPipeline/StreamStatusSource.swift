import Translator
import XDSCore

/// What the status registry reads of a stream, whichever ADS protocol it speaks: the push
/// server's stream machines conform (`XDS.ADSStreamMachine` refines this), so proxy status
/// lives with the pipeline and the admin API reads it without depending on the gRPC server.
public protocol StreamStatusSource: Sendable {
    /// `"sotw"` or `"delta"`, as `/debug/syncz` and proxy-status show it.
    var protocolName: String { get }
    /// The node id from the stream's first request.
    var nodeID: String? { get }
    /// The types served, their push order and short names.
    var registry: XDSTypeRegistry { get }
    /// The snapshot responses are built from.
    var snapshot: ProxySnapshot? { get }
    /// The type URLs the proxy has subscribed to.
    var subscribedTypes: [String] { get }
    /// Per-type status for proxy-status and `/debug/syncz`.
    func status(of typeURL: String) -> TypeStatus
    /// The names the proxy subscribes to in `typeURL` by name.
    func subscribedNames(_ typeURL: String) -> Set<String>
    /// Whether the proxy subscribes to every resource of `typeURL`.
    func isWildcard(_ typeURL: String) -> Bool
}

extension StreamStatusSource {
    /// What the proxy subscribes to, by type URL: every resource, or the names it asked for.
    public var subscriptions: [String: ResourceSubscription] {
        var result: [String: ResourceSubscription] = [:]
        for typeURL in subscribedTypes {
            result[typeURL] = isWildcard(typeURL) ? .all : .names(subscribedNames(typeURL))
        }
        return result
    }

    /// True when the proxy subscribed to something and ACKed the latest response of every type.
    public var synced: Bool {
        let types = subscribedTypes
        return !types.isEmpty && types.allSatisfy { status(of: $0).status == .synced }
    }
}
