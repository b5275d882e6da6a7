import Foundation
import Kubernetes
import MeshModel
import Storage

/// One entry of the history ledger: a ConfigMap `meshd-history-NNNNNNNNNNNN` in meshd's namespace,
/// labelled `meshd.io/history=true`, holding one history record and, for each resource present
/// after it, the revision that created it (what orders conflicting resources oldest-first).
///
/// The ledger is what numbers meshd's revisions on Kubernetes: the elected replica appends entry
/// N+1 (a create, which fails if N+1 exists) for what changed in the API server since entry N,
/// and every replica serves the configuration the ledger describes. So all replicas agree on
/// revisions, history, diffs and rollbacks. Entries compare content, not Kubernetes'
/// `resourceVersion` (opaque, and moved by status writes that change no resource).
struct LedgerEntry: Sendable, Hashable {
    /// The record; its `revision` is the entry's.
    var record: HistoryRecord
    /// For every key the record changed and left present: the revision that created it.
    var created: [ConfigKey: Int64]

    var revision: Int64 { record.revision }
}

/// The ledger's names and the ConfigMap form of its entries.
enum LedgerCodec {
    /// The label every ledger ConfigMap carries (value `true`): what the ledger watch selects.
    static let label = "meshd.io/history"
    /// The prefix of an entry's ConfigMap name; the revision follows, zero-padded to 12 digits
    /// so names sort in revision order.
    static let namePrefix = "meshd-history-"

    /// The ConfigMap saying through which revision history was pruned (`data.prunedThrough`),
    /// labelled like the entries so the same watch brings it.
    static let floorName = "meshd-history-floor"

    /// The floor ConfigMap for `revision`, as JSON.
    static func floorConfigMap(prunedThrough revision: Int64, namespace: String) -> String {
        JSONValue.object([
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": .object(["name": .string(floorName), "namespace": .string(namespace), "labels": .object([label: "true"])]),
            "data": .object(["prunedThrough": .string(String(revision))]),
        ]).canonicalJSON()
    }

    /// The revision the floor ConfigMap names; nil for any other object.
    static func prunedThrough(_ object: KubeObject) -> Int64? {
        guard object.key.name == floorName else { return nil }
        return object.body["data"]?["prunedThrough"]?.stringValue.flatMap { Int64($0) } ?? 0
    }

    /// `meshd-history-000000000042`.
    static func name(revision: Int64) -> String {
        let digits = String(revision)
        return namePrefix + String(repeating: "0", count: max(0, 12 - digits.count)) + digits
    }

    /// The revision an entry's ConfigMap name carries (exactly 12 digits, as `name(revision:)`
    /// writes it, so revisions stay far from Int64's end and `head + 1` cannot trap on a name
    /// someone else wrote); nil for any other name.
    static func revision(name: String) -> Int64? {
        guard name.hasPrefix(namePrefix) else { return nil }
        let digits = name.dropFirst(namePrefix.count)
        guard digits.utf8.count == 12, digits.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let revision = Int64(digits), revision > 0
        else { return nil }
        return revision
    }

    /// The ledger's collection in meshd's namespace.
    static func collection(namespace: String) -> KubeCollection {
        KubeCollection(path: "/api/v1/namespaces/\(namespace)/configmaps", labelSelector: "\(label)=true", name: "history ledger")
    }

    /// The ConfigMap that stores `entry` in `namespace`, as JSON.
    static func configMap(_ entry: LedgerEntry, namespace: String) -> String {
        let created: [JSONValue] = entry.created.sorted { $0.key < $1.key }.map { key, revision in
            .object([
                "kind": .string(key.kind.rawValue), "namespace": .string(key.namespace), "name": .string(key.name),
                "created": .string(String(revision)),
            ])
        }
        let object: JSONValue = .object([
            "apiVersion": .string("v1"),
            "kind": .string("ConfigMap"),
            "metadata": .object([
                "name": .string(name(revision: entry.revision)), "namespace": .string(namespace),
                "labels": .object([label: .string("true")]),
            ]),
            // The record in the form SQLite and etcd keep it in; creation revisions beside it.
            "data": .object([
                "record": .string(HistoryCodec.encode(entry.record)),
                "created": .string(JSONValue.array(created).canonicalJSON()),
            ]),
        ])
        return object.canonicalJSON()
    }

    /// The entry a ledger ConfigMap holds; one that cannot be read (edited by hand, written by
    /// a meshd that lost data) counts as an entry that changed nothing, so its revision is not a
    /// gap that would hold every later entry back forever. Only a name that is no revision is
    /// refused.
    static func readable(_ object: KubeObject) throws(StorageError) -> LedgerEntry {
        do {
            return try entry(object)
        } catch {
            guard let revision = revision(name: object.key.name) else { throw error }
            let record = HistoryRecord(
                revision: revision, time: Date(timeIntervalSince1970: 0), actor: "unknown (unreadable ledger entry: \(error.message))",
                operation: .apply, rolledBackTo: nil, changes: [])
            return LedgerEntry(record: record, created: [:])
        }
    }

    /// The entry a ledger ConfigMap holds.
    /// - Throws: `.database` naming the ConfigMap when it is not an entry.
    static func entry(_ object: KubeObject) throws(StorageError) -> LedgerEntry {
        guard let revision = revision(name: object.key.name) else {
            throw StorageError(code: .database, message: "ConfigMap \(object.key) is labelled \(label) but is not named \(namePrefix)NNNNNNNNNNNN")
        }
        guard let recordText = object.body["data"]?["record"]?.stringValue, let createdText = object.body["data"]?["created"]?.stringValue
        else {
            throw StorageError(code: .database, message: "history ledger entry \(object.key) lacks data.record or data.created")
        }
        let record = try HistoryCodec.decode(recordText, revision: revision)
        let parsed: JSONValue
        do { parsed = try JSONValue.parse(json: createdText) } catch {
            throw StorageError(code: .database, message: "history ledger entry \(object.key): data.created is not JSON", cause: error)
        }
        guard case .array(let items) = parsed else {
            throw StorageError(code: .database, message: "history ledger entry \(object.key): data.created is not a list")
        }
        var created: [ConfigKey: Int64] = [:]
        for item in items {
            // Kinds a newer meshd serves are left out, as HistoryCodec leaves out their changes.
            guard let kind = item["kind"]?.stringValue.flatMap(ConfigKind.init(rawValue:)),
                let namespace = item["namespace"]?.stringValue, let name = item["name"]?.stringValue,
                let revision = item["created"]?.stringValue.flatMap({ Int64($0) })
            else { continue }
            created[ConfigKey(kind: kind, namespace: namespace, name: name)] = revision
        }
        return LedgerEntry(record: record, created: created)
    }
}
