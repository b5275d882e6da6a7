import Foundation
import Kubernetes
import Testing

@Suite("Kubernetes client configuration: kubeconfig and in-cluster")
struct KubeClientConfigTests {
    private let ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

    private func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kube-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func theCurrentContextsClusterUserAndNamespace() throws {
        let caData = Data(ca.utf8).base64EncodedString()
        let config = try KubeClientConfig.kubeconfig(
            text: """
                apiVersion: v1
                kind: Config
                current-context: dev
                clusters:
                - name: other
                  cluster: {server: "https://other:6443"}
                - name: main
                  cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: \(caData)}
                contexts:
                - name: prod
                  context: {cluster: other, user: ops}
                - name: dev
                  context: {cluster: main, user: meshd, namespace: mesh-system}
                users:
                - name: ops
                  user: {token: nope}
                - name: meshd
                  user: {token: abc123}
                """)
        #expect(config.server == "https://127.0.0.1:6443" && config.certificateAuthorityPEM == ca)
        #expect(config.credentials == .token("abc123") && config.namespace == "mesh-system")
        #expect(try config.bearerToken() == "abc123")
    }

    @Test func filesAreReadRelativeToTheKubeconfig() throws {
        let dir = try directory()
        try ca.write(to: dir.appendingPathComponent("ca.pem"), atomically: true, encoding: .utf8)
        try "token-1\n".write(to: dir.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        let path = dir.appendingPathComponent("config").path
        try """
        current-context: c
        clusters: [{name: k, cluster: {server: "https://k:443", certificate-authority: ca.pem}}]
        contexts: [{name: c, context: {cluster: k, user: u}}]
        users: [{name: u, user: {tokenFile: token}}]
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let config = try KubeClientConfig.kubeconfig(path: path)
        #expect(config.certificateAuthorityPEM == ca && config.namespace == "default")
        #expect(try config.bearerToken() == "token-1")
        // A rotated token is read on the next request.
        try "token-2\n".write(to: dir.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        #expect(try config.bearerToken() == "token-2")
    }

    @Test(arguments: [
        ("clusters: []", "kubeconfig: no current-context"),
        ("current-context: c\ncontexts: []", "kubeconfig: no context named \"c\" in contexts"),
        (
            "current-context: c\nclusters: [{name: k, cluster: {server: \"ftp://x\"}}]\ncontexts: [{name: c, context: {cluster: k}}]",
            "kubeconfig: cluster \"k\" has no http(s) server"
        ),
        (
            "current-context: c\nclusters: [{name: k, cluster: {server: \"https://x\"}}]\ncontexts: [{name: c, context: {cluster: k, user: u}}]\nusers: [{name: u, user: {exec: {command: gcloud}}}]",
            "kubeconfig: user \"u\" uses an exec or auth-provider plugin, which meshd does not run; use a token or a client certificate"
        ),
    ])
    func problemsAreNamed(_ text: String, _ message: String) {
        #expect(throws: KubeClientConfig.ConfigError(message)) { try KubeClientConfig.kubeconfig(text: text) }
    }

    @Test func inClusterReadsTheServiceAccount() throws {
        let dir = try directory()
        try "tok\n".write(to: dir.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        try ca.write(to: dir.appendingPathComponent("ca.crt"), atomically: true, encoding: .utf8)
        try "istio-system\n".write(to: dir.appendingPathComponent("namespace"), atomically: true, encoding: .utf8)
        let config = try KubeClientConfig.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"], directory: dir.path)
        #expect(config.server == "https://[fd00::1]:443" && config.namespace == "istio-system" && config.certificateAuthorityPEM == ca)
        #expect(try config.bearerToken() == "tok")
        #expect(throws: KubeClientConfig.ConfigError.self) { try KubeClientConfig.inCluster(environment: [:], directory: dir.path) }
    }
}
