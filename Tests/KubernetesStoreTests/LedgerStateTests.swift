import Foundation
import Kubernetes
import MeshModel
import Storage
import Testing

@testable import KubernetesStore

@Suite struct LedgerStateTests {
    static func key(_ name: String, kind: ConfigKind = .virtualService) -> ConfigKey {
        ConfigKey(kind: kind, namespace: "default", name: name)
    }

    static func resource(_ name: String, weight: Int) -> ConfigResource {
        ConfigResource(
            key: key(name),
            spec: .object([
                "hosts": .array([.string(name)]), "http": .array([.object(["route": .array([.object(["weight": .number(Double(weight))])])])]),
            ]))
    }

    static func object(_ resource: ConfigResource?, version: String, manager: String? = nil) -> IstioObject {
        IstioObject(resource: resource, resourceVersion: version, manager: manager)
    }

    /// The entry a recorder appends for `objects` on top of `state`, applied to it.
    static func record(_ state: inout LedgerState, _ objects: [ConfigKey: IstioObject]) -> LedgerEntry? {
        guard let entry = state.nextEntry(objects: objects, now: Date(timeIntervalSince1970: 1000)) else { return nil }
        let moved = state.receive(entry)
        #expect(moved)
        return entry
    }

    @Test func nothingIsServedUntilTheLedgerRecordsIt() throws {
        var state = LedgerState()
        let objects = [Self.key("a"): Self.object(Self.resource("a", weight: 1), version: "10", manager: "kubectl-client-side-apply")]
        state.bootstrap(entries: [], objects: objects)
        #expect(state.head == 0 && state.mirror.records.isEmpty && state.floor == 0)

        let first = try #require(Self.record(&state, objects))
        #expect(first.revision == 1 && first.record.actor == "kubernetes:kubectl-client-side-apply" && first.record.operation == .apply)
        #expect(state.head == 1 && state.floor == 1)
        #expect(state.mirror.records[Self.key("a")] == StoredConfig(resource: Self.resource("a", weight: 1), revision: 1, createdRevision: 1))
        // Recorded: nothing more to record, whatever the object's resourceVersion says.
        #expect(state.nextEntry(objects: objects, now: Date()) == nil)
        let statusWrite = [Self.key("a"): Self.object(Self.resource("a", weight: 1), version: "11")]
        #expect(state.nextEntry(objects: statusWrite, now: Date()) == nil)
    }

    @Test func changesAndDeletesKeepCreationRevisions() throws {
        var state = LedgerState()
        state.bootstrap(entries: [], objects: [:])
        _ = Self.record(&state, [Self.key("a"): Self.object(Self.resource("a", weight: 1), version: "1")])
        _ = Self.record(
            &state,
            [
                Self.key("a"): Self.object(Self.resource("a", weight: 2), version: "2", manager: "meshd:admin"),
                Self.key("b"): Self.object(Self.resource("b", weight: 1), version: "3", manager: "meshd:admin"),
            ])
        #expect(state.mirror.records[Self.key("a")]?.revision == 2 && state.mirror.records[Self.key("a")]?.createdRevision == 1)
        #expect(state.mirror.records[Self.key("b")]?.createdRevision == 2)
        #expect(state.records(after: 1).map(\.actor) == ["admin"])
        let deletion = try #require(Self.record(&state, [Self.key("b"): Self.object(Self.resource("b", weight: 1), version: "3")]))
        #expect(deletion.record.operation == .delete && deletion.record.actor == "kubernetes")
        #expect(deletion.record.changes.map(\.action) == [.deleted] && state.mirror.records[Self.key("a")] == nil)
        #expect(state.mirror.delta(after: 2)?.changes.keys.contains(Self.key("a")) == true)
    }

