/// istiod's names for what it sends an Envoy sidecar, so operators' greps, dashboards and
/// `istioctl`-style habits carry over (DESIGN.md, "Envoy names").
public enum EnvoyNames {
    /// The listener iptables sends outbound traffic to; it hands each connection to the
    /// listener of its original destination.
    public static let virtualOutbound = "virtualOutbound"
    /// The listener iptables sends inbound traffic to.
    public static let virtualInbound = "virtualInbound"
    /// Forwards to the connection's original destination (unknown destinations, ALLOW_ANY).
    public static let passthroughCluster = "PassthroughCluster"
    /// Drops traffic (unknown destinations, REGISTRY_ONLY).
    public static let blackHoleCluster = "BlackHoleCluster"
    /// Forwards inbound traffic for ports no service declares to the workload unchanged (one
    /// cluster for IPv4 and IPv6, as istiod sends it since 1.23).
    public static let inboundPassthroughCluster = "InboundPassthroughCluster"
    /// The passthrough chains that handle HTTP (the TCP ones are named `virtualInbound`).
    public static let inboundPassthroughHTTPChain = "virtualInbound-catchall-http"
    /// The source address of inbound passthrough connections: the capture rules let traffic
    /// from it on loopback through (deploy/sidecar/istio-iptables.sh), as Istio's do.
    public static let inboundPassthroughSource = "127.0.0.6"
    /// Envoy's admin endpoint, which serves `/stats/prometheus`.
    public static let prometheusStatsCluster = "prometheus_stats"

    /// Outbound capture port (iptables `REDIRECT --to-ports 15001`).
    public static let outboundCapturePort: UInt32 = 15001
    /// Inbound capture port.
    public static let inboundCapturePort: UInt32 = 15006
    /// Envoy's admin port (loopback only).
    public static let adminPort: UInt32 = 15000
    /// The health listener's port (`/healthz/ready`).
    public static let healthPort: UInt32 = 15021
    /// The Prometheus stats listener's port (`/stats/prometheus`).
    public static let statsPort: UInt32 = 15090
    /// Ports the sidecar itself uses: no service listener is made on them (a service port
    /// here would collide with the proxy's own listeners, as in Istio).
    public static let reservedPorts: Set<UInt32> = [adminPort, outboundCapturePort, inboundCapturePort, healthPort, statsPort, 15020]

    /// The outbound listener for every service on `port` (HTTP, and TCP without an address):
    /// `0.0.0.0_9080`.
    public static func wildcardListener(port: UInt32) -> String { "0.0.0.0_\(port)" }

    /// The outbound listener of a TCP service's virtual IP: `10.0.0.1_3306`.
    public static func addressListener(address: String, port: UInt32) -> String { "\(address)_\(port)" }

    /// The route configuration of the HTTP services on `port`: `9080`.
    public static func routeConfiguration(port: UInt32) -> String { "\(port)" }

    /// The virtual host of one service port: `reviews.default.svc.cluster.local:9080`.
    public static func virtualHost(host: String, port: UInt32) -> String { "\(host):\(port)" }

    /// The cluster for the workload's own port `port`: `inbound|9081||`.
    public static func inboundCluster(port: UInt32) -> String { "inbound|\(port)||" }
}
