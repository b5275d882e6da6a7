import MeshTesting
import Testing
import Translator
import XDSCore

@testable import PushPipeline
@testable import XDS

@Suite struct StreamStateMachineTests {
    let base: ProxySnapshot

    init() throws {
        base = try snapshot(
            revision: 1, CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
            CanaryFixture.virtualService([("v1", 50), ("v2", 50)]))
    }

    @Test func ackMarksTheTypeSynced() {
        var machine = StreamStateMachine(streamID: "s", snapshot: base)
        let sent = machine.receive(.init(typeURL: TypeURL.listener, nodeID: "client-1")).sends
        #expect(sent.count == 1)
        #expect(sent[0].names == [reviewsListener])
        #expect(machine.status(of: TypeURL.listener).status == .stale)
        #expect(machine.nodeID == "client-1")

        let events = machine.receive(.init(typeURL: TypeURL.listener, versionInfo: sent[0].versionInfo, responseNonce: sent[0].nonce))
        #expect(events == [.acked(typeURL: TypeURL.listener, version: sent[0].versionInfo)])
        #expect(machine.status(of: TypeURL.listener).status == .synced)
        #expect(machine.status(of: TypeURL.route).status == .notSent)
    }

    @Test func nackIsRecordedAndNothingIsResentUntilContentChanges() throws {
        var machine = StreamStateMachine(streamID: "s", snapshot: base)
        let sent = machine.receive(.init(typeURL: TypeURL.route, resourceNames: [reviewsListener])).sends[0]
        let events = machine.receive(
            .init(
                typeURL: TypeURL.route, versionInfo: "", resourceNames: [reviewsListener],
                responseNonce: sent.nonce, errorDetail: "weights all zero"))
        #expect(events == [.nacked(typeURL: TypeURL.route, version: sent.versionInfo, error: "weights all zero")])
        let status = machine.status(of: TypeURL.route)
        #expect(status.status == .stale)
        #expect(status.error == "weights all zero")

        let fixed = try snapshot(
            revision: 2, CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
            CanaryFixture.virtualService([("v2", 100)]))
        let resent = machine.push(fixed).sends
        #expect(resent.map(\.typeURL) == [TypeURL.route])
        _ = machine.receive(
            .init(
                typeURL: TypeURL.route, versionInfo: resent[0].versionInfo, resourceNames: [reviewsListener],
                responseNonce: resent[0].nonce))
        #expect(machine.status(of: TypeURL.route).status == .synced)
        #expect(machine.status(of: TypeURL.route).error == nil)
    }

    @Test func staleNonceIsIgnoredAndEarlyRequestsAreEachAnswered() {
        var machine = StreamStateMachine(streamID: "s", snapshot: base)
        let first = machine.receive(.init(typeURL: TypeURL.cluster, resourceNames: [v1Cluster])).sends
        let second = machine.receive(.init(typeURL: TypeURL.cluster, resourceNames: [v1Cluster, v2Cluster])).sends
        #expect(first.count == 1 && second.count == 1)
        #expect(first[0].nonce != second[0].nonce)
        #expect(second[0].names == [v1Cluster, v2Cluster])

        let stale = machine.receive(.init(typeURL: TypeURL.cluster, resourceNames: [v1Cluster, v2Cluster], responseNonce: first[0].nonce))
        #expect(stale == [.ignoredStale(typeURL: TypeURL.cluster, nonce: first[0].nonce)])
        #expect(machine.status(of: TypeURL.cluster).status == .stale)

        _ = machine.receive(.init(typeURL: TypeURL.cluster, resourceNames: [v1Cluster, v2Cluster], responseNonce: second[0].nonce))
        #expect(machine.status(of: TypeURL.cluster).status == .synced)
    }

    @Test func reconnectWithAVersionGetsTheSameVersionAndResources() {
        var before = StreamStateMachine(streamID: "a", snapshot: base)
        let original = before.receive(.init(typeURL: TypeURL.cluster)).sends[0]

        var after = StreamStateMachine(streamID: "b", snapshot: base)
        let again = after.receive(.init(typeURL: TypeURL.cluster, versionInfo: original.versionInfo)).sends[0]
        #expect(again.versionInfo == original.versionInfo)
        #expect(again.resources == original.resources)
        #expect(again.nonce != original.nonce)
    }

