/// TLS to etcd (`--etcd-ca`, `--etcd-cert`, `--etcd-key`): the CA that signed the members'
/// certificates, and optionally a client certificate for etcd's `--client-cert-auth`.
public struct EtcdTLS: Sendable, Hashable {
    /// PEM file of the trust anchor(s) the members' certificates chain to.
    public var caFile: String
    /// PEM client certificate (chain), presented when set.
    public var certificateFile: String?
    /// PEM private key of `certificateFile`.
    public var keyFile: String?

    /// Creates TLS settings; a certificate needs its key and the other way round.
    public init(caFile: String, certificateFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }
}
