import Foundation
import MeshModel

/// One committed change as history keeps it: written in the change's own transaction, so
/// history and configuration never disagree.
public struct HistoryRecord: Sendable, Hashable {
    /// One resource the change touched, with its content before and after (nil: absent).
    public struct Change: Sendable, Hashable {
        /// The resource.
        public var key: ConfigKey
        /// `.created`, `.configured` or `.deleted`.
        public var action: ConfigAction
        /// Its content before the change; nil when it did not exist.
        public var before: ConfigResource?
        /// Its content after the change; nil when the change deleted it.
        public var after: ConfigResource?

        /// Creates a change.
        public init(key: ConfigKey, action: ConfigAction, before: ConfigResource?, after: ConfigResource?) {
            self.key = key
            self.action = action
            self.before = before
            self.after = after
        }
    }

    /// The store revision the change committed at.
    public var revision: Int64
    /// When it committed (the writing meshd's clock).
    public var time: Date
    /// Who made it (`ChangeMetadata.actor`).
    public var actor: String
    /// What was asked for.
    public var operation: ChangeOperation
    /// For a rollback, the revision it restored.
    public var rolledBackTo: Int64?
    /// Why meshd made the change (`ChangeMetadata.reason`); nil for a user's change.
    public var reason: String?
    /// The resources it changed, in request order.
    public var changes: [Change]

    /// Creates a record.
    public init(
        revision: Int64, time: Date, actor: String, operation: ChangeOperation, rolledBackTo: Int64?, reason: String? = nil,
        changes: [Change]
    ) {
        self.reason = reason
        self.revision = revision
        self.time = time
        self.actor = actor
        self.operation = operation
        self.rolledBackTo = rolledBackTo
        self.changes = changes
    }

    /// Whether any change is of `kind` (any when nil) in `namespace` named `name` (any when nil).
    public func touches(kind: ConfigKind?, namespace: String?, name: String?) -> Bool {
        changes.contains { change in
            (kind == nil || change.key.kind == kind) && (namespace == nil || change.key.namespace == namespace)
                && (name == nil || change.key.name == name)
        }
    }
}

/// Which history records to list: newest first, those touching matching resources.
public struct HistoryQuery: Sendable, Hashable {
    /// Only records touching this kind (any when nil).
    public var kind: ConfigKind?
    /// Only records touching this namespace (any when nil).
    public var namespace: String?
    /// Only records touching resources of this name (any when nil).
    public var name: String?
    /// At most this many records.
    public var limit: Int

    /// Creates a query.
    public init(kind: ConfigKind? = nil, namespace: String? = nil, name: String? = nil, limit: Int = 50) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.limit = limit
    }
}

/// An answer to a history query.
public struct HistoryPage: Sendable, Hashable {
    /// Matching records, newest first.
    public var items: [HistoryRecord]
    /// The oldest revision whose configuration history can still reconstruct (diff from, roll
    /// back to): the store's `floor`.
    public var oldestRevision: Int64

    /// Creates a page.
    public init(items: [HistoryRecord], oldestRevision: Int64) {
        self.items = items
        self.oldestRevision = oldestRevision
    }
}

/// The current configuration and every history record after some revision, read at one
/// revision: what a rollback or a diff reconstructs past configurations from.
public struct HistoryWindow: Sendable, Hashable {
    /// The configuration now.
    public var snapshot: ConfigSnapshot
    /// Records with revisions after the requested one, up to `snapshot.revision`, oldest first.
    public var records: [HistoryRecord]
    /// The oldest revision whose configuration the records can reconstruct: history began
    /// there, or records up to it were pruned.
    public var floor: Int64

    /// Creates a window.
    public init(snapshot: ConfigSnapshot, records: [HistoryRecord], floor: Int64) {
        self.snapshot = snapshot
        self.records = records
        self.floor = floor
    }
}
