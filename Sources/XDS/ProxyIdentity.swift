import EnvoyAPI
import MeshCommon
import MeshModel
import PushPipeline
import SwiftProtobuf
import Translator
import XDSCore

/// A caller that proved a mesh identity with its certificate (the mTLS port).
public struct AuthenticatedPeer: Sendable, Hashable {
    /// Its SPIFFE ID, `spiffe://TRUST-DOMAIN/ns/NAMESPACE/sa/SERVICE-ACCOUNT`.
    public var spiffeID: String
    /// The namespace its certificate names.
    public var namespace: String

    public init(spiffeID: String, namespace: String) {
        self.spiffeID = spiffeID
        self.namespace = namespace
    }
}

/// Why a stream's node was refused: a gRPC status code name and a message for the proxy.
public struct ProxyIdentityError: Error, Sendable, Hashable {
    public enum Code: Sendable, Hashable {
        /// The node's fields are malformed.
        case invalidArgument
        /// An authenticated proxy claims a namespace its certificate does not name.
        case permissionDenied
    }

    public var code: Code
    public var message: String
}

/// Reads who a proxy is from the Node of its stream's first request, in the forms Istio's agents
/// send, so their bootstraps work unchanged:
/// - kind: metadata `GENERATOR: grpc` → proxyless gRPC, whatever the id; else an id starting
///   `router~` → gateway; `sidecar~` with `user_agent_name` `envoy` → Envoy sidecar; anything
///   else → proxyless gRPC (a minimal grpcio bootstrap sends only an id);
/// - namespace: metadata NAMESPACE, else the fourth `~` field of an Istio id
///   (`sidecar~10.0.0.1~reviews-v1-abc.default~default.svc.cluster.local` → `default`), else
///   `default`. On the mTLS port the certificate's namespace decides, and a node claiming another
///   one is refused;
/// - labels from metadata LABELS, addresses from INSTANCE_IPS (else the id's IP), CLUSTER_ID,
///   and Node.locality.
public enum ProxyIdentity {
    /// The proxy of a stream whose first request carried `node` (nil if it had none).
    public static func proxy(
        node: Envoy_Config_Core_V3_Node?, connectionID: String,
        peer: AuthenticatedPeer?
    ) throws(ProxyIdentityError) -> Proxy {
        let node = node ?? Envoy_Config_Core_V3_Node()
        let metadata = node.hasMetadata ? node.metadata.fields : [:]
        let idParts = node.id.split(separator: "~", omittingEmptySubsequences: false).map(String.init)
        let istioForm = idParts.count == 4

        let kind: ProxyKind
        if try string(metadata, "GENERATOR") == "grpc" {
            kind = .proxylessGRPC
        } else if istioForm && idParts[0] == "router" {
            kind = .gateway
        } else if istioForm && idParts[0] == "sidecar" && node.userAgentName == "envoy" {
            kind = .sidecar
        } else {
            kind = .proxylessGRPC
        }

        var claimed = try string(metadata, "NAMESPACE")
        if claimed == nil, istioForm, let domain = idParts[3].split(separator: ".").first, !domain.isEmpty {
            claimed = String(domain)
        }
        if let claimed, !NameRules.isDNS1123Label(claimed) {
            throw ProxyIdentityError(
                code: .invalidArgument,
                message: "node namespace \"\(claimed.prefix(80))\" is not a DNS-1123 label (node.metadata.NAMESPACE or the node id's fourth field)")
        }
        let namespace: String
        if let peer {
            if let claimed, claimed != peer.namespace {
                throw ProxyIdentityError(
                    code: .permissionDenied,
                    message: "node claims namespace \"\(claimed)\" but its certificate (\(peer.spiffeID)) is for namespace \"\(peer.namespace)\"")
            }
            namespace = peer.namespace
        } else {
            namespace = claimed ?? "default"
        }

        var instanceIPs =
            try string(metadata, "INSTANCE_IPS")?.split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } ?? []
        if instanceIPs.isEmpty, istioForm, !idParts[1].isEmpty { instanceIPs = [idParts[1]] }
        for address in instanceIPs where !IPAddressSyntax.isIPAddress(address) {
            throw ProxyIdentityError(code: .invalidArgument, message: "node.metadata.INSTANCE_IPS: \"\(address.prefix(80))\" is not an IP address")
        }

        var labels: [String: String] = [:]
        if let value = metadata["LABELS"] {
            guard case .structValue(let fields)? = value.kind else {
                throw ProxyIdentityError(code: .invalidArgument, message: "node.metadata.LABELS must be a struct of strings")
            }
            for (key, value) in fields.fields {
                guard case .stringValue(let text)? = value.kind else {
                    throw ProxyIdentityError(code: .invalidArgument, message: "node.metadata.LABELS.\(key.prefix(80)) must be a string")
                }
                labels[key] = text
            }
        }
        let locality =
            node.hasLocality
            ? Locality(region: node.locality.region, zone: node.locality.zone, subZone: node.locality.subZone)
            : Locality()
        return Proxy(
            id: node.id.isEmpty ? connectionID : node.id, kind: kind, namespace: namespace, labels: labels,
            instanceIPs: instanceIPs, clusterID: try string(metadata, "CLUSTER_ID") ?? "", locality: locality,
            identity: peer?.spiffeID)
    }

    /// A metadata field that must be a string when present.
    private static func string(_ metadata: [String: Google_Protobuf_Value], _ name: String) throws(ProxyIdentityError) -> String? {
        guard let value = metadata[name] else { return nil }
        guard case .stringValue(let text)? = value.kind else {
            throw ProxyIdentityError(code: .invalidArgument, message: "node.metadata.\(name) must be a string")
        }
        return text
    }
}
