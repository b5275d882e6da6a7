import Foundation
import MeshModel
import ObservedTraffic
import Storage

/// Why a canary operation was refused.
public enum CanaryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No such canary.
    case notFound(String)
    /// The canary is not in a phase the operation applies to, or it cannot run.
    case conflict(String)

    public var description: String {
        switch self {
        case .notFound(let message), .conflict(let message): message
        }
    }
}

/// What a canary reads and writes through: the store, the write path (validation, history,
/// pushes: the admin API's, so each step is an ordinary revision) and observed traffic.
public struct CanaryEnvironment: Sendable {
    /// The config store, read for canaries, their VirtualServices and history.
    public var store: any ConfigStore
    /// Commits a write through the admin API's write path (validated and checked as an apply);
    /// the answer is an apply's (`revision`, `results`, `warnings`).
    public var commit: @Sendable (ConfigWrite) async throws -> JSONValue
    /// Works a write out as `commit` would and answers what it would do (an apply's dry run,
    /// with the impact on connected proxies; `proxy`: that proxy's xDS diff); nothing written.
    /// Nil: operations cannot be previewed.
    public var preview: (@Sendable (ConfigWrite, _ proxy: String?) async throws -> JSONValue)?
    /// The observed traffic of a host over a window (seconds); nil without `--prometheus-url`.
    public var observe:
        (@Sendable (_ host: String, _ namespace: String, _ windowSeconds: Int) async throws(ObservedTrafficError) -> TrafficReport.ServiceTraffic?)?
    /// The clock decisions are stamped with.
    public var now: @Sendable () -> Date
    /// Whether meshd can judge traffic yet: false until its first configuration is built (the
    /// registry that names a host's subsets), so a restarted meshd never judges a due step on
    /// an empty registry.
    public var ready: @Sendable () -> Bool

    /// Creates an environment.
    public init(
        store: any ConfigStore, commit: @escaping @Sendable (ConfigWrite) async throws -> JSONValue,
        observe: (
            @Sendable (_ host: String, _ namespace: String, _ windowSeconds: Int) async throws(ObservedTrafficError) -> TrafficReport.ServiceTraffic?
        )?,
        now: @escaping @Sendable () -> Date = { Date() },
        preview: (@Sendable (ConfigWrite, _ proxy: String?) async throws -> JSONValue)? = nil,
        ready: @escaping @Sendable () -> Bool = { true }
    ) {
        self.ready = ready
        self.preview = preview
        self.store = store
        self.commit = commit
        self.observe = observe
        self.now = now
    }
}

/// The canary operations every replica serves (abort, promote, resume) and the reads and
/// writes the driver shares with them. Each operation is one store write that expects the
/// canary as read, so it cannot cross a decision the driving replica makes at the same time.
public struct CanaryOperator: Sendable {
    /// Where it reads and writes.
    public let environment: CanaryEnvironment
    /// Counts decisions (nil: not counted).
    public let metrics: CanaryMetrics?

    /// Creates an operator.
    public init(environment: CanaryEnvironment, metrics: CanaryMetrics? = nil) {
        self.environment = environment
        self.metrics = metrics
    }

    /// The canary `key` names with its VirtualService, read now; nil when there is none.
    public func read(_ key: ConfigKey) async throws -> CanaryCase? {
        guard let stored = try await environment.store.get(key) else { return nil }
        return try await read(stored)
    }

    /// `stored` with its VirtualService; nil when it does not validate. `virtualServices`: the
    /// canary's namespace's, when the caller has read them already (a pass over every canary
    /// reads them once).
    func read(_ stored: StoredConfig, virtualServices: [StoredConfig]? = nil) async throws -> CanaryCase? {
        guard let (spec, status) = CanaryCase.read(stored) else { return nil }
        let key = stored.resource.key
        let candidates: [StoredConfig]
        if let virtualServices {
            candidates = virtualServices
        } else {
            candidates = try await environment.store.list(kind: .virtualService, namespace: key.namespace)
        }
        return CanaryCase(
            canary: stored, spec: spec, status: status,
            virtualService: CanaryCase.virtualService(for: spec, namespace: key.namespace, among: candidates))
    }

    /// An operation previewed, not made: the proxy whose xDS diff the answer carries, if any.
    public struct DryRun: Sendable {
        /// The node id (`&proxy=`).
        public var proxy: String?
        /// Creates a request.
        public init(proxy: String?) { self.proxy = proxy }
    }

