import EnvoyAPI
import Foundation
import MeshModel
import MeshTesting
import PushPipeline
import Storage
import Testing
import Translator

/// SDS for gateways: which proxies get which credentials, in what shape, and what tools show.
@Suite struct GatewaySecretTests {
    static let material = CredentialMaterial(
        certificateChainPEM: "-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n",
        privateKeyPEM: "-----BEGIN PRIVATE KEY-----\nS0VZLUJZVEVT\n-----END PRIVATE KEY-----\n",
        caCertificatesPEM: "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n",
        digest: "sha256:" + String(repeating: "ab", count: 32))

    static func secret(_ name: String, namespace: String, material: CredentialMaterial) -> StoredConfig {
        let spec = TLSSecret(
            subject: "CN=reviews.example.com", subjectAltNames: ["reviews.example.com"], serial: "0a1b",
            notAfter: Date(timeIntervalSince1970: 1_900_000_000), hasClientCA: material.caCertificatesPEM != nil, material: material.digest)
        return StoredConfig(resource: spec.resource(namespace: namespace, name: name), revision: 2, createdRevision: 2)
    }

    /// A context holding credential `gw-cred` in istio-system (and `other` in ns-2), with material
    /// when `vaulted`.
    static func context(vaulted: Bool = true) -> PushContext {
        let gateway = StoredConfig(
            resource: CanaryFixture.resources(
                GatewayFixture.gateway(
                    servers: ["{port: {number: 443, name: https, protocol: HTTPS}, hosts: [\"*\"], tls: {mode: MUTUAL, credentialName: gw-cred}}"]))[
                    0],
            revision: 1, createdRevision: 1)
        var index = ConfigIndex()
        index.load(
            ConfigSnapshot(
                revision: 3,
                configs: [
                    gateway, secret("gw-cred", namespace: "istio-system", material: material), secret("other", namespace: "ns-2", material: material),
                ]))
        if vaulted { index.addCredentialMaterial([material]) }
        return index.context()
    }

    func secrets(_ proxy: Proxy, _ push: PushContext) -> [XDSResource] {
        GeneratorTable.testing.resources(TypeURL.secret, for: proxy, in: push)
    }

    @Test func anAuthenticatedGatewayGetsItsNamespacesCredentialInline() throws {
        var proxy = GatewayFixture.proxy()
        proxy.identity = "spiffe://cluster.local/ns/istio-system/sa/ingress"
        let resources = secrets(proxy, Self.context())
        #expect(resources.map(\.name) == ["kubernetes://gw-cred", "kubernetes://gw-cred-cacert"])
        let pair = try Envoy_Extensions_TransportSockets_Tls_V3_Secret(serializedBytes: resources[0].payload.value)
        #expect(pair.name == "kubernetes://gw-cred")
        #expect(pair.tlsCertificate.certificateChain.inlineBytes == Data(Self.material.certificateChainPEM.utf8))
        #expect(pair.tlsCertificate.privateKey.inlineBytes == Data(Self.material.privateKeyPEM.utf8))
        let ca = try Envoy_Extensions_TransportSockets_Tls_V3_Secret(serializedBytes: resources[1].payload.value)
        #expect(ca.validationContext.trustedCa.inlineBytes == Data(Self.material.caCertificatesPEM!.utf8))
    }

    @Test func plaintextGatewaysSidecarsAndOtherNamespacesGetNothing() {
        let push = Self.context()
        #expect(secrets(GatewayFixture.proxy(), push).isEmpty)
        var elsewhere = GatewayFixture.proxy()
        elsewhere.namespace = "ns-3"
        elsewhere.identity = "spiffe://cluster.local/ns/ns-3/sa/ingress"
        #expect(secrets(elsewhere, push).isEmpty)
        var sidecar = EnvoyFixture.proxy(namespace: "istio-system")
        sidecar.identity = "spiffe://cluster.local/ns/istio-system/sa/reviews"
        #expect(secrets(sidecar, push).isEmpty)
        #expect(GeneratorTable.testing.generator(for: .sidecar, typeURL: TypeURL.secret) == nil)
    }

    @Test func missingMaterialIsReportedAndServesNothing() {
        var proxy = GatewayFixture.proxy()
        proxy.identity = "spiffe://cluster.local/ns/istio-system/sa/ingress"
        let push = Self.context(vaulted: false)
        #expect(secrets(proxy, push).isEmpty)
        #expect(
            push.warnings.contains { $0.key.name == "gw-cred" && $0.field == "spec.material" && $0.message.contains("not in the credential vault") })
    }

    @Test func rotationChangesTheVersion() {
        var proxy = GatewayFixture.proxy()
        proxy.identity = "spiffe://cluster.local/ns/istio-system/sa/ingress"
        var rotated = Self.material
        rotated.privateKeyPEM = "-----BEGIN PRIVATE KEY-----\nTkVXLUtFWQ==\n-----END PRIVATE KEY-----\n"
        rotated.digest = "sha256:" + String(repeating: "cd", count: 32)
        var index = ConfigIndex()
        index.load(ConfigSnapshot(revision: 4, configs: [Self.secret("gw-cred", namespace: "istio-system", material: rotated)]))
        index.addCredentialMaterial([rotated, Self.material])
        #expect(index.credentialMaterial.keys.sorted() == [rotated.digest], "material no Secret names is forgotten")
        let before = secrets(proxy, Self.context()).first
        let after = secrets(proxy, index.context()).first
        #expect(before?.name == after?.name)
        #expect(before?.version != after?.version)
    }

    @Test func toolsSeeTheKeyRedacted() throws {
        var proxy = GatewayFixture.proxy()
        proxy.identity = "spiffe://cluster.local/ns/istio-system/sa/ingress"
        let resource = try #require(secrets(proxy, Self.context()).first)
        let shown = try Envoy_Extensions_TransportSockets_Tls_V3_Secret(serializedBytes: SecretRedaction.displayable(resource).value)
        #expect(shown.tlsCertificate.privateKey.inlineBytes == SecretRedaction.placeholder)
        #expect(shown.tlsCertificate.certificateChain.inlineBytes == Data(Self.material.certificateChainPEM.utf8))
        let diff = ProxyConfigDiff.json(resource)
        #expect(!diff.contains("S0VZLUJZVEVT") && !diff.contains(Data(Self.material.privateKeyPEM.utf8).base64EncodedString()))
    }
}
