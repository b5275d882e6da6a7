import EnvoyAPI
import Foundation
import MeshTesting
import Testing
import Translator
import XDSCore

@testable import PushPipeline
@testable import XDS

@Suite struct DeltaStreamStateMachineTests {
    let base: ProxySnapshot
    let v2Only: ProxySnapshot

    init() throws {
        base = try snapshot(
            revision: 1, CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
            CanaryFixture.virtualService([("v1", 50), ("v2", 50)]))
        v2Only = try snapshot(
            revision: 2, CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v2"]),
            CanaryFixture.virtualService([("v2", 100)]))
    }

    @Test func aFirstRequestWithoutNamesIsWildcardAndLaterPushesCarryOnlyDeletions() {
        var machine = DeltaStreamStateMachine(streamID: "s", snapshot: base)
        let sent = machine.receive(.init(typeURL: TypeURL.cluster, nodeID: "envoy-1")).sends
        #expect(sent.count == 1)
        #expect(sent[0].names == [v1Cluster, v2Cluster, allCluster].sorted())
        #expect(sent[0].removedResources.isEmpty)
        #expect(sent[0].versionInfo == ContentVersion.of(base.of(TypeURL.cluster).values))
        #expect(machine.isWildcard(TypeURL.cluster))
        #expect(machine.nodeID == "envoy-1")
        ack(&machine, sent[0])
        #expect(machine.status(of: TypeURL.cluster).status == .synced)

        #expect(machine.push(base).isEmpty)
        let pushed = machine.push(v2Only).sends
        #expect(pushed.map(\.typeURL) == [TypeURL.cluster])
        #expect(pushed[0].resources.isEmpty)
        #expect(pushed[0].removedResources == [v1Cluster])
        #expect(pushed[0].versionInfo == ContentVersion.of(v2Only.of(TypeURL.cluster).values))
    }

    @Test func explicitWildcardEndsWhenUnsubscribedAndNamedSubscriptionsRemain() {
        var machine = DeltaStreamStateMachine(streamID: "s", snapshot: base)
        let all = machine.receive(.init(typeURL: TypeURL.cluster, subscribe: ["*", v1Cluster])).sends[0]
        #expect(all.names.count == 3)
        // Ending wildcard while keeping v1: nothing to send, the client drops the rest itself.
        let events = machine.receive(.init(typeURL: TypeURL.cluster, unsubscribe: ["*"], responseNonce: all.nonce))
        #expect(events == [.acked(typeURL: TypeURL.cluster, version: all.versionInfo)])
        #expect(!machine.isWildcard(TypeURL.cluster))
        // v2 is no longer wanted: its deletion is not reported, v1's is.
        let pushed = machine.push(v2Only).sends
        #expect(pushed.map(\.removedResources) == [[v1Cluster]])
    }

    @Test func namedSubscriptionsAddAndDropMidStream() {
        var machine = DeltaStreamStateMachine(streamID: "s", snapshot: base)
        let first = machine.receive(.init(typeURL: TypeURL.endpoint, subscribe: [v1Cluster])).sends[0]
        #expect(first.names == [v1Cluster])
        let second = machine.receive(.init(typeURL: TypeURL.endpoint, subscribe: [v2Cluster], responseNonce: first.nonce))
        #expect(second.first == .acked(typeURL: TypeURL.endpoint, version: first.versionInfo))
        #expect(second.sends.map(\.names) == [[v2Cluster]])  // only the new name
        // An unsubscribe needs no response.
        let dropped = machine.receive(.init(typeURL: TypeURL.endpoint, unsubscribe: [v1Cluster], responseNonce: second.sends[0].nonce))
        #expect(dropped.sends.isEmpty)
        #expect(machine.status(of: TypeURL.endpoint).status == .synced)
        // Subscribing again sends it again: the client dropped it.
        let again = machine.receive(.init(typeURL: TypeURL.endpoint, subscribe: [v1Cluster])).sends
        #expect(again.map(\.names) == [[v1Cluster]])
        // A deletion it no longer subscribes to is not reported; v1's is.
        let pushed = machine.push(v2Only).sends
        #expect(pushed.map(\.typeURL) == [TypeURL.endpoint])
        #expect(pushed[0].removedResources == [v1Cluster])
        #expect(pushed[0].resources.isEmpty)
    }