    @Test func entriesApplyInRevisionOrder() throws {
        var writer = LedgerState()
        writer.bootstrap(entries: [], objects: [:])
        let one = try #require(Self.record(&writer, [Self.key("a"): Self.object(Self.resource("a", weight: 1), version: "1")]))
        let two = try #require(Self.record(&writer, [Self.key("a"): Self.object(Self.resource("a", weight: 2), version: "2")]))

        var reader = LedgerState()
        reader.bootstrap(entries: [], objects: [:])
        let early = reader.receive(two)
        #expect(!early && reader.hasGap && reader.head == 0)
        let filled = reader.receive(one)
        #expect(filled && !reader.hasGap && reader.head == 2)
        #expect(reader.mirror.records == writer.mirror.records)
        // A relist replays both: nothing moves.
        let replayed = [reader.receive(one), reader.receive(two)]
        #expect(replayed == [false, false])
    }

    @Test func bootstrapServesTheLedgerNotTheObjects() throws {
        var writer = LedgerState()
        writer.bootstrap(entries: [], objects: [:])
        let one = try #require(Self.record(&writer, [Self.key("a"): Self.object(Self.resource("a", weight: 1), version: "1")]))
        // The API server moved on (weight 5) but the ledger did not record it yet.
        let objects = [
            Self.key("a"): Self.object(Self.resource("a", weight: 5), version: "7"),
            Self.key("new"): Self.object(Self.resource("new", weight: 1), version: "8"),
        ]
        var replica = LedgerState()
        replica.bootstrap(entries: [one], objects: objects)
        #expect(replica.head == 1 && replica.mirror.records.count == 1)
        #expect(replica.mirror.records[Self.key("a")]?.resource == Self.resource("a", weight: 1))
        let next = try #require(replica.nextEntry(objects: objects, now: Date()))
        #expect(next.revision == 2 && next.record.changes.map(\.key) == [Self.key("a"), Self.key("new")])
    }

    @Test func afterPruningUntouchedObjectsAreServedAtTheFloor() throws {
        var writer = LedgerState()
        writer.bootstrap(entries: [], objects: [:])
        let old = [Self.key("old"): Self.object(Self.resource("old", weight: 1), version: "1")]
        _ = Self.record(&writer, old)
        var both = old
        both[Self.key("b")] = Self.object(Self.resource("b", weight: 1), version: "2")
        let two = try #require(Self.record(&writer, both))
        let three = try #require(Self.record(&writer, old.merging([Self.key("b"): Self.object(Self.resource("b", weight: 3), version: "3")]) { $1 }))
        // Entry 1 pruned: `old` was last changed there.
        var replica = LedgerState()
        replica.bootstrap(
            entries: [two, three], objects: old.merging([Self.key("b"): Self.object(Self.resource("b", weight: 3), version: "3")]) { $1 })
        #expect(replica.floor == 1 && replica.head == 3)
        #expect(replica.mirror.records[Self.key("old")] == StoredConfig(resource: Self.resource("old", weight: 1), revision: 1, createdRevision: 1))
        #expect(replica.mirror.records[Self.key("b")]?.revision == 3 && replica.mirror.records[Self.key("b")]?.createdRevision == 2)
        replica.forget(revision: 2)
        #expect(replica.floor == 2 && replica.records(after: 0).map(\.revision) == [3])
    }

    @Test func bigChangesSpanSeveralEntries() throws {
        var state = LedgerState()
        state.bootstrap(entries: [], objects: [:])
        var objects: [ConfigKey: IstioObject] = [:]
        for i in 0..<10 { objects[Self.key("vs\(i)")] = Self.object(Self.resource("vs\(i)", weight: i), version: "\(i)") }
        let first = try #require(state.nextEntry(objects: objects, now: Date(), maxBytes: 1500))
        #expect(first.record.changes.count > 1 && first.record.changes.count < 10)
        _ = state.receive(first)
        let second = try #require(state.nextEntry(objects: objects, now: Date(), maxBytes: 1500))
        #expect(second.revision == 2 && Set(second.record.changes.map(\.key)).isDisjoint(with: first.record.changes.map(\.key)))
    }

