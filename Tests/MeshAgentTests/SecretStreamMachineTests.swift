import EnvoyAPI
import Foundation
import SwiftProtobuf
import Testing

@testable import mesh_agent

private let first = WorkloadSecrets(chainPEM: "chain-1", keyPEM: "key-1", rootPEM: "root")
private let rotated = WorkloadSecrets(chainPEM: "chain-2", keyPEM: "key-2", rootPEM: "root")

private func request(_ names: [String], nonce: String = "", version: String = "", error: String? = nil)
    -> Envoy_Service_Discovery_V3_DiscoveryRequest
{
    var request = Envoy_Service_Discovery_V3_DiscoveryRequest()
    request.typeURL = WorkloadSecrets.typeURL
    request.resourceNames = names
    request.responseNonce = nonce
    request.versionInfo = version
    if let error { request.errorDetail.message = error }
    return request
}

private func sent(_ events: [SecretStreamEvent]) -> [Envoy_Service_Discovery_V3_DiscoveryResponse] {
    events.compactMap { if case .send(let response) = $0 { response } else { nil } }
}

private func names(_ response: Envoy_Service_Discovery_V3_DiscoveryResponse) throws -> [String] {
    try response.resources.map { try Envoy_Extensions_TransportSockets_Tls_V3_Secret(unpackingAny: $0).name }
}

@Suite struct WorkloadSecretsTests {
    @Test func defaultCarriesTheChainAndKeyAndROOTCATheBundle() throws {
        let secrets = WorkloadSecrets(chainPEM: "C", keyPEM: "K", rootPEM: "R")
        let certificate = try #require(secrets.entries["default"]).secret
        #expect(certificate.tlsCertificate.certificateChain.inlineBytes == Data("C".utf8))
        #expect(certificate.tlsCertificate.privateKey.inlineBytes == Data("K".utf8))
        let root = try #require(secrets.entries["ROOTCA"]).secret
        #expect(root.validationContext.trustedCa.inlineBytes == Data("R".utf8))
    }

    @Test func versionsFollowContent() {
        #expect(first.version != rotated.version)
        #expect(first.version == WorkloadSecrets(chainPEM: "chain-1", keyPEM: "key-1", rootPEM: "root").version)
        // The bundle did not change, so ROOTCA's own version did not either.
        #expect(first.entries["ROOTCA"]?.version == rotated.entries["ROOTCA"]?.version)
        #expect(first.entries["default"]?.version != rotated.entries["default"]?.version)
    }
}

@Suite struct SecretStreamMachineTests {
    @Test func answersTheNamedSecretsAndTreatsTheNextNonceAsAnACK() throws {
        var machine = SecretStreamMachine(streamID: "s")
        #expect(machine.update(first).isEmpty)
        let response = try #require(sent(try machine.receive(request(["default"]))).first)
        #expect(try names(response) == ["default"])
        #expect(response.versionInfo == first.version)
        #expect(response.typeURL == WorkloadSecrets.typeURL)
        let ack = try machine.receive(request(["default"], nonce: response.nonce, version: response.versionInfo))
        #expect(ack == [.acked(version: first.version)])
        #expect(machine.ackedVersion == first.version)
    }

    @Test func waitsForTheFirstCertificate() throws {
        var machine = SecretStreamMachine(streamID: "s")
        #expect(try machine.receive(request(["default", "ROOTCA"])).isEmpty)
        let response = try #require(sent(machine.update(first)).first)
        #expect(try names(response) == ["ROOTCA", "default"])
    }

    @Test func aRotationIsPushedAsANewVersionOnlyToStreamsWhoseSecretChanged() throws {
        var certificateStream = SecretStreamMachine(streamID: "a")
        var rootStream = SecretStreamMachine(streamID: "b")
        _ = certificateStream.update(first)
        _ = rootStream.update(first)
        let initial = try #require(sent(try certificateStream.receive(request(["default"]))).first)
        _ = try rootStream.receive(request(["ROOTCA"]))
        let pushed = try #require(sent(certificateStream.update(rotated)).first)
        #expect(pushed.versionInfo == rotated.version)
        #expect(pushed.nonce != initial.nonce)
        // Same trust bundle: nothing for the ROOTCA stream.
        #expect(rootStream.update(rotated).isEmpty)
    }

    @Test func aNACKIsRecordedAndNotAnsweredAndStaleNoncesAreIgnored() throws {
        var machine = SecretStreamMachine(streamID: "s")
        _ = machine.update(first)
        let one = try #require(sent(try machine.receive(request(["default"]))).first)
        let two = try #require(sent(machine.update(rotated)).first)
        #expect(try machine.receive(request(["default"], nonce: one.nonce)) == [.ignoredStale(nonce: one.nonce)])
        let nack = try machine.receive(request(["default"], nonce: two.nonce, version: first.version, error: "bad key"))
        #expect(nack == [.rejected(version: rotated.version, message: "bad key")])
        #expect(machine.ackedVersion == nil)
    }

