import Foundation
import MeshCommon

/// A canary's progress, as meshd writes it into the `Canary` resource's `status` in the same
/// store transaction as the VirtualService change it describes: what restarts, failovers and
/// every replica read back (docs/canary-steps.md).
public struct CanaryStatus: Sendable, Hashable {
    /// Where a canary is.
    public enum Phase: String, Sendable, Hashable, CaseIterable {
        /// Stepping: the current step is being watched.
        case progressing = "Progressing"
        /// Stopped by a change to its VirtualService not made by the canary; waits for
        /// resume, promote or abort.
        case paused = "Paused"
        /// Every step was taken.
        case succeeded = "Succeeded"
        /// The new subset was out of bounds (or saw too little traffic): the VirtualService is
        /// back as it was before the canary.
        case rolledBack = "RolledBack"
        /// Aborted by hand: rolled back likewise.
        case aborted = "Aborted"
        /// Could not run (no such VirtualService, no route to step, no Prometheus).
        case failed = "Failed"

        /// Whether the canary is over: meshd does nothing more until its spec changes.
        public var isFinal: Bool { self != .progressing && self != .paused }
    }

    /// What one decision did.
    public enum Verb: String, Sendable, Hashable, CaseIterable {
        case start, advance, complete, hold, rollback, pause, resume, promote, abort, fail
    }

    /// What the new subset's traffic looked like when a decision was made.
    public struct Observation: Sendable, Hashable {
        /// The source whose numbers decided (`client`, `destination`, `envoy`).
        public var source: String
        /// Requests to the new subset over the window.
        public var requests: Int
        /// Their error rate, percent.
        public var errorPercent: Double?
        /// Their 99th-percentile latency, milliseconds.
        public var p99Ms: Double?
        /// The window read, seconds.
        public var windowSeconds: Int

        /// Creates an observation.
        public init(source: String, requests: Int, errorPercent: Double?, p99Ms: Double?, windowSeconds: Int) {
            self.source = source
            self.requests = requests
            self.errorPercent = errorPercent
            self.p99Ms = p99Ms
            self.windowSeconds = windowSeconds
        }
    }

    /// One decision, with its reason.
    public struct Decision: Sendable, Hashable {
        /// When it was made (the deciding meshd's clock).
        public var time: Date
        /// What it did.
        public var verb: Verb
        /// The new subset's weight after it.
        public var weight: Int
        /// Why, in words.
        public var reason: String
        /// The traffic it was made on, when it was made on traffic.
        public var observed: Observation?

        /// Creates a decision.
        public init(time: Date, verb: Verb, weight: Int, reason: String, observed: Observation? = nil) {
            self.time = time
            self.verb = verb
            self.weight = weight
            self.reason = reason
            self.observed = observed
        }
    }

    /// How many decisions are kept (the oldest dropped); history keeps every step.
    public static let keptDecisions = 50

    /// Where the canary is.
    public var phase: Phase
    /// The index into `spec.steps` of the current step.
    public var step: Int
    /// The new subset's weight now.
    public var weight: Int
    /// The store revision before the canary's first write: what a rollback restores.
    public var baseRevision: Int64
    /// A digest of the VirtualService spec the canary last wrote: any other content is a
    /// change made by someone else, which pauses the canary.
    public var virtualServiceDigest: String
    /// When the current step began to be watched.
    public var stepStartedAt: Date
    /// The state in words.
    public var message: String
    /// The decisions, oldest first, at most `keptDecisions`.
    public var decisions: [Decision]

    /// Creates a status.
    public init(
        phase: Phase, step: Int, weight: Int, baseRevision: Int64, virtualServiceDigest: String, stepStartedAt: Date, message: String,
        decisions: [Decision]
    ) {
        self.phase = phase
        self.step = step
        self.weight = weight
        self.baseRevision = baseRevision
        self.virtualServiceDigest = virtualServiceDigest
        self.stepStartedAt = stepStartedAt
        self.message = message
        self.decisions = decisions
    }