    @Test func ledgerEntriesRoundTripThroughConfigMaps() throws {
        var state = LedgerState()
        state.bootstrap(entries: [], objects: [:])
        let entry = try #require(
            Self.record(&state, [Self.key("a"): Self.object(Self.resource("a", weight: 1), version: "1", manager: "meshd:rollback@7:admin")]))
        #expect(entry.record.operation == .rollback && entry.record.rolledBackTo == 7 && entry.record.actor == "admin")
        let body = try JSONValue.parse(json: LedgerCodec.configMap(entry, namespace: "mesh-system"))
        #expect(body["metadata"]?["name"]?.stringValue == "meshd-history-000000000001")
        #expect(body["metadata"]?["labels"]?["meshd.io/history"]?.stringValue == "true")
        var listed = body
        if case .object(var fields) = listed, case .object(var metadata)? = fields["metadata"] {
            metadata["resourceVersion"] = "42"
            fields["metadata"] = .object(metadata)
            listed = .object(fields)
        }
        let decoded = try LedgerCodec.entry(try #require(KubeObject(body: listed)))
        #expect(decoded.revision == 1 && decoded.created == entry.created && decoded.record.changes == entry.record.changes)
        #expect(LedgerCodec.revision(name: "meshd-history-000000000012") == 12)
        for bad in ["meshd-history-", "meshd-history-00x", "other-000000000001", "meshd-history-000000000000", "meshd-history-9223372036854775807"] {
            #expect(LedgerCodec.revision(name: bad) == nil, "\(bad)")
        }
    }

