import Foundation
import Logging
import MeshModel
import ObservedTraffic
import Storage
import Synchronization

/// Drives every canary in the store: starts new ones, watches each step's new subset through
/// observed traffic, advances, completes, rolls back, pauses on a foreign change.
///
/// It runs on one replica at a time (`SingletonWork`): every decision it makes is a store
/// write guarded by the canary's revision, so a replica that lost the election mid-decision
/// cannot overwrite the next one's. It keeps nothing that matters in memory: the step, its
/// start and the pre-canary revision are in the canary's status, so a restarted or newly
/// elected replica takes over where the last one was.
public final class CanaryRunner: Sendable {
    /// Per-canary scheduling this replica keeps (lost on failover, which only makes the next
    /// check come sooner).
    struct Schedule: Sendable {
        /// No early check before this.
        var nextCheck: Date
        /// The step this schedule is for (a new step checks afresh).
        var step: Int
        var stepStartedAt: Date
    }

    let canaries: CanaryOperator
    let logger: Logger
    /// How often the store is looked at for new canaries, user operations and due steps.
    let tick: Duration
    private let schedules = Mutex<[ConfigKey: Schedule]>([:])

    /// Creates a runner.
    public init(canaries: CanaryOperator, logger: Logger, tick: Duration = .milliseconds(500)) {
        self.canaries = canaries
        self.logger = logger
        self.tick = tick
    }

    var environment: CanaryEnvironment { canaries.environment }

    /// Drives the canaries until cancelled (losing the election cancels it).
    public func run() async {
        logger.info("driving canaries")
        schedules.withLock { $0 = [:] }
        while !Task.isCancelled {
            await pass()
            try? await Task.sleep(for: tick)
        }
    }

    /// One look at every canary: two store reads (the canaries, the VirtualServices), then
    /// Prometheus only for the steps whose check is due.
    func pass() async {
        guard environment.ready() else { return }
        var stored: [StoredConfig]
        var virtualServices: [String: [StoredConfig]] = [:]
        do {
            stored = try await environment.store.list(kind: .canary, namespace: nil)
            // A finished canary needs nothing until its spec changes (which drops its status):
            // skipped before its spec is validated, so finished canaries cost a listing only.
            stored.removeAll { canary in
                canary.resource.status?["phase"]?.stringValue.flatMap(CanaryStatus.Phase.init(rawValue:))?.isFinal ?? false
            }
            guard !stored.isEmpty else { return }
            for virtualService in try await environment.store.list(kind: .virtualService, namespace: nil) {
                virtualServices[virtualService.resource.key.namespace, default: []].append(virtualService)
            }
        } catch {
            logger.warning("cannot list canaries", metadata: ["error": "\(error)"])
            return
        }
        var cases: [CanaryCase] = []
        for canary in stored {
            do {
                let namespace = canary.resource.key.namespace
                if let c = try await canaries.read(canary, virtualServices: virtualServices[namespace] ?? []) { cases.append(c) }
            } catch {
                logger.warning("cannot read canary", metadata: ["canary": "\(canary.resource.key)", "error": "\(error)"])
            }
        }
        // A VirtualService is stepped by one canary at a time: the one running on it.
        var claims: [ConfigKey: ConfigKey] = [:]
        for c in cases {
            guard let status = c.status, !status.phase.isFinal, let virtualService = c.virtualService else { continue }
            claims[virtualService.resource.key] = claims[virtualService.resource.key] ?? c.key
        }
        for c in cases {
            if Task.isCancelled { return }
            do {
                try await reconcile(c, claims: claims)
            } catch {
                // A conflict means someone wrote meanwhile: the next pass reads it afresh.
                logger.warning("canary decision not written", metadata: ["canary": "\(c.key)", "error": "\(error)"])
            }
        }
    }

