/// The values meshd, meshctl and mesh-agent must agree on, in one place: istiod's ports (so
/// operators' habits carry over) and the mesh's default domains. Only the code that reads flags
/// uses them as defaults; everything else takes the configured values explicitly.
public enum MeshDefaults {
    /// xDS over plaintext gRPC (ADS), for tests and trusted networks.
    public static let xdsPort = 15010
    /// xDS and the CA over TLS with meshd's own certificate (certificate signing).
    public static let tlsPort = 15012
    /// mTLS for callers holding a mesh certificate: renewals and authenticated ADS.
    public static let mutualTLSPort = 15013
    /// The admin REST API, `/metrics` and `/debug/*`.
    public static let adminPort = 15014
    /// The validating admission webhook over HTTPS (istiod's port).
    public static let webhookPort = 15017
    /// The SPIFFE trust domain of workload identities (Istio's default).
    public static let trustDomain = "cluster.local"
    /// The DNS suffix of service host names (`NAME.NAMESPACE.svc.cluster.local`).
    public static let clusterDomain = "cluster.local"
}
