import Foundation
import Yams

/// How meshd reaches the Kubernetes API server: the server's URL, the CA that signed its
/// certificate, and meshd's credentials — from a kubeconfig file (`--kubeconfig`, its current
/// context) or, inside a pod, from the service account Kubernetes mounts.
public struct KubeClientConfig: Sendable, Hashable {
    /// How meshd proves who it is.
    public enum Credentials: Sendable, Hashable {
        case none
        /// A bearer token.
        case token(String)
        /// A bearer token read from this file before each request (the kubelet rotates a
        /// projected service-account token in place).
        case tokenFile(String)
        /// A client certificate and its key, PEM.
        case clientCertificate(certificatePEM: String, keyPEM: String)
    }

    /// `https://HOST:PORT` (or `http://` for a test server).
    public var server: String
    /// The CA bundle (PEM) the server's certificate must chain to; nil: the system roots.
    public var certificateAuthorityPEM: String?
    /// Skip verifying the server's certificate (kubeconfig's `insecure-skip-tls-verify`).
    public var insecureSkipTLSVerify = false
    public var credentials: Credentials
    /// The context's (or the pod's) namespace.
    public var namespace: String

    public init(
        server: String, certificateAuthorityPEM: String? = nil, credentials: Credentials = .none, namespace: String = "default",
        insecureSkipTLSVerify: Bool = false
    ) {
        self.server = server
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.credentials = credentials
        self.namespace = namespace
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
    }

    /// A configuration error, naming what is missing or wrong.
    public struct ConfigError: Error, CustomStringConvertible, Equatable {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// Where Kubernetes mounts a pod's service account.
    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The in-cluster configuration: `KUBERNETES_SERVICE_HOST`/`_PORT`, and the service account's
    /// `token` (re-read before each request), `ca.crt` and `namespace` under `directory`.
    public static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment, directory: String = serviceAccountDirectory
    ) throws(ConfigError) -> KubeClientConfig {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty, let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else { throw ConfigError("not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set") }
        let tokenPath = directory + "/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else { throw ConfigError("no service-account token at \(tokenPath)") }
        let ca = try? String(contentsOfFile: directory + "/ca.crt", encoding: .utf8)
        let namespace = (try? String(contentsOfFile: directory + "/namespace", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        // An IPv6 address is written in brackets in a URL.
        let authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        return KubeClientConfig(
            server: "https://\(authority)", certificateAuthorityPEM: ca, credentials: .tokenFile(tokenPath),
            namespace: namespace.flatMap { $0.isEmpty ? nil : $0 } ?? "default")
    }

    /// The current context of the kubeconfig at `path` (relative file references resolved
    /// against its directory).
    public static func kubeconfig(path: String) throws(ConfigError) -> KubeClientConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError("cannot read kubeconfig \(path): \(error.localizedDescription)")
        }
        return try kubeconfig(text: text, directory: (path as NSString).deletingLastPathComponent)
    }

    /// The current context of a kubeconfig's text.
    public static func kubeconfig(text: String, directory: String = ".") throws(ConfigError) -> KubeClientConfig {
        let root: [String: Any]
        do {
            guard let loaded = try Yams.load(yaml: text) as? [String: Any] else { throw ConfigError("a kubeconfig is a YAML mapping") }
            root = loaded
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError("invalid kubeconfig YAML: \(error)")
        }
        func named(_ list: String, _ name: String, _ field: String) throws(ConfigError) -> [String: Any] {
            let entries = root[list] as? [[String: Any]] ?? []
            guard let entry = entries.first(where: { $0["name"] as? String == name }), let body = entry[field] as? [String: Any] else {
                throw ConfigError("kubeconfig: no \(field) named \"\(name)\" in \(list)")
            }
            return body
        }
        guard let current = root["current-context"] as? String, !current.isEmpty else { throw ConfigError("kubeconfig: no current-context") }
        let context = try named("contexts", current, "context")
        guard let clusterName = context["cluster"] as? String else { throw ConfigError("kubeconfig: context \"\(current)\" names no cluster") }
        let cluster = try named("clusters", clusterName, "cluster")
        guard let server = cluster["server"] as? String, server.hasPrefix("https://") || server.hasPrefix("http://") else {
            throw ConfigError("kubeconfig: cluster \"\(clusterName)\" has no http(s) server")
        }
        func file(_ path: String) throws(ConfigError) -> String {
            let full = path.hasPrefix("/") ? path : directory + "/" + path
            do { return try String(contentsOfFile: full, encoding: .utf8) } catch { throw ConfigError("kubeconfig: cannot read \(full)") }
        }
        func data(_ base64: String, _ what: String) throws(ConfigError) -> String {
            guard let bytes = Data(base64Encoded: base64, options: .ignoreUnknownCharacters), let text = String(data: bytes, encoding: .utf8) else {
                throw ConfigError("kubeconfig: \(what) is not base64 PEM")
            }
            return text
        }
        var ca: String?
        if let inline = cluster["certificate-authority-data"] as? String {
            ca = try data(inline, "certificate-authority-data")
        } else if let path = cluster["certificate-authority"] as? String {
            ca = try file(path)
        }
        var credentials = Credentials.none
        if let userName = context["user"] as? String {
            let user = try named("users", userName, "user")
            if let token = user["token"] as? String {
                credentials = .token(token)
            } else if let path = user["tokenFile"] as? String {
                credentials = .tokenFile(path.hasPrefix("/") ? path : directory + "/" + path)
            } else if let certificate = user["client-certificate-data"] as? String, let key = user["client-key-data"] as? String {
                credentials = .clientCertificate(
                    certificatePEM: try data(certificate, "client-certificate-data"), keyPEM: try data(key, "client-key-data"))
            } else if let certificate = user["client-certificate"] as? String, let key = user["client-key"] as? String {
                credentials = .clientCertificate(certificatePEM: try file(certificate), keyPEM: try file(key))
            } else if user["exec"] != nil || user["auth-provider"] != nil {
                throw ConfigError(
                    "kubeconfig: user \"\(userName)\" uses an exec or auth-provider plugin, which meshd does not run; use a token or a client certificate"
                )
            }
        }
        return KubeClientConfig(
            server: server, certificateAuthorityPEM: ca, credentials: credentials, namespace: context["namespace"] as? String ?? "default",
            insecureSkipTLSVerify: cluster["insecure-skip-tls-verify"] as? Bool ?? false)
    }

    /// The bearer token to send now (a token file is read each time), nil without one.
    public func bearerToken() throws(ConfigError) -> String? {
        switch credentials {
        case .token(let token): return token
        case .tokenFile(let path):
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ConfigError("cannot read the token file \(path)") }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        case .none, .clientCertificate: return nil
        }
    }
}
