import Foundation
import MeshModel

/// The stored form of a history record: canonical JSON, the same on SQLite and etcd, with
/// resources as `{apiVersion, labels, annotations, spec}` (their key is the change's own).
/// The revision is not in it: SQLite keeps it in a column, etcd in the key's create_revision.
public enum HistoryCodec {
    /// The value to store for `record`.
    public static func encode(_ record: HistoryRecord) -> String {
        var object: [String: JSONValue] = [
            "time": .number(record.time.timeIntervalSince1970),
            "actor": .string(record.actor),
            "operation": .string(record.operation.rawValue),
            "changes": .array(
                record.changes.map { change in
                    .object([
                        "kind": .string(change.key.kind.rawValue), "namespace": .string(change.key.namespace),
                        "name": .string(change.key.name), "action": .string(change.action.rawValue),
                        "before": change.before.map(ResourceEnvelope.encode) ?? .null,
                        "after": change.after.map(ResourceEnvelope.encode) ?? .null,
                    ])
                }),
        ]
        if let rolledBackTo = record.rolledBackTo { object["rolledBackTo"] = .number(Double(rolledBackTo)) }
        if let reason = record.reason { object["reason"] = .string(reason) }
        return JSONValue.object(object).canonicalJSON()
    }

    /// A record from its stored value and revision. Changes of kinds this meshd does not know
    /// (written by a newer one) are left out rather than failing the whole history.
    public static func decode(_ text: String, revision: Int64) throws(StorageError) -> HistoryRecord {
        let json: JSONValue
        do { json = try JSONValue.parse(json: text) } catch {
            throw StorageError(code: .database, message: "history record of revision \(revision) is not JSON", cause: error)
        }
        guard let time = json["time"]?.doubleValue, let actor = json["actor"]?.stringValue,
            let operation = json["operation"]?.stringValue.flatMap(ChangeOperation.init(rawValue:)),
            case .array(let changes)? = json["changes"]
        else {
            throw StorageError(code: .database, message: "history record of revision \(revision) is incomplete")
        }
        let decoded: [HistoryRecord.Change] = changes.compactMap { change in
            guard let kind = change["kind"]?.stringValue.flatMap(ConfigKind.init(rawValue:)),
                let namespace = change["namespace"]?.stringValue, let name = change["name"]?.stringValue,
                let action = change["action"]?.stringValue.flatMap(ConfigAction.init(rawValue:))
            else { return nil }
            let key = ConfigKey(kind: kind, namespace: namespace, name: name)
            return .init(
                key: key, action: action, before: change["before"].flatMap { ResourceEnvelope.decode(key, $0) },
                after: change["after"].flatMap { ResourceEnvelope.decode(key, $0) })
        }
        return HistoryRecord(
            revision: revision, time: Date(timeIntervalSince1970: time), actor: actor, operation: operation,
            rolledBackTo: json["rolledBackTo"]?.doubleValue.flatMap { Int64(exactly: $0) }, reason: json["reason"]?.stringValue,
            changes: decoded)
    }
}
