import Foundation
import MeshModel
import Storage

/// The store writes of a canary's transitions (pure). Each is one `ConfigWrite`: the
/// VirtualService's new content, when the transition moves weights, and the canary's new
/// status, together — so history, replicas and a restarted meshd never see one without the
/// other. Every put expects what the case read, so a concurrent change refuses the write whole.
public enum CanaryWrites {
    /// A transition and the write that makes it.
    public struct Transition: Sendable {
        /// The store write.
        public var write: ConfigWrite
        /// The canary's status after it.
        public var status: CanaryStatus
        /// The decision it records.
        public var decision: CanaryStatus.Decision
    }

    /// Starts `c`: the first step's weights, phase Progressing.
    public static func start(_ c: CanaryCase, now: Date) -> Transition? {
        guard let virtualService = c.virtualService else { return nil }
        let weight = c.spec.steps[0]
        let decision = CanaryStatus.Decision(
            time: now, verb: .start, weight: weight,
            reason: "started: \(weight)% to \(c.spec.to) (step 1 of \(c.spec.steps.count)), watched for \(c.spec.intervalSeconds)s")
        let status = CanaryStatus(
            phase: .progressing, step: 0, weight: weight, baseRevision: virtualService.revision, virtualServiceDigest: "",
            stepStartedAt: now, message: "", decisions: c.status?.decisions ?? [])
        return moving(c, to: weight, status: status, decision: decision, actor: c.actor)
    }

    /// Takes the next step (`verdict` says why), or completes after the last.
    public static func advance(_ c: CanaryCase, now: Date, reason: String, observed: CanaryStatus.Observation?) -> Transition? {
        guard var status = c.status else { return nil }
        let next = status.step + 1
        guard next < c.spec.steps.count else {
            let decision = CanaryStatus.Decision(
                time: now, verb: .complete, weight: status.weight, reason: "completed at \(status.weight)%: \(reason)", observed: observed)
            status.phase = .succeeded
            return statusOnly(c, status: status, decision: decision, actor: c.actor)
        }
        let weight = c.spec.steps[next]
        let decision = CanaryStatus.Decision(
            time: now, verb: .advance, weight: weight,
            reason: "step \(next + 1) of \(c.spec.steps.count): \(weight)% to \(c.spec.to); \(reason)", observed: observed)
        status.step = next
        status.stepStartedAt = now
        return moving(c, to: weight, status: status, decision: decision, actor: c.actor)
    }

    /// Restores the VirtualService to `restored` (its content at the base revision): phase
    /// RolledBack (`verb` rollback) or Aborted (`abort`).
    public static func rollback(
        _ c: CanaryCase, restored: ConfigResource, now: Date, verb: CanaryStatus.Verb, reason: String, actor: String,
        observed: CanaryStatus.Observation? = nil
    ) -> Transition? {
        guard var status = c.status, let virtualService = c.virtualService else { return nil }
        let weight = c.routes.currentWeight(in: restored.spec) ?? 0
        let decision = CanaryStatus.Decision(time: now, verb: verb, weight: weight, reason: reason, observed: observed)
        status.phase = verb == .abort ? .aborted : .rolledBack
        status.weight = weight
        status.virtualServiceDigest = CanaryRoutes.digest(restored.spec)
        status.message = message(for: status, spec: c.spec, reason: reason)
        status.record(decision)
        var write = ConfigWrite(
            puts: [.init(restored, expected: .revision(virtualService.revision)), canaryPut(c, status: status)],
            metadata: ChangeMetadata(actor: actor, operation: .rollback, rolledBackTo: status.baseRevision, reason: reason))
        if restored == virtualService.resource { write.puts.removeFirst() }
        return Transition(write: write, status: status, decision: decision)
    }

    /// Pauses `c`: its VirtualService was changed by someone else.
    public static func pause(_ c: CanaryCase, now: Date, reason: String) -> Transition? {
        guard var status = c.status else { return nil }
        status.phase = .paused
        return statusOnly(c, status: status, decision: .init(time: now, verb: .pause, weight: status.weight, reason: reason), actor: c.actor)
    }