    @Test func fieldManagersNameTheActor() {
        let metadata = ChangeMetadata(actor: "loopback 127.0.0.1", operation: .apply)
        #expect(FieldManager.name(for: metadata) == "meshd:loopback 127.0.0.1")
        #expect(FieldManager(FieldManager.name(for: metadata)).actor == "loopback 127.0.0.1")
        let rollback = ChangeMetadata(actor: "admin", operation: .rollback, rolledBackTo: 3)
        let read = FieldManager(FieldManager.name(for: rollback))
        #expect(read.actor == "admin" && read.rolledBackTo == 3)
        #expect(FieldManager.name(for: ChangeMetadata(actor: String(repeating: "é", count: 300), operation: .apply)).count <= 128)
        #expect(
            FieldManager.actor(of: [FieldManager("kubectl-edit"), FieldManager("kubectl-edit"), FieldManager("meshd:admin")])
                == "kubernetes:kubectl-edit, admin")
    }

    @Test func objectsDecodeAsDocuments() throws {
        let body: JSONValue = .object([
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": .object([
                "name": "reviews", "namespace": "prod", "resourceVersion": "abc", "uid": "u",
                "managedFields": .array([
                    .object(["manager": "kubectl-create", "time": "2026-12-07T10:00:00Z"]),
                    .object(["manager": "kubectl-edit", "time": "2026-12-07T11:00:00Z"]),
                    .object(["manager": "meshd:status", "time": "2026-12-07T12:00:00Z", "subresource": "status"]),
                ]),
            ]),
            "spec": .object(["hosts": .array(["reviews"])]),
            "status": .object(["validationMessages": .array([])]),
        ])
        let object = IstioObjectCodec.decode(try #require(KubeObject(body: body)), kind: .virtualService)
        #expect(object.resource?.key == ConfigKey(kind: .virtualService, namespace: "prod", name: "reviews"))
        #expect(object.resourceVersion == "abc" && object.manager == "kubectl-edit" && object.problem == nil)
        let written = try JSONValue.parse(json: IstioObjectCodec.body(try #require(object.resource), resourceVersion: "abc"))
        #expect(written["metadata"]?["resourceVersion"]?.stringValue == "abc" && written["apiVersion"]?.stringValue == "networking.istio.io/v1")
        #expect(written["status"] == nil)
    }
}

@Suite struct WebhookConfigPatcherTests {
    @Test func everyWebhookGetsTheBundleAndFailOnce() throws {
        let shipped: JSONValue = .object([
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": .object(["name": "meshd-validator", "resourceVersion": "5"]),
            "webhooks": .array([
                .object(["name": "validation.meshd.io", "failurePolicy": "Ignore", "clientConfig": .object(["service": .object(["name": "meshd"])])]),
                .object(["name": "second.meshd.io", "clientConfig": .object(["caBundle": "b2xk"])]),
            ]),
        ])
        let patched = try #require(WebhookConfigPatcher.patched(shipped, caBundle: "bmV3"))
        for index in 0..<2 {
            #expect(patched["webhooks"]?[index]?["clientConfig"]?["caBundle"]?.stringValue == "bmV3")
            #expect(patched["webhooks"]?[index]?["failurePolicy"]?.stringValue == "Fail")
        }
        #expect(patched["webhooks"]?[0]?["clientConfig"]?["service"]?["name"]?.stringValue == "meshd")
        #expect(patched["metadata"]?["resourceVersion"]?.stringValue == "5")
        #expect(WebhookConfigPatcher.patched(patched, caBundle: "bmV3") == nil)
    }

    @Test func theWritersEntryNamesTheWriterWithinOneSecond() {
        func object(_ entries: [(String, String)]) -> JSONValue {
            .object([
                "metadata": .object([
                    "name": "r", "resourceVersion": "1",
                    "managedFields": .array(
                        entries.map { .object(["manager": .string($0.0), "time": "2026-12-07T10:00:00Z", "fieldsV1": .string($0.1)]) }),
                ])
            ])
        }
        let first = IstioObjectCodec.decode(KubeObject(body: object([("meshd:admin", "a")]))!, kind: .virtualService)
        #expect(first.manager == "meshd:admin")
        // kubectl writes in the same second: its entry is the one that changed, though entries
        // sort by name and meshd's comes last.
        let second = IstioObjectCodec.decode(
            KubeObject(body: object([("kubectl-client-side-apply", "b"), ("meshd:admin", "a")]))!, kind: .virtualService, previous: first)
        #expect(second.manager == "kubectl-client-side-apply")
        let again = IstioObjectCodec.decode(
            KubeObject(body: object([("kubectl-client-side-apply", "b"), ("meshd:admin", "a")]))!, kind: .virtualService, previous: second)
        #expect(again.manager == "kubectl-client-side-apply")
    }
}

@Suite struct LedgerPruningTests {
    @Test func eachPresentResourcesNewestEntryOutlivesPruningSoReplicasAgree() throws {
        typealias T = LedgerStateTests
        var leader = LedgerState()
        leader.bootstrap(entries: [], objects: [:])
        var objects = [T.key("dr"): T.object(T.resource("dr", weight: 1), version: "1")]
        var entries: [LedgerEntry] = []
        for weight in 1...4 {
            objects[T.key("vs")] = T.object(T.resource("vs", weight: weight), version: "v\(weight)")
            entries.append(try #require(T.record(&leader, objects)))
        }
        // Entry 1 created both; 2...4 changed vs. Pruning through 3 keeps entry 1 (dr's newest).
        #expect(leader.liveRevisions == [1, 4])
        leader.pruned(through: 3)
        let kept = entries.filter { $0.revision > 3 || leader.liveRevisions.contains($0.revision) }
        #expect(kept.map(\.revision) == [1, 4])
        #expect(leader.floor == 3 && leader.records(after: 0).map(\.revision) == [4])

        var late = LedgerState()
        late.bootstrap(entries: kept, objects: objects, prunedThrough: 3)
        #expect(late.mirror.records == leader.mirror.records)
        #expect(late.mirror.records[T.key("dr")] == StoredConfig(resource: T.resource("dr", weight: 1), revision: 1, createdRevision: 1))
        #expect(late.floor == 3 && late.head == 4 && late.records(after: 0).map(\.revision) == [4])
    }
}