    @Test func pushSendsOnlyTypesAndNamesThatChanged() throws {
        var machine = StreamStateMachine(streamID: "s", snapshot: base)
        for (type, names) in [
            (TypeURL.listener, [String]()), (TypeURL.route, [reviewsListener]),
            (TypeURL.cluster, []), (TypeURL.endpoint, [v1Cluster, v2Cluster, allCluster]),
        ] {
            let sent = machine.receive(.init(typeURL: type, resourceNames: names)).sends[0]
            _ = machine.receive(.init(typeURL: type, versionInfo: sent.versionInfo, resourceNames: names, responseNonce: sent.nonce))
        }
        #expect(machine.push(base).isEmpty)

        let shifted = try snapshot(
            revision: 2, CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
            CanaryFixture.virtualService([("v1", 0), ("v2", 100)]))
        let sends = machine.push(shifted).sends
        #expect(sends.map(\.typeURL) == [TypeURL.route])
        #expect(sends[0].names == [reviewsListener])
    }

    @Test func newClusterAndItsEndpointsArriveBeforeTheRouteThatNamesIt() throws {
        let v1Only = try snapshot(
            revision: 1, CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1"]),
            CanaryFixture.virtualService([("v1", 100)]))
        var machine = StreamStateMachine(streamID: "s", snapshot: v1Only)
        // An Envoy-like client: wildcard CDS and LDS, then RDS and EDS by name.
        var eds = [allCluster, v1Cluster]
        for (type, names) in [(TypeURL.cluster, [String]()), (TypeURL.endpoint, eds), (TypeURL.listener, []), (TypeURL.route, [reviewsListener])] {
            let sent = machine.receive(.init(typeURL: type, resourceNames: names)).sends[0]
            _ = machine.receive(.init(typeURL: type, versionInfo: sent.versionInfo, resourceNames: names, responseNonce: sent.nonce))
        }

        let withV2 = try snapshot(
            revision: 2, CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]),
            CanaryFixture.virtualService([("v2", 100)]))
        let pushed = machine.push(withV2).sends
        #expect(pushed.map(\.typeURL) == [TypeURL.cluster])
        #expect(pushed[0].names.contains(v2Cluster))

        // The client warms the new cluster: it asks for its endpoints (ACKing CDS first).
        _ = machine.receive(.init(typeURL: TypeURL.cluster, versionInfo: pushed[0].versionInfo, responseNonce: pushed[0].nonce))
        eds.append(v2Cluster)
        let edsNonce = machine.status(of: TypeURL.endpoint).sentNonce ?? ""
        let released = machine.receive(.init(typeURL: TypeURL.endpoint, resourceNames: eds, responseNonce: edsNonce)).sends
        #expect(released.map(\.typeURL) == [TypeURL.endpoint, TypeURL.route])
        #expect(released[0].names == [v2Cluster])
    }

    @Test func removedClusterGoesOnlyAfterTheRouteStopsNamingIt() throws {
        var machine = StreamStateMachine(streamID: "s", snapshot: base)
        for (type, names) in [(TypeURL.cluster, [String]()), (TypeURL.listener, []), (TypeURL.route, [reviewsListener])] {
            let sent = machine.receive(.init(typeURL: type, resourceNames: names)).sends[0]
            _ = machine.receive(.init(typeURL: type, versionInfo: sent.versionInfo, resourceNames: names, responseNonce: sent.nonce))
        }
        let v2Only = try snapshot(
            revision: 2, CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v2"]),
            CanaryFixture.virtualService([("v2", 100)]))
        let sends = machine.push(v2Only).sends
        #expect(sends.map(\.typeURL) == [TypeURL.route, TypeURL.cluster])
        #expect(!sends[1].names.contains(v1Cluster))
        #expect(sends[1].names.contains(v2Cluster))
    }
}
