import Foundation
import MeshCommon
import MeshModel

/// The traffic-capture settings of one pod: Istio's `traffic.sidecar.istio.io/*` annotations
/// checked and turned into `istio-iptables.sh` arguments (deploy/sidecar/istio-iptables.sh, the
/// script the network-namespace tests run).
struct TrafficCapture: Equatable {
    /// Envoy's outbound and inbound capture ports and the proxy's uid/gid: Istio's.
    static let outboundPort = 15001
    static let inboundPort = 15006
    static let proxyUID = 1337
    /// Envoy's stats (15090), the health listener (15021) and Istio's agent port (15020): never
    /// captured, whatever the pod asks.
    static let alwaysExcludedInboundPorts = [15090, 15021, 15020]

    var inboundPorts = "*"
    var excludeInboundPorts: [Int] = []
    var outboundCIDRs = "*"
    var excludeOutboundCIDRs: [String] = []
    var excludeOutboundPorts: [Int] = []

    /// Annotation names.
    enum Annotation {
        static let includeInboundPorts = "traffic.sidecar.istio.io/includeInboundPorts"
        static let excludeInboundPorts = "traffic.sidecar.istio.io/excludeInboundPorts"
        static let includeOutboundIPRanges = "traffic.sidecar.istio.io/includeOutboundIPRanges"
        static let excludeOutboundIPRanges = "traffic.sidecar.istio.io/excludeOutboundIPRanges"
        static let excludeOutboundPorts = "traffic.sidecar.istio.io/excludeOutboundPorts"
        /// Istio's, which meshd's capture cannot honour (the warning says so).
        static let includeOutboundPorts = "traffic.sidecar.istio.io/includeOutboundPorts"
        static let kubevirtInterfaces = "traffic.sidecar.istio.io/kubevirtInterfaces"
        static let interceptionMode = "sidecar.istio.io/interceptionMode"
        static let rewriteAppHTTPProbers = "sidecar.istio.io/rewriteAppHTTPProbers"
    }

    /// Istio's defaults: everything captured but the proxy's own ports.
    static let defaults = TrafficCapture()

    private init() {}

    /// Reads the annotations; malformed values throw, unsupported ones add to `warnings`.
    init(annotations: [String: String], warnings: inout [String]) throws(InjectionError) {
        if let value = annotations[Annotation.includeInboundPorts] {
            inboundPorts =
                value.trimmingCharacters(in: .whitespaces) == "*"
                ? "*" : try Self.ports(value, Annotation.includeInboundPorts).map(String.init).joined(separator: ",")
        }
        if let value = annotations[Annotation.excludeInboundPorts] {
            excludeInboundPorts = try Self.ports(value, Annotation.excludeInboundPorts)
        }
        if let value = annotations[Annotation.includeOutboundIPRanges] {
            outboundCIDRs =
                value.trimmingCharacters(in: .whitespaces) == "*"
                ? "*" : try Self.cidrs(value, Annotation.includeOutboundIPRanges).joined(separator: ",")
        }
        if let value = annotations[Annotation.excludeOutboundIPRanges] {
            excludeOutboundCIDRs = try Self.cidrs(value, Annotation.excludeOutboundIPRanges)
        }
        if let value = annotations[Annotation.excludeOutboundPorts] {
            excludeOutboundPorts = try Self.ports(value, Annotation.excludeOutboundPorts)
        }
        if annotations[Annotation.includeOutboundPorts] != nil {
            warnings.append(
                "\(Annotation.includeOutboundPorts) is not honoured: meshd's traffic capture sends all outbound TCP to the proxy (use excludeOutboundPorts)"
            )
        }
        if annotations[Annotation.kubevirtInterfaces] != nil {
            warnings.append("\(Annotation.kubevirtInterfaces) is not honoured: meshd's traffic capture has no per-interface rules")
        }
        if let mode = annotations[Annotation.interceptionMode], mode != "REDIRECT" {
            warnings.append("\(Annotation.interceptionMode)=\(mode) is not honoured: meshd's traffic capture is REDIRECT only")
        }
        if annotations[Annotation.rewriteAppHTTPProbers] == "true" {
            warnings.append("\(Annotation.rewriteAppHTTPProbers) is not honoured: meshd does not rewrite probes (docs/injection.md, Probes)")
        }
    }

    /// The excluded inbound ports the script gets: the pod's, then the proxy's own.
    var allExcludedInboundPorts: [Int] {
        var ports = excludeInboundPorts
        for port in Self.alwaysExcludedInboundPorts where !ports.contains(port) { ports.append(port) }
        return ports
    }

    /// `istio-iptables.sh`'s arguments.
    var arguments: [String] {
        [
            "--proxy-port", String(Self.outboundPort), "--inbound-capture-port", String(Self.inboundPort),
            "--proxy-uid", String(Self.proxyUID), "--proxy-gid", String(Self.proxyUID),
            "--inbound-ports", inboundPorts,
            "--exclude-inbound-ports", allExcludedInboundPorts.map(String.init).joined(separator: ","),
            "--outbound-cidrs", outboundCIDRs,
            "--exclude-outbound-cidrs", excludeOutboundCIDRs.joined(separator: ","),
            "--exclude-outbound-ports", excludeOutboundPorts.map(String.init).joined(separator: ","),
        ]
    }

    private static func items(_ value: String) -> [String] {
        value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    private static func ports(_ value: String, _ annotation: String) throws(InjectionError) -> [Int] {
        var ports: [Int] = []
        for item in items(value) {
            guard item.utf8.count <= 5, item.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let port = Int(item), (1...65_535).contains(port)
            else { throw InjectionError("annotation \(annotation): \(item) is not a port (1-65535)") }
            if !ports.contains(port) { ports.append(port) }
        }
        return ports
    }

    private static func cidrs(_ value: String, _ annotation: String) throws(InjectionError) -> [String] {
        var cidrs: [String] = []
        for item in items(value) {
            let cidr = item.contains("/") ? item : item + "/32"
            if IPAddressSyntax.isCIDR(cidr), IPAddressSyntax.isIPv6(String(cidr.split(separator: "/")[0])) {
                throw InjectionError("annotation \(annotation): \(item) is IPv6; meshd's traffic capture is IPv4 only")
            }
            guard IPAddressSyntax.isCIDR(cidr) else { throw InjectionError("annotation \(annotation): \(item) is not an IPv4 CIDR") }
            if !cidrs.contains(cidr) { cidrs.append(cidr) }
        }
        return cidrs
    }
}
