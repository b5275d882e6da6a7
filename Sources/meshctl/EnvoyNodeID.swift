import Foundation
import MeshCommon

/// An Envoy proxy's node id in Istio's shape, `TYPE~IP~POD.NAMESPACE~NAMESPACE.svc.DOMAIN` with
/// TYPE `sidecar` (`sidecar~10.0.0.7~reviews-v1-5d8f.default~default.svc.cluster.local`) or
/// `router` for a gateway, which meshd reads the proxy's kind, address and namespace from
/// (Sources/XDS/ProxyIdentity.swift).
struct EnvoyNodeID: Sendable, Equatable {
    /// Whether the id names a gateway (`router~…`) rather than a sidecar.
    let isGateway: Bool
    /// The workload's IP address (the second field).
    let ip: String
    /// The pod (or workload instance) name, the third field before its namespace.
    let podName: String
    /// The namespace, as the third and fourth fields both name it.
    let namespace: String
    /// The id as given.
    let raw: String

    static let shape = "sidecar~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local, or router~… for a gateway"

    /// Parses `text`, or throws a message saying which part is wrong.
    init(parsing text: String) throws(MeshctlError) {
        func refuse(_ why: String) -> MeshctlError {
            MeshctlError(.input, "--node-id '\(text)' is not an Envoy proxy id (\(Self.shape)): \(why)")
        }
        let parts = text.split(separator: "~", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4 else { throw refuse("it has \(parts.count) '~'-separated fields, not 4") }
        guard parts[0] == "sidecar" || parts[0] == "router" else {
            throw refuse("the first field is '\(parts[0])', not 'sidecar' or 'router'")
        }
        guard Self.isIPAddress(parts[1]) else { throw refuse("the second field '\(parts[1])' is not an IP address") }
        let domain = parts[3].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard domain.count >= 3, domain[1] == "svc", domain.allSatisfy({ !$0.isEmpty }) else {
            throw refuse("the fourth field '\(parts[3])' is not NAMESPACE.svc.DOMAIN")
        }
        let namespace = domain[0]
        guard Self.isDNSLabel(namespace) else { throw refuse("namespace '\(namespace)' is not a DNS-1123 label") }
        guard parts[2].hasSuffix(".\(namespace)"), parts[2].count > namespace.count + 1 else {
            throw refuse("the third field '\(parts[2])' is not POD.\(namespace)")
        }
        isGateway = parts[0] == "router"
        ip = parts[1]
        podName = String(parts[2].dropLast(namespace.count + 1))
        self.namespace = namespace
        raw = text
    }

    /// A dotted-quad IPv4 or a colon IPv6 address (`IPAddressSyntax`, meshd's own rules).
    static func isIPAddress(_ text: String) -> Bool {
        IPAddressSyntax.isIPAddress(text)
    }

    /// Lower-case letters, digits and '-', starting and ending alphanumeric, at most 63.
    static func isDNSLabel(_ text: String) -> Bool {
        guard !text.isEmpty, text.count <= 63, text.first != "-", text.last != "-" else { return false }
        return text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }
}