    /// Decides what `c` needs now and writes it; `claims` names the canary running on each
    /// VirtualService.
    func reconcile(_ c: CanaryCase, claims: [ConfigKey: ConfigKey] = [:]) async throws {
        let now = environment.now()
        guard let status = c.status else {
            if let problem = cannotStart(c, claims: claims) {
                try await canaries.perform(CanaryWrites.fail(c, now: now, reason: problem), on: c)
            } else if let transition = CanaryWrites.start(c, now: now) {
                try await canaries.perform(transition, on: c)
                logger.notice("canary started", metadata: ["canary": "\(c.key)", "weight": "\(transition.status.weight)"])
            }
            return
        }
        guard status.phase == .progressing else { return }
        guard let virtualService = c.virtualService else {
            let reason = "VirtualService \(c.spec.virtualService.map { "\(c.key.namespace)/\($0)" } ?? "for \(c.spec.host)") no longer exists"
            try await canaries.perform(CanaryWrites.fail(c, now: now, reason: reason), on: c)
            return
        }
        if CanaryRoutes.digest(virtualService.resource.spec) != status.virtualServiceDigest {
            let reason = await foreignChange(virtualService)
            if let transition = CanaryWrites.pause(c, now: now, reason: reason) {
                try await canaries.perform(transition, on: c)
                logger.notice("canary paused", metadata: ["canary": "\(c.key)", "reason": "\(reason)"])
            }
            return
        }
        guard let observe = environment.observe else {
            try await canaries.perform(CanaryWrites.fail(c, now: now, reason: Self.noPrometheus), on: c)
            return
        }
        let due = now.timeIntervalSince(status.stepStartedAt) >= Double(c.spec.intervalSeconds)
        guard due || takeEarlyCheck(c, status: status, now: now) else { return }

        let window = c.spec.intervalSeconds
        let traffic: TrafficReport.ServiceTraffic?
        do {
            traffic = try await observe(c.spec.resolvedHost(namespace: c.key.namespace), c.key.namespace, window)
        } catch {
            guard due else { return }
            let reason = "held at \(status.weight)%: observed traffic cannot be read (\(error.description)); judged when it can be"
            if status.decisions.last?.verb != .hold || status.decisions.last?.reason != reason,
                let transition = CanaryWrites.hold(c, now: now, reason: reason)
            {
                try await canaries.perform(transition, on: c)
            }
            return
        }
        let verdict = CanaryJudge.judge(traffic, spec: c.spec, windowSeconds: window)
        switch verdict.outcome {
        case .outOfBounds:
            try await rollBack(c, reason: verdict.reason, observed: verdict.observation)
        case .tooFewRequests where due:
            try await rollBack(c, reason: verdict.reason, observed: verdict.observation)
        case .withinBounds where due:
            guard let transition = CanaryWrites.advance(c, now: now, reason: verdict.reason, observed: verdict.observation) else { return }
            try await canaries.perform(transition, on: c)
            logger.notice(
                "canary \(transition.decision.verb == .complete ? "completed" : "advanced")",
                metadata: ["canary": "\(c.key)", "weight": "\(transition.status.weight)", "reason": "\(verdict.reason)"])
        case .tooFewRequests, .withinBounds:
            return
        }
    }

    /// Why `c` cannot start, or nil.
    private func cannotStart(_ c: CanaryCase, claims: [ConfigKey: ConfigKey]) -> String? {
        guard environment.observe != nil else { return Self.noPrometheus }
        guard let virtualService = c.virtualService else {
            if let name = c.spec.virtualService { return "VirtualService \(c.key.namespace)/\(name) does not exist" }
            return "no VirtualService in namespace \(c.key.namespace) names host \(c.spec.host)"
        }
        let target = virtualService.resource.key
        if let other = claims[target], other != c.key {
            return
                "VirtualService \(target.namespace)/\(target.name) is being stepped by canary \(other.namespace)/\(other.name): one canary at a time"
        }
        guard !c.routes.stepped(in: virtualService.resource.spec).isEmpty else {
            return
                "VirtualService \(virtualService.resource.key.namespace)/\(virtualService.resource.key.name) has no route whose destinations are all \(c.spec.host) subsets \(c.spec.from) or \(c.spec.to)"
        }
        return nil
    }

    static let noPrometheus =
        "a canary needs observed traffic: start meshd with --prometheus-url (a Prometheus that scrapes the proxies and workloads)"

    /// Whether an early check of the current step is due now; schedules the next one (every
    /// fifth of the interval, at least a second apart).
    private func takeEarlyCheck(_ c: CanaryCase, status: CanaryStatus, now: Date) -> Bool {
        let gap = max(1, Double(c.spec.intervalSeconds) / 5)
        return schedules.withLock { schedules in
            if let schedule = schedules[c.key], schedule.step == status.step, schedule.stepStartedAt == status.stepStartedAt,
                now < schedule.nextCheck
            {
                return false
            }
            schedules[c.key] = Schedule(nextCheck: now.addingTimeInterval(gap), step: status.step, stepStartedAt: status.stepStartedAt)
            return true
        }
    }

    /// Rolls `c` back to its pre-canary VirtualService.
    private func rollBack(_ c: CanaryCase, reason: String, observed: CanaryStatus.Observation?) async throws {
        guard let (restored, note) = await canaries.restored(c) else { return }
        let full = reason + (note.map { "; \($0)" } ?? "")
        guard
            let transition = CanaryWrites.rollback(
                c, restored: restored, now: environment.now(), verb: .rollback, reason: full, actor: c.actor, observed: observed)
        else { return }
        try await canaries.perform(transition, on: c)
        logger.notice("canary rolled back", metadata: ["canary": "\(c.key)", "reason": "\(full)"])
    }

    /// Who changed the VirtualService, as its newest history record says.
    private func foreignChange(_ virtualService: StoredConfig) async -> String {
        let key = virtualService.resource.key
        let record = try? await environment.store.history(HistoryQuery(kind: .virtualService, namespace: key.namespace, name: key.name, limit: 1))
            .items.first
        let who = record.map { "by \($0.actor) at revision \($0.revision)" } ?? "at revision \(virtualService.revision)"
        return "VirtualService \(key.namespace)/\(key.name) was changed \(who), not by the canary: paused (resume, promote or abort)"
    }
}