    /// Appends `decision`, dropping the oldest beyond `keptDecisions`.
    public mutating func record(_ decision: Decision) {
        decisions.append(decision)
        if decisions.count > Self.keptDecisions { decisions.removeFirst(decisions.count - Self.keptDecisions) }
    }

    /// The status as stored and shown.
    public var json: JSONValue {
        .object([
            "phase": .string(phase.rawValue), "step": .number(Double(step)), "weight": .number(Double(weight)),
            "baseRevision": .number(Double(baseRevision)), "virtualServiceDigest": .string(virtualServiceDigest),
            "stepStartedAt": .string(stepStartedAt.rfc3339), "message": .string(message),
            "decisions": .array(decisions.map(\.json)),
        ])
    }

    /// Reads a stored status.
    /// - Throws: `MeshModelError` naming the first field that is not as meshd writes it.
    public init(json: JSONValue, resource: String) throws(MeshModelError) {
        try self.init(reading: FieldReader(json, path: "status", resource: resource))
    }

    init(reading field: FieldReader) throws(MeshModelError) {
        guard let phase = try field["phase"].oneOf(Phase.allCases.map(\.rawValue), what: "phase").flatMap(Phase.init(rawValue:)) else {
            throw field["phase"].error("required")
        }
        self.phase = phase
        step = try field["step"].integer(in: 0...CanarySpec.maximumSteps, message: "out of range") ?? 0
        weight = try field["weight"].integer(in: 0...100, message: "must be from 0 to 100") ?? 0
        baseRevision = Int64(try field["baseRevision"].integer() ?? 0)
        virtualServiceDigest = try field["virtualServiceDigest"].string() ?? ""
        stepStartedAt = try Self.date(field["stepStartedAt"]) ?? Date(timeIntervalSince1970: 0)
        message = try field["message"].string() ?? ""
        decisions = try field["decisions"].list().map { item throws(MeshModelError) in try Decision(reading: item) }
    }

    static func date(_ field: FieldReader) throws(MeshModelError) -> Date? {
        guard let text = try field.string() else { return nil }
        guard let date = Date(rfc3339: text) else { throw field.error("expected an RFC 3339 time") }
        return date
    }
}

extension CanaryStatus.Decision {
    /// The decision as stored and shown.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "time": .string(time.rfc3339), "decision": .string(verb.rawValue), "weight": .number(Double(weight)),
            "reason": .string(reason),
        ]
        if let observed { object["observed"] = observed.json }
        return .object(object)
    }

    init(reading field: FieldReader) throws(MeshModelError) {
        time = try CanaryStatus.date(field["time"]) ?? Date(timeIntervalSince1970: 0)
        guard let verb = try field["decision"].oneOf(CanaryStatus.Verb.allCases.map(\.rawValue), what: "decision").flatMap(CanaryStatus.Verb.init)
        else { throw field["decision"].error("required") }
        self.verb = verb
        weight = try field["weight"].integer(in: 0...100, message: "must be from 0 to 100") ?? 0
        reason = try field["reason"].string() ?? ""
        observed = try field["observed"].object() == nil ? nil : try CanaryStatus.Observation(reading: field["observed"])
    }
}

extension CanaryStatus.Observation {
    /// The observation as stored and shown.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "source": .string(source), "requests": .number(Double(requests)), "windowSeconds": .number(Double(windowSeconds)),
        ]
        if let errorPercent { object["errorPercent"] = .number(errorPercent) }
        if let p99Ms { object["p99Ms"] = .number(p99Ms) }
        return .object(object)
    }

    init(reading field: FieldReader) throws(MeshModelError) {
        source = try field["source"].string() ?? ""
        requests = try field["requests"].integer() ?? 0
        errorPercent = try field["errorPercent"].number()
        p99Ms = try field["p99Ms"].number()
        windowSeconds = try field["windowSeconds"].integer() ?? 0
    }
}

extension FieldReader {
    /// A finite number, or nil when absent.
    fileprivate func number() throws(MeshModelError) -> Double? {
        guard let value, value != .null else { return nil }
        guard case .number(let number) = value, number.isFinite else { throw error("expected a number") }
        return number
    }
}