    /// Resumes a paused `c`: the current step's weights again, its interval from now.
    public static func resume(_ c: CanaryCase, now: Date, actor: String) -> Transition? {
        guard var status = c.status, c.virtualService != nil else { return nil }
        let weight = c.spec.steps[min(status.step, c.spec.steps.count - 1)]
        status.phase = .progressing
        status.stepStartedAt = now
        let decision = CanaryStatus.Decision(
            time: now, verb: .resume, weight: weight,
            reason:
                "resumed by \(actor): \(weight)% to \(c.spec.to) (step \(status.step + 1) of \(c.spec.steps.count)), watched for \(c.spec.intervalSeconds)s"
        )
        return moving(c, to: weight, status: status, decision: decision, actor: actor)
    }

    /// Promotes `c`: 100% to the new subset, phase Succeeded.
    public static func promote(_ c: CanaryCase, now: Date, actor: String) -> Transition? {
        guard var status = c.status, c.virtualService != nil else { return nil }
        status.phase = .succeeded
        status.step = c.spec.steps.count - 1
        let decision = CanaryStatus.Decision(time: now, verb: .promote, weight: 100, reason: "promoted by \(actor): 100% to \(c.spec.to)")
        return moving(c, to: 100, status: status, decision: decision, actor: actor)
    }

    /// Fails `c` without touching its VirtualService (it could not run).
    public static func fail(_ c: CanaryCase, now: Date, reason: String) -> Transition {
        var status =
            c.status
            ?? CanaryStatus(
                phase: .failed, step: 0, weight: c.virtualService.flatMap { c.routes.currentWeight(in: $0.resource.spec) } ?? 0,
                baseRevision: c.virtualService?.revision ?? 0, virtualServiceDigest: "", stepStartedAt: now, message: "", decisions: [])
        status.phase = .failed
        return statusOnly(c, status: status, decision: .init(time: now, verb: .fail, weight: status.weight, reason: reason), actor: c.actor)
    }

    /// Records that the step is held (Prometheus could not be read); the interval is judged
    /// when it can be.
    public static func hold(_ c: CanaryCase, now: Date, reason: String) -> Transition? {
        guard let status = c.status else { return nil }
        return statusOnly(c, status: status, decision: .init(time: now, verb: .hold, weight: status.weight, reason: reason), actor: c.actor)
    }

    /// A transition that writes `weight` into the VirtualService's stepped routes.
    private static func moving(
        _ c: CanaryCase, to weight: Int, status: CanaryStatus, decision: CanaryStatus.Decision, actor: String
    ) -> Transition? {
        guard let virtualService = c.virtualService else { return nil }
        var status = status
        var resource = virtualService.resource
        resource.spec = c.routes.weighted(resource.spec, weight: weight)
        status.weight = weight
        status.virtualServiceDigest = CanaryRoutes.digest(resource.spec)
        status.message = message(for: status, spec: c.spec, reason: decision.reason)
        status.record(decision)
        var puts: [ConfigWrite.Put] = []
        if resource != virtualService.resource { puts.append(.init(resource, expected: .revision(virtualService.revision))) }
        puts.append(canaryPut(c, status: status))
        return Transition(
            write: ConfigWrite(puts: puts, metadata: ChangeMetadata(actor: actor, operation: .apply, reason: decision.reason)),
            status: status, decision: decision)
    }

    private static func statusOnly(_ c: CanaryCase, status: CanaryStatus, decision: CanaryStatus.Decision, actor: String) -> Transition {
        var status = status
        status.message = message(for: status, spec: c.spec, reason: decision.reason)
        status.record(decision)
        return Transition(
            write: ConfigWrite(
                puts: [canaryPut(c, status: status)], metadata: ChangeMetadata(actor: actor, operation: .apply, reason: decision.reason)),
            status: status, decision: decision)
    }

    private static func canaryPut(_ c: CanaryCase, status: CanaryStatus) -> ConfigWrite.Put {
        var resource = c.canary.resource
        resource.status = status.json
        return .init(resource, expected: .revision(c.canary.revision))
    }

    /// The status in words: the phase, the step and what happened last.
    static func message(for status: CanaryStatus, spec: CanarySpec, reason: String) -> String {
        switch status.phase {
        case .progressing:
            let until = status.stepStartedAt.addingTimeInterval(Double(spec.intervalSeconds))
            return "step \(status.step + 1) of \(spec.steps.count): \(status.weight)% to \(spec.to), watched until \(until.rfc3339)"
        case .paused: return "paused at \(status.weight)% to \(spec.to): \(reason)"
        case .succeeded: return "succeeded: \(status.weight)% to \(spec.to)"
        case .rolledBack: return "rolled back: \(reason)"
        case .aborted: return "aborted: \(reason)"
        case .failed: return "failed: \(reason)"
        }
    }
}