    /// Commits `transition` and counts its decision, or with `dryRun` only works it out; the
    /// write's answer either way.
    @discardableResult
    func perform(_ transition: CanaryWrites.Transition, on c: CanaryCase, dryRun: DryRun? = nil) async throws -> JSONValue {
        if let dryRun {
            guard let preview = environment.preview else { throw CanaryError.conflict("this meshd cannot preview canary operations") }
            return try await preview(transition.write, dryRun.proxy)
        }
        let answer = try await environment.commit(transition.write)
        metrics?.decided(namespace: c.key.namespace, name: c.key.name, verb: transition.decision.verb)
        return answer
    }

    /// What an operation did: the canary's status after it and the write's answer (an apply's).
    public struct Outcome: Sendable {
        /// The status written.
        public var status: CanaryStatus
        /// The write's answer: `revision`, `results`, `warnings`.
        public var answer: JSONValue
    }

    /// The VirtualService as it was at the canary's base revision (read from history); when
    /// history no longer reaches that far, the current one with every stepped route back on
    /// the old subset, and a note saying so.
    func restored(_ c: CanaryCase) async -> (resource: ConfigResource, note: String?)? {
        guard let current = c.virtualService, let status = c.status else { return nil }
        do {
            let window = try await environment.store.historyWindow(after: status.baseRevision)
            if let before = try HistoryReplay.configuration(at: status.baseRevision, in: window)[current.resource.key] {
                return (before, nil)
            }
        } catch {
            // Fall through: put the weights back instead.
        }
        var resource = current.resource
        resource.spec = c.routes.weighted(resource.spec, weight: 0)
        return (resource, "history no longer reaches revision \(status.baseRevision): the stepped routes were set to 100% \(c.spec.from)")
    }

    /// Rolls `key` back to its pre-canary VirtualService by hand (phase Aborted). Each
    /// operation with `dryRun` answers what it would do, writing nothing.
    public func abort(_ key: ConfigKey, actor: String, dryRun: DryRun? = nil) async throws -> Outcome {
        let c = try await active(key, "abort")
        guard let (restored, note) = await restored(c) else { throw CanaryError.conflict("\(key): its VirtualService no longer exists") }
        let reason = "aborted by \(actor): VirtualService back as at revision \(c.status?.baseRevision ?? 0)" + (note.map { "; \($0)" } ?? "")
        guard let transition = CanaryWrites.rollback(c, restored: restored, now: environment.now(), verb: .abort, reason: reason, actor: actor)
        else { throw CanaryError.conflict("\(key) has not started") }
        return Outcome(status: transition.status, answer: try await perform(transition, on: c, dryRun: dryRun))
    }

    /// Sends 100% to the new subset by hand (phase Succeeded).
    public func promote(_ key: ConfigKey, actor: String, dryRun: DryRun? = nil) async throws -> Outcome {
        let c = try await active(key, "promote")
        guard let transition = CanaryWrites.promote(c, now: environment.now(), actor: actor) else {
            throw CanaryError.conflict("\(key): its VirtualService no longer exists")
        }
        return Outcome(status: transition.status, answer: try await perform(transition, on: c, dryRun: dryRun))
    }

    /// Resumes a paused canary at its current step.
    public func resume(_ key: ConfigKey, actor: String, dryRun: DryRun? = nil) async throws -> Outcome {
        let c = try await active(key, "resume")
        guard c.status?.phase == .paused else {
            throw CanaryError.conflict("\(key) is \(c.status?.phase.rawValue ?? "not started"): only a Paused canary resumes")
        }
        guard let virtualService = c.virtualService, !c.routes.stepped(in: virtualService.resource.spec).isEmpty else {
            throw CanaryError.conflict(
                "\(key): its VirtualService has no route to step any more (\(c.spec.host) subsets \(c.spec.from)/\(c.spec.to))")
        }
        guard let transition = CanaryWrites.resume(c, now: environment.now(), actor: actor) else {
            throw CanaryError.conflict("\(key): its VirtualService no longer exists")
        }
        return Outcome(status: transition.status, answer: try await perform(transition, on: c, dryRun: dryRun))
    }

    /// The canary `key`, refused unless it has started and not finished.
    private func active(_ key: ConfigKey, _ operation: String) async throws -> CanaryCase {
        guard let c = try await read(key) else { throw CanaryError.notFound("\(key)") }
        guard let status = c.status else { throw CanaryError.conflict("\(key) has not started yet: nothing to \(operation)") }
        guard !status.phase.isFinal else { throw CanaryError.conflict("\(key) is \(status.phase.rawValue): nothing to \(operation)") }
        return c
    }
}