    @Test func aReconnectWithInitialVersionsGetsOnlyTheDifferences() throws {
        let clusters = base.of(TypeURL.cluster)
        var initial = clusters.mapValues(\.version)
        initial[v2Cluster] = "0000000000000000"  // outdated
        initial["outbound|9080|v0|reviews.default.svc.cluster.local"] = "1234"  // deleted while away
        var machine = DeltaStreamStateMachine(streamID: "b", snapshot: base)
        let sent = machine.receive(.init(typeURL: TypeURL.cluster, initialVersions: initial)).sends
        #expect(sent.count == 1)
        #expect(sent[0].names == [v2Cluster])
        #expect(sent[0].removedResources == ["outbound|9080|v0|reviews.default.svc.cluster.local"])
        // The set version is the one a fresh stream is sent for the same content.
        #expect(sent[0].versionInfo == ContentVersion.of(clusters.values))

        // Named: a reconnect holding v1 up to date is sent only v2.
        var named = DeltaStreamStateMachine(streamID: "c", snapshot: base)
        let eds = named.receive(
            .init(
                typeURL: TypeURL.endpoint, subscribe: [v1Cluster, v2Cluster],
                initialVersions: [v1Cluster: try #require(base.of(TypeURL.endpoint)[v1Cluster]).version])
        ).sends
        #expect(eds.map(\.names) == [[v2Cluster]])
    }

    @Test func aRequestBeforeTheFirstSnapshotIsAnsweredInOneResponseByTheFirstPush() {
        var machine = DeltaStreamStateMachine(streamID: "b")
        var initial = base.of(TypeURL.cluster).mapValues(\.version)
        initial["gone"] = "0123456789abcdef"
        #expect(machine.receive(.init(typeURL: TypeURL.cluster, initialVersions: initial)).isEmpty)
        let sent = machine.push(base).sends
        #expect(sent.count == 1)
        #expect(sent[0].resources.isEmpty && sent[0].removedResources == ["gone"])
    }

    @Test func aReconnectHoldingEverythingIsAnsweredEmptyForWildcardAndNotAtAllForNames() {
        var machine = DeltaStreamStateMachine(streamID: "b", snapshot: base)
        let cds = machine.receive(.init(typeURL: TypeURL.cluster, initialVersions: base.of(TypeURL.cluster).mapValues(\.version))).sends
        #expect(cds.count == 1 && cds[0].resources.isEmpty && cds[0].removedResources.isEmpty)
        let eds = machine.receive(
            .init(
                typeURL: TypeURL.endpoint, subscribe: [v1Cluster],
                initialVersions: base.of(TypeURL.endpoint).filter { $0.key == v1Cluster }.mapValues(\.version)))
        #expect(eds.isEmpty)
    }

    @Test func aNameThatDoesNotExistArrivesOnceWhenCreated() throws {
        let v1Only = try snapshot(
            revision: 1, CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1"]),
            CanaryFixture.virtualService([("v1", 100)]))
        var machine = DeltaStreamStateMachine(streamID: "s", snapshot: v1Only)
        #expect(machine.receive(.init(typeURL: TypeURL.endpoint, subscribe: [v2Cluster])).isEmpty)
        #expect(machine.push(v1Only).isEmpty)
        let created = machine.push(base).sends
        #expect(created.map(\.names) == [[v2Cluster]])
        ack(&machine, created[0])
        #expect(machine.push(base).isEmpty)
    }

    /// A deleted credential is not withdrawn: the gateway keeps the secret its listener uses (as
    /// state of the world leaves it); a new one with the same name arrives as an update.
    @Test func aDeletedSecretIsNotWithdrawnAndItsReplacementArrives() throws {
        func secrets(_ revision: Int64, key: String?) -> ProxySnapshot {
            var resources: [String: [String: XDSResource]] = [:]
            if let key {
                var secret = Envoy_Extensions_TransportSockets_Tls_V3_Secret()
                secret.name = "kubernetes://gw-cred"
                secret.tlsCertificate.privateKey.inlineBytes = Data(key.utf8)
                resources[TypeURL.secret] = ["kubernetes://gw-cred": XDSResource(name: secret.name, message: secret)]
            }
            return ProxySnapshot(revision: revision, resources: resources)
        }
        var machine = DeltaStreamStateMachine(streamID: "s", snapshot: secrets(1, key: "first"))
        let first = machine.receive(.init(typeURL: TypeURL.secret, subscribe: ["kubernetes://gw-cred"])).sends
        #expect(first.map(\.names) == [["kubernetes://gw-cred"]])
        ack(&machine, first[0])
        #expect(machine.push(secrets(2, key: nil)).isEmpty, "no removed_resources for a deleted secret")
        let replaced = machine.push(secrets(3, key: "second")).sends
        #expect(replaced.map(\.names) == [["kubernetes://gw-cred"]])
        #expect(replaced.first?.removedResources.isEmpty == true)
    }

    @Test func nackIsRecordedNotResentAndStaleNoncesAreIgnored() throws {
        var machine = DeltaStreamStateMachine(streamID: "s", snapshot: base)
        let sent = machine.receive(.init(typeURL: TypeURL.route, subscribe: [reviewsListener])).sends[0]
        let nack = machine.receive(.init(typeURL: TypeURL.route, responseNonce: sent.nonce, errorDetail: "weights all zero"))
        #expect(nack == [.nacked(typeURL: TypeURL.route, version: sent.versionInfo, error: "weights all zero")])
        #expect(machine.status(of: TypeURL.route).status == .stale)
        #expect(machine.status(of: TypeURL.route).error == "weights all zero")
        #expect(machine.push(base).isEmpty)

        let fixed = try snapshot(
            revision: 2, CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
            CanaryFixture.virtualService([("v2", 100)]))
        let resent = machine.push(fixed).sends
        #expect(resent.map(\.names) == [[reviewsListener]])
        #expect(
            machine.receive(.init(typeURL: TypeURL.route, responseNonce: sent.nonce))
                == [.ignoredStale(typeURL: TypeURL.route, nonce: sent.nonce)])
        #expect(machine.status(of: TypeURL.route).status == .stale)
        ack(&machine, resent[0])
        #expect(
            machine.status(of: TypeURL.route)
                == TypeStatus(
                    status: .synced, sentVersion: resent[0].versionInfo,
                    ackedVersion: resent[0].versionInfo, sentNonce: resent[0].nonce))
    }

