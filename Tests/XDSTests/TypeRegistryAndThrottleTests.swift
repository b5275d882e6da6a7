import EnvoyAPI
import MeshTesting
import Synchronization
import Testing
import Translator
import XDSCore

@testable import PushPipeline
@testable import XDS

@Suite struct TypeRegistryTests {
    /// A type in the registry (SDS, as meshd registers it) is served and pushed in its
    /// registered place with no change to the stream machine; one left out is answered empty.
    @Test func aRegisteredTypeIsServedInItsPlaceAndAnUnregisteredOneIsNot() throws {
        let secret = XDSType(
            typeURL: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
            shortName: "SDS", fullState: false)
        let registry = XDSTypeRegistry([.cluster, .endpoint, secret, .listener, .route])
        func snapshot(_ revision: Int64, secretVersion: String) -> ProxySnapshot {
            var listener = Envoy_Config_Listener_V3_Listener()
            listener.name = "l-\(revision)"
            var cluster = Envoy_Config_Cluster_V3_Cluster()
            cluster.name = "c-\(revision)"
            var tls = Envoy_Extensions_TransportSockets_Tls_V3_Secret()
            tls.name = "default-\(secretVersion)"
            let secretResource = XDSResource(name: "default", message: tls)
            return ProxySnapshot(
                revision: revision,
                resources: [
                    TypeURL.listener: [listener.name: XDSResource(name: listener.name, message: listener)],
                    TypeURL.cluster: [cluster.name: XDSResource(name: cluster.name, message: cluster)],
                    secret.typeURL: ["default": secretResource],
                ])
        }
        var machine = StreamStateMachine(streamID: "s", snapshot: snapshot(1, secretVersion: "a"), registry: registry)
        #expect(machine.receive(.init(typeURL: secret.typeURL, resourceNames: ["default"])).sends.map(\.names) == [["default"]])
        _ = machine.receive(.init(typeURL: TypeURL.listener))
        _ = machine.receive(.init(typeURL: TypeURL.cluster))
        let pushed = machine.push(snapshot(2, secretVersion: "b")).sends.map(\.typeURL)
        // c-1 left the view: it stays in the first CDS response and goes in the last one.
        #expect(pushed == [TypeURL.cluster, secret.typeURL, TypeURL.listener, TypeURL.cluster])

        #expect(XDSTypeRegistry.standard.type(secret.typeURL)?.shortName == "SDS")
        let withoutSDS = XDSTypeRegistry([.cluster, .endpoint, .listener, .route])
        var standard = StreamStateMachine(streamID: "t", snapshot: snapshot(1, secretVersion: "a"), registry: withoutSDS)
        let events = standard.receive(.init(typeURL: secret.typeURL, resourceNames: ["default"]))
        #expect(events.first == .unknownType(typeURL: secret.typeURL))
        #expect(events.sends.first?.resources.isEmpty == true)
        #expect(registry.shortName(secret.typeURL) == "SDS")
        #expect(XDSTypeRegistry.standard.pushOrder.map(\.shortName) == ["CDS", "EDS", "SDS", "LDS", "RDS"])
    }
}

/// Counters shared by the tasks of one test.
private final class Tally: Sendable {
    let active = Atomic<Int>(0)
    let peak = Atomic<Int>(0)
    let served = Atomic<Int>(0)
    let order = Mutex<[Int]>([])
}

@Suite struct PushThrottleTests {
    /// Two hundred streams ask at once: never more than the limit work at the same time, every
    /// one gets its turn, and the permits all come back.
    @Test func neverMoreThanTheLimitAtOnceAndEveryoneGetsATurn() async {
        let throttle = PushThrottle(limit: 3)
        let tally = Tally()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<200 {
                group.addTask {
                    await throttle.withPermit {
                        let now = tally.active.add(1, ordering: .relaxed).newValue
                        tally.peak.max(now, ordering: .relaxed)
                        // Work that takes a while, with no suspension point (as generation is).
                        var x = 0
                        for i in 0..<20_000 { x &+= i }
                        precondition(x != 1)
                        tally.active.subtract(1, ordering: .relaxed)
                        tally.served.add(1, ordering: .relaxed)
                    }
                    await Task.yield()
                }
            }
        }
        #expect(tally.served.load(ordering: .relaxed) == 200)
        #expect(tally.peak.load(ordering: .relaxed) <= 3)
        #expect(throttle.highWater <= 3)
        // All permits are free again: `limit` holders at once are admitted without waiting.
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<3 { group.addTask { await throttle.withPermit {} } }
        }
    }

    /// Waiters are admitted in arrival order.
    @Test func waitersAreAdmittedInArrivalOrder() async throws {
        let throttle = PushThrottle(limit: 1)
        let tally = Tally()
        await throttle.acquire()
        var tasks: [Task<Void, Never>] = []
        for index in 1...5 {
            tasks.append(Task { await throttle.withPermit { tally.order.withLock { $0.append(index) } } })
            while throttle.waiting < index { try await Task.sleep(for: .milliseconds(1)) }
        }
        throttle.release()
        for task in tasks { await task.value }
        #expect(tally.order.withLock { $0 } == [1, 2, 3, 4, 5])
        #expect(throttle.waiting == 0)
    }
}
