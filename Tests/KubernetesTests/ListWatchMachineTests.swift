import Kubernetes
import MeshModel
import Testing

private func pod(_ name: String, _ version: String, namespace: String = "default") -> KubeObject {
    KubeObject(key: ObjectKey(namespace: namespace, name: name), resourceVersion: version)
}

/// A consumer applying the machine's effects, as meshd's registry would, counting every apply.
private struct Consumer {
    var machine = ListWatchMachine(pageSize: 2)
    var store: [ObjectKey: String] = [:]
    var applied = 0
    var requests: [ListWatchMachine.Request] = []
    var waits: [Duration] = []
    var syncs = 0

    mutating func feed(_ input: ListWatchMachine.Input) {
        for effect in machine.handle(input) {
            switch effect {
            case .send(let request): requests.append(request)
            case .upsert(let object):
                store[object.key] = object.resourceVersion
                applied += 1
            case .delete(let object):
                store.removeValue(forKey: object.key)
                applied += 1
            case .synced: syncs += 1
            case .wait(let delay): waits.append(delay)
            }
        }
    }
}

@Suite("Kubernetes list/watch state machine")
struct ListWatchMachineTests {
    @Test func listsInPagesThenWatchesFromTheListsVersion() {
        var c = Consumer()
        c.feed(.start)
        #expect(c.requests == [.list(limit: 2, continueToken: nil)])
        c.feed(.listPage(items: [pod("a", "5"), pod("b", "6")], continueToken: "t1", resourceVersion: "9"))
        #expect(c.store.isEmpty && c.syncs == 0)  // nothing applied before the list is complete
        c.feed(.listPage(items: [pod("c", "7")], continueToken: nil, resourceVersion: "9"))
        #expect(c.store.count == 3 && c.syncs == 1 && c.machine.hasSynced)
        #expect(c.requests.suffix(2) == [.list(limit: 2, continueToken: "t1"), .watch(resourceVersion: "9")])
    }

    @Test func eventsAndBookmarksMoveTheResumePointAndAReplayIsNotAppliedTwice() {
        var c = Consumer()
        c.feed(.start)
        c.feed(.listPage(items: [pod("a", "5")], continueToken: nil, resourceVersion: "5"))
        c.feed(.event(.added(pod("b", "6"))))
        c.feed(.event(.modified(pod("a", "7"))))
        c.feed(.event(.bookmark(resourceVersion: "12")))
        #expect(c.machine.resourceVersion == "12")
        c.feed(.watchEnded)
        #expect(c.requests.last == .watch(resourceVersion: "12"))
        let before = c.applied
        // A server replaying what the consumer holds: dropped.
        c.feed(.event(.modified(pod("a", "7"))))
        c.feed(.event(.added(pod("b", "6"))))
        #expect(c.applied == before)
        // A delete of something never held: dropped; of something held: applied once.
        c.feed(.event(.deleted(pod("zz", "13"))))
        c.feed(.event(.deleted(pod("b", "14"))))
        c.feed(.event(.deleted(pod("b", "14"))))
        #expect(c.applied == before + 1 && c.store == [ObjectKey(namespace: "default", name: "a"): "7"])
        #expect(c.machine.lists == 1)  // no relist for any of this
    }

    @Test func onlyGoneRelistsAndTheRelistAppliesExactlyWhatWasMissed() {
        var c = Consumer()
        c.feed(.start)
        c.feed(.listPage(items: [pod("a", "1"), pod("b", "2")], continueToken: "t", resourceVersion: "3"))
        c.feed(.listPage(items: [pod("c", "3")], continueToken: nil, resourceVersion: "3"))
        c.feed(.failed("connection reset"))
        c.feed(.backoffElapsed)
        #expect(c.requests.last == .watch(resourceVersion: "3") && c.machine.lists == 1)
        c.feed(.gone)
        #expect(c.requests.last == .list(limit: 2, continueToken: nil))
        let before = c.applied
        // Meanwhile: a changed, b deleted, c unchanged, d new.
        c.feed(.listPage(items: [pod("a", "8"), pod("c", "3")], continueToken: "u", resourceVersion: "9"))
        c.feed(.listPage(items: [pod("d", "9")], continueToken: nil, resourceVersion: "9"))
        #expect(c.applied == before + 3)  // a upserted, b deleted, d upserted; c left alone
        #expect(c.store.keys.map(\.name).sorted() == ["a", "c", "d"] && c.machine.lists == 2 && c.syncs == 2)
        #expect(c.requests.last == .watch(resourceVersion: "9"))
    }

    @Test func anExpiredContinueTokenRestartsTheListFromScratch() {
        var c = Consumer()
        c.feed(.start)
        c.feed(.listPage(items: [pod("a", "1"), pod("b", "2")], continueToken: "t", resourceVersion: "3"))
        c.feed(.gone)
        #expect(c.requests.last == .list(limit: 2, continueToken: nil) && c.store.isEmpty)
        // The first attempt's pages are not mixed into the second.
        c.feed(.listPage(items: [pod("b", "5")], continueToken: nil, resourceVersion: "6"))
        #expect(c.store.keys.map(\.name) == ["b"])
    }

    @Test func anAnsweredWatchResetsTheBackoff() {
        var c = Consumer()
        c.feed(.start)
        c.feed(.listPage(items: [], continueToken: nil, resourceVersion: "1"))
        for _ in 0..<3 {
            c.feed(.failed("unreachable"))
            c.feed(.backoffElapsed)
        }
        #expect(c.waits == [.milliseconds(800), .milliseconds(1600), .milliseconds(3200)])
        // The server is back and answers the watch, but sends nothing before it goes away again:
        // the next failure waits 800 ms, not 6.4 s.
        c.feed(.watchOpened)
        #expect(c.machine.consecutiveFailures == 0)
        c.feed(.failed("unreachable"))
        #expect(c.waits.last == .milliseconds(800))
    }

    @Test func failuresBackOffAndAFailedListStartsOver() {
        var c = Consumer()
        c.feed(.start)
        c.feed(.failed("unreachable"))
        c.feed(.event(.added(pod("stale", "1"))))  // a late event of the dead request: ignored
        c.feed(.backoffElapsed)
        c.feed(.failed("unreachable"))
        c.feed(.backoffElapsed)
        c.feed(.failed("unreachable"))
        #expect(c.waits == [.milliseconds(800), .milliseconds(1600), .milliseconds(3200)])
        #expect(c.machine.consecutiveFailures == 3 && c.store.isEmpty)
        c.feed(.backoffElapsed)
        #expect(c.requests.filter { $0 == .list(limit: 2, continueToken: nil) }.count == 4)  // the first and one per backoff
        c.feed(.listPage(items: [], continueToken: nil, resourceVersion: "1"))
        #expect(c.machine.consecutiveFailures == 0 && c.machine.hasSynced)
        #expect(ListWatchMachine.backoff(attempt: 40) == .seconds(30))
    }

    @Test func keysAndVersionsComeFromMetadata() {
        let body = try? JSONValueFixture.pod
        let object = body.flatMap(KubeObject.init(body:))
        #expect(object?.key == ObjectKey(namespace: "shop", name: "reviews-1") && object?.resourceVersion == "42")
        #expect(KubeObject(body: .object(["metadata": .object(["name": .string("x")])])) == nil)
    }
}

private enum JSONValueFixture {
    static var pod: JSONValue {
        get throws {
            try JSONValue.parse(json: #"{"metadata": {"name": "reviews-1", "namespace": "shop", "resourceVersion": "42"}}"#)
        }
    }
}