    @Test func aChangeToNothingTheProxyHoldsOrWantsSendsNothing() throws {
        var machine = envoyLike(base)
        #expect(machine.push(base).isEmpty)
        let shifted = try snapshot(
            revision: 2, CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
            CanaryFixture.virtualService([("v1", 10), ("v2", 90)]))
        let sends = machine.push(shifted).sends
        #expect(sends.map(\.typeURL) == [TypeURL.route])
        #expect(sends[0].names == [reviewsListener])
    }

    @Test func newClustersWarmBeforeRoutesAndRemovedOnesGoLast() throws {
        let v1Only = try snapshot(
            revision: 1, CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1"]),
            CanaryFixture.virtualService([("v1", 100)]))
        var machine = envoyLike(v1Only)
        let withV2 = try snapshot(
            revision: 2, CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
            CanaryFixture.virtualService([("v2", 100)]))
        let pushed = machine.push(withV2).sends
        #expect(pushed.map(\.typeURL) == [TypeURL.cluster])
        #expect(pushed[0].names.contains(v2Cluster))
        #expect(pushed[0].removedResources.isEmpty)
        ack(&machine, pushed[0])
        // The client warms v2: it subscribes to its endpoints; the held route follows them.
        let released = machine.receive(.init(typeURL: TypeURL.endpoint, subscribe: [v2Cluster])).sends
        #expect(released.map(\.typeURL) == [TypeURL.endpoint, TypeURL.route])
        #expect(released[0].names == [v2Cluster])
        for response in released { ack(&machine, response) }

        let removing = machine.push(v2Only).sends
        #expect(removing.map(\.typeURL) == [TypeURL.cluster, TypeURL.endpoint])
        #expect(removing.map(\.removedResources) == [[v1Cluster], [v1Cluster]])
    }

    @Test func unknownTypesAreAnsweredEmptyAndLeaveNoState() {
        var machine = DeltaStreamStateMachine(streamID: "s", snapshot: base)
        let type = "type.googleapis.com/example.Invented"
        let events = machine.receive(.init(typeURL: type, subscribe: ["a", "b"]))
        #expect(events.first == .unknownType(typeURL: type))
        #expect(events.sends.map(\.resources) == [[]])
        let ack = machine.receive(.init(typeURL: type, responseNonce: events.sends[0].nonce))
        #expect(ack == [.ignoredStale(typeURL: type, nonce: events.sends[0].nonce)])
        #expect(machine.subscribedTypes.isEmpty)
        #expect(machine.largestSubscription == 0)
    }

    @Test func theStatusRegistryShowsWhichProtocolAStreamSpeaks() {
        let registry = ProxyStatusRegistry()
        var delta = DeltaStreamStateMachine(streamID: "d", snapshot: base)
        ack(&delta, delta.receive(.init(typeURL: TypeURL.cluster, nodeID: "envoy-d")).sends[0])
        registry.update(connectionID: "d", connectedAt: .now, machine: delta)
        registry.update(connectionID: "s", connectedAt: .now, machine: StreamStateMachine(streamID: "s"))
        let status = registry.proxy("envoy-d")
        #expect(status?.protocolName == "delta")
        #expect(status?.synced == true)
        #expect(registry.proxy("s")?.protocolName == "sotw")
    }

    // MARK: - Helpers

    /// ACKs `response` (the latest of its type).
    private func ack(_ machine: inout DeltaStreamStateMachine, _ response: DiscoveryResponseInfo) {
        _ = machine.receive(.init(typeURL: response.typeURL, responseNonce: response.nonce))
    }

    /// An Envoy-like stream, all ACKed: wildcard CDS and LDS, EDS and RDS by name.
    private func envoyLike(_ snapshot: ProxySnapshot) -> DeltaStreamStateMachine {
        var machine = DeltaStreamStateMachine(streamID: "s", snapshot: snapshot)
        let eds = snapshot.of(TypeURL.endpoint).keys.sorted()
        for (type, names) in [(TypeURL.cluster, [String]()), (TypeURL.endpoint, eds), (TypeURL.listener, []), (TypeURL.route, [reviewsListener])] {
            for response in machine.receive(.init(typeURL: type, subscribe: names)).sends { ack(&machine, response) }
        }
        return machine
    }
}
