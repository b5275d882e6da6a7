import Foundation
import MeshModel

/// What a change does, as its history record names it.
public enum ChangeOperation: String, Sendable, Hashable, Codable {
    case apply, delete, rollback
}

/// Who made a change and why: written into the change's history record.
public struct ChangeMetadata: Sendable, Hashable {
    /// `admin` when the admin token authenticated the caller, else `loopback <ip>` or
    /// `trusted <ip>` (see `AdminAccessPolicy`); `meshd` for changes meshd makes itself.
    public var actor: String
    /// The operation the caller asked for.
    public var operation: ChangeOperation
    /// For a rollback, the revision whose configuration it restored.
    public var rolledBackTo: Int64?
    /// Why the change was made, when meshd made it on its own (a canary's step and what it
    /// observed); nil for a user's change.
    public var reason: String?

    /// Creates metadata.
    public init(actor: String, operation: ChangeOperation, rolledBackTo: Int64? = nil, reason: String? = nil) {
        self.actor = actor
        self.operation = operation
        self.rolledBackTo = rolledBackTo
        self.reason = reason
    }
}

/// What a write expects to find, checked before anything is written (optimistic concurrency).
public enum WriteExpectation: Sendable, Hashable {
    /// The resource exists and its last change was at this revision (`metadata.resourceVersion`).
    case revision(Int64)
    /// The resource does not exist (a rollback re-creating what was deleted since).
    case absent
}

/// One change to the store: puts and deletes committed together in one transaction (all or
/// nothing), with the metadata its history record carries. Deletes apply after the puts.
public struct ConfigWrite: Sendable, Hashable {
    /// Create or replace one resource, optionally only if it is as expected.
    public struct Put: Sendable, Hashable {
        /// The resource to store.
        public var resource: ConfigResource
        /// nil: create-or-replace whatever is stored.
        public var expected: WriteExpectation?
        /// Creates a put.
        public init(_ resource: ConfigResource, expected: WriteExpectation? = nil) {
            self.resource = resource
            self.expected = expected
        }
    }

    /// Delete one resource, optionally only if it is as expected.
    public struct Delete: Sendable, Hashable {
        /// The resource to delete.
        public var key: ConfigKey
        /// nil: delete whatever is stored (a missing resource is reported `.notFound`).
        public var expected: WriteExpectation?
        /// Creates a delete.
        public init(_ key: ConfigKey, expected: WriteExpectation? = nil) {
            self.key = key
            self.expected = expected
        }
    }

    /// Creates or replacements, in request order.
    public var puts: [Put]
    /// Deletions, applied after the puts.
    public var deletes: [Delete]
    /// What the history record says about the change.
    public var metadata: ChangeMetadata

    /// Creates a write.
    public init(puts: [Put] = [], deletes: [Delete] = [], metadata: ChangeMetadata) {
        self.puts = puts
        self.deletes = deletes
        self.metadata = metadata
    }

    /// Every key the write touches, without repeats, in first-mention order.
    public var keys: [ConfigKey] {
        var seen: Set<ConfigKey> = []
        return (puts.map(\.resource.key) + deletes.map(\.key)).filter { seen.insert($0).inserted }
    }
}

/// The actor of changes meshd makes on its own behalf (and of the `apply`/`delete` conveniences).
public let systemActor = "meshd"

extension ConfigStore {
    /// Creates or replaces `resources` in one transaction: `write` with puts only.
    public func apply(_ resources: [ConfigResource], actor: String = systemActor) async throws(StorageError) -> ChangeOutcome {
        try await write(ConfigWrite(puts: resources.map { .init($0) }, metadata: ChangeMetadata(actor: actor, operation: .apply)))
    }

    /// Deletes `keys` in one transaction; missing keys are reported as `.notFound`.
    public func delete(_ keys: [ConfigKey], actor: String = systemActor) async throws(StorageError) -> ChangeOutcome {
        try await write(ConfigWrite(deletes: keys.map { .init($0) }, metadata: ChangeMetadata(actor: actor, operation: .delete)))
    }
}
