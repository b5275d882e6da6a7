import MeshModel
import PushPipeline
import Translator
import XDS
import XDSCore

/// What happened to one case.
struct CaseOutcome: Sendable {
    /// Per error class (`parse:malformed`, `validate:invalid`), how many.
    var errors: [String: Int] = [:]
    /// Resources that validated.
    var accepted = 0
    /// xDS resources generated (every type), 0 when translation did not run.
    var generated = 0
    /// Set when a known crash class was recognised and the steps after it were skipped.
    var skipped: KnownCrash?
    /// The first error's text, for the corpus report.
    var firstError: String?
    var violations: [Violation] = []
}

/// parse → validate → PushContext (with the baseline) → every generator → decode + invariants:
/// the path a body takes from `meshctl apply` to a proxy.
enum FuzzPipeline {
    static let proxy = Proxy(id: "fuzz")

    /// The baseline, validated once.
    static let baselineInputs: [(ConfigResource, TypedConfig)] = FuzzSeeds.baseline.map { resource in
        do { return (resource, try ConfigValidator.validate(resource)) } catch { fatalError("invalid baseline: \(error)") }
    }

    /// Runs one body. Errors must be `MeshModelError` (typed throws guarantee it); anything
    /// else that goes wrong traps (caught by `CrashReporter`) or breaks an invariant (returned).
    static func run(_ text: String, configuration: FuzzConfiguration, caseIsOlder: Bool = false) -> CaseOutcome {
        var outcome = CaseOutcome()
        if let known = KnownCrash.inText(text, running: configuration.runsKnown) {
            outcome.skipped = known
            return outcome
        }
        let resources: [ConfigResource]
        do {
            resources = try ConfigDocumentParser.parse(text)
        } catch {
            outcome.errors["parse:\(error.code.rawValue)", default: 0] += 1
            outcome.firstError = error.description
            return outcome
        }
        var inputs: [PushContextBuilder.Input] = []
        var configs: [TypedConfig] = baselineInputs.map(\.1)
        let caseRevision: Int64 = caseIsOlder ? 1 : 3
        for (resource, typed) in baselineInputs {
            inputs.append(.init(key: resource.key, createdRevision: 2, annotations: resource.annotations, config: typed))
        }
        for resource in resources {
            do {
                let typed = try ConfigValidator.validate(resource)
                outcome.accepted += 1
                configs.append(typed)
                inputs.append(.init(key: resource.key, createdRevision: caseRevision, annotations: resource.annotations, config: typed))
            } catch {
                outcome.errors["validate:\(error.code.rawValue)", default: 0] += 1
                if outcome.firstError == nil { outcome.firstError = error.description }
            }
        }
        guard outcome.accepted > 0 else { return outcome }
        if let known = KnownCrash.inConfigs(configs, running: configuration.runsKnown) {
            outcome.skipped = known
            return outcome
        }
        let push = PushContextBuilder.build(revision: 7, inputs: inputs)
        let snapshot = ProxySnapshot(proxy: proxy, push: push, table: .testing)
        outcome.generated = snapshot.resources.values.reduce(0) { $0 + $1.count }
        outcome.violations = InvariantChecker.check(snapshot)
        return outcome
    }
}

/// Counts for one mutator (or the corpus), printed at the end of its run.
struct FuzzSummary: Sendable {
    var name: String
    var cases = 0
    var errorCases = 0
    var acceptedCases = 0
    var errors: [String: Int] = [:]
    var skipped: [String: Int] = [:]
    var resources = 0
    var violations: [String: Int] = [:]
    var knownGapViolations: [String: Int] = [:]
    var configuration = FuzzConfiguration.current

    mutating func add(_ outcome: CaseOutcome) {
        cases += 1
        if outcome.skipped == nil, outcome.accepted > 0 { acceptedCases += 1 } else if !outcome.errors.isEmpty { errorCases += 1 }
        errors.merge(outcome.errors, uniquingKeysWith: +)
        if let skipped = outcome.skipped { self.skipped[skipped.rawValue, default: 0] += 1 }
        resources += outcome.generated
        for violation in outcome.violations {
            if Violation.knownGaps.contains(violation.invariant), !configuration.runsKnown(violation.invariant) {
                knownGapViolations[violation.invariant, default: 0] += 1
            } else {
                violations[violation.invariant, default: 0] += 1
            }
        }
    }

    var line: String {
        func list(_ counts: [String: Int]) -> String {
            counts.isEmpty ? "none" : counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        return "[fuzz] \(name): \(cases) cases; ending in an error: \(errorCases) (\(list(errors))); "
            + "translated with ≥1 accepted resource: \(acceptedCases), \(resources) resources generated; "
            + "skipped as known crash classes: \(list(skipped)); invariant violations: \(list(violations)); "
            + "known gaps: \(list(knownGapViolations))"
    }
}