    @Test func changingNamesIsAnsweredAndUnknownNamesAreReportedOnce() throws {
        var machine = SecretStreamMachine(streamID: "s")
        _ = machine.update(first)
        let one = try #require(sent(try machine.receive(request(["default"]))).first)
        let events = try machine.receive(request(["default", "spiffe://other"], nonce: one.nonce))
        #expect(events.contains(.unknownNames(["spiffe://other"])))
        #expect(try names(try #require(sent(events).first)) == ["default"])
        // Re-sent after a reconnect-style request, but not reported again.
        #expect(!(try machine.receive(request(["default", "spiffe://other"]))).contains(.unknownNames(["spiffe://other"])))
    }

    @Test func anotherTypeEndsTheStream() {
        var machine = SecretStreamMachine(streamID: "s")
        var wrong = request(["default"])
        wrong.typeURL = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
        #expect(throws: SecretStreamError.self) { try machine.receive(wrong) }
    }
}

@Suite struct DeltaSecretStreamMachineTests {
    private func subscribe(_ names: [String], nonce: String = "", initial: [String: String] = [:])
        -> Envoy_Service_Discovery_V3_DeltaDiscoveryRequest
    {
        var request = Envoy_Service_Discovery_V3_DeltaDiscoveryRequest()
        request.typeURL = WorkloadSecrets.typeURL
        request.resourceNamesSubscribe = names
        request.responseNonce = nonce
        request.initialResourceVersions = initial
        return request
    }

    private func delta(_ events: [SecretStreamEvent]) -> Envoy_Service_Discovery_V3_DeltaDiscoveryResponse? {
        events.lazy.compactMap { if case .sendDelta(let response) = $0 { response } else { nil } }.first
    }

    @Test func sendsOnlyWhatEnvoyLacks() throws {
        var machine = DeltaSecretStreamMachine(streamID: "d")
        _ = machine.update(first)
        // Envoy reconnects already holding the current ROOTCA.
        let rootVersion = try #require(first.entries["ROOTCA"]?.version)
        let response = try #require(delta(try machine.receive(subscribe(["default", "ROOTCA"], initial: ["ROOTCA": rootVersion]))))
        #expect(response.resources.map(\.name) == ["default"])
        #expect(try machine.receive(subscribe([], nonce: response.nonce)) == [.acked(version: first.version)])
        let pushed = try #require(delta(machine.update(rotated)))
        #expect(pushed.resources.map(\.name) == ["default"])
        #expect(pushed.resources.first?.version == rotated.entries["default"]?.version)
    }

    @Test func anUnservedNameIsReportedRemoved() throws {
        var machine = DeltaSecretStreamMachine(streamID: "d")
        _ = machine.update(first)
        let response = try #require(delta(try machine.receive(subscribe(["file-cert:/x"]))))
        #expect(response.removedResources == ["file-cert:/x"])
        #expect(response.resources.isEmpty)
    }
}

/// A generation queued for a stream that already took a newer one (a request's file secrets,
/// handed over directly) must not be applied: it would withdraw what the newer one added.
@Suite struct StaleGenerationTests {
    static func generations() -> (older: WorkloadSecrets, newer: WorkloadSecrets) {
        var older = first
        older.sequence = 1
        var extra = WorkloadSecrets.entry(Envoy_Extensions_TransportSockets_Tls_V3_Secret())
        extra = WorkloadSecrets.Entry(
            secret: {
                var s = extra.secret
                s.name = "file-root:/ca.crt"
                return s
            }(), version: "f1")
        var newer = first.adding(["file-root:/ca.crt": extra])
        newer.sequence = 2
        return (older, newer)
    }

    @Test func stateOfTheWorldIgnoresAnOlderGeneration() throws {
        let (older, newer) = Self.generations()
        var machine = SecretStreamMachine(streamID: "s")
        #expect(machine.update(newer).isEmpty)
        let response = try #require(sent(try machine.receive(request(["default", "file-root:/ca.crt"]))).first)
        #expect(try names(response) == ["default", "file-root:/ca.crt"])
        #expect(machine.update(older).isEmpty)
        #expect(machine.update(newer).isEmpty)
    }

    @Test func deltaIgnoresAnOlderGeneration() throws {
        let (older, newer) = Self.generations()
        var machine = DeltaSecretStreamMachine(streamID: "d")
        _ = machine.update(newer)
        var subscribe = Envoy_Service_Discovery_V3_DeltaDiscoveryRequest()
        subscribe.typeURL = WorkloadSecrets.typeURL
        subscribe.resourceNamesSubscribe = ["file-root:/ca.crt"]
        #expect(try machine.receive(subscribe).contains { if case .sendDelta = $0 { true } else { false } })
        #expect(machine.update(older).isEmpty, "no removal of a secret the newer generation holds")
    }
}
