/// The xDS resource types meshd serves, by type URL, in make-before-break push order.
public enum TypeURL {
    public static let listener = "type.googleapis.com/envoy.config.listener.v3.Listener"
    public static let route = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
    public static let cluster = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
    public static let endpoint = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"

    /// CDS, EDS, LDS, RDS: clusters and their endpoints before the listeners and routes that use them.
    public static let pushOrder = [cluster, endpoint, listener, route]

    /// Whether a state-of-the-world response of this type must carry the full set (omission = deletion).
    public static func isFullState(_ typeURL: String) -> Bool { typeURL == listener || typeURL == cluster }

    /// The short name operators know (LDS, RDS, CDS, EDS), or the type URL itself.
    public static func shortName(_ typeURL: String) -> String {
        switch typeURL {
        case listener: "LDS"
        case route: "RDS"
        case cluster: "CDS"
        case endpoint: "EDS"
        default: typeURL
        }
    }
}
