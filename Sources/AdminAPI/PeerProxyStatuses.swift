import MeshModel
import PushPipeline
import XDSCore

/// The proxies connected to the other replicas of a mesh (meshd on etcd), so that
/// `/debug/syncz` — and `meshctl proxy-status` — on any replica lists every proxy.
public protocol PeerProxyStatuses: Sendable {
    /// This replica's name, written as `replica` into its own entries.
    var replicaID: String { get }
    /// The `/debug/syncz` entries the other replicas last shared, each with its `replica`.
    func peerEntries() async -> [JSONValue]
}

/// `/debug/syncz`'s entries for the proxies connected to this replica, in the form replicas
/// share with each other.
public enum SynczEntries {
    /// One JSON object per connected proxy stream.
    public static func local(_ statuses: ProxyStatusRegistry) -> [JSONValue] {
        statuses.all.map(DebugController.syncz)
    }

    /// `entry` with `replica` set to `replicaID`.
    public static func tagged(_ entry: JSONValue, replicaID: String) -> JSONValue {
        guard case .object(var members) = entry else { return entry }
        members["replica"] = .string(replicaID)
        return .object(members)
    }
}
