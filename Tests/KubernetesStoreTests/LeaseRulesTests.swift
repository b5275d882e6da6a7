import Foundation
import MeshModel
import Testing

@testable import KubernetesStore

@Suite struct LeaseRulesTests {
    static func lease(_ holder: String, renew: String, duration: Int = 15) -> LeaseRecord {
        LeaseRecord(holder: holder, durationSeconds: duration, acquireTime: "t0", renewTime: renew, transitions: 0, resourceVersion: "1")
    }

    @Test func aMissingLeaseIsCreatedAndAHeldOneRenewed() {
        var rules = LeaseRules(identity: "a")
        let now = ContinuousClock.now
        do {
            let decision = rules.decide(nil, now: now)
            #expect(decision == .create)
        }
        do {
            let decision = rules.decide(Self.lease("a", renew: "t1"), now: now)
            #expect(decision == .renew)
        }
        do {
            let decision = rules.decide(Self.lease("", renew: "t1"), now: now)
            #expect(decision == .takeOver)
        }
    }

    @Test func anotherHoldersLeaseLapsesByThisReplicasClock() {
        var rules = LeaseRules(identity: "b")
        let start = ContinuousClock.now
        do {
            let decision = rules.decide(Self.lease("a", renew: "t1"), now: start)
            #expect(decision == .follow(holder: "a"))
        }
        // Renewed: the clock starts again, whatever the holder's times say.
        do {
            let decision = rules.decide(Self.lease("a", renew: "t2"), now: start + .seconds(14))
            #expect(decision == .follow(holder: "a"))
        }
        do {
            let decision = rules.decide(Self.lease("a", renew: "t2"), now: start + .seconds(28))
            #expect(decision == .follow(holder: "a"))
        }
        do {
            let decision = rules.decide(Self.lease("a", renew: "t2"), now: start + .seconds(30))
            #expect(decision == .takeOver)
        }
    }

    @Test func microTimeHasSixFractionalDigits() {
        let text = LeaseRecord.microTime(Date(timeIntervalSince1970: 1_796_650_000.25))
        #expect(text == "2026-12-07T13:26:40.250000Z")
        let body = try? JSONValue.parse(json: Self.lease("a", renew: text).body(name: "meshd-leader", namespace: "mesh-system"))
        #expect(body?["spec"]?["renewTime"]?.stringValue == text && body?["metadata"]?["resourceVersion"]?.stringValue == "1")
        #expect(LeaseRecord(body: body ?? .null) == Self.lease("a", renew: text))
    }
}

@Suite struct KubeProxyStatusShareTests {
    @Test func entriesPastTheBoundAreCountedNotShared() {
        let entries: [JSONValue] = (0..<10).map { .object(["connectionID": .string("c\($0)"), "pad": .string(String(repeating: "x", count: 80))]) }
        let (kept, omitted) = KubeProxyStatusShare.bounded(entries, maxBytes: 500)
        #expect(kept.count == 4 && omitted == 6)
        #expect(KubeProxyStatusShare.bounded(entries, maxBytes: 1 << 20).1 == 0)
    }
}
