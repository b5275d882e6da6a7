import Foundation
import Testing

/// The document fuzz suite: the corpus of every crash input found so far, then each mutator's
/// share of `MESHD_FUZZ_CASES` seeded cases, through parse → validate → translate → encode.
///
/// Every fuzz suite, serialized as a whole: the crash reporter and watchdog follow one case at a
/// time, and CI's share stays predictable on two cores.
@Suite("Fuzzing", .serialized)
struct FuzzTests {}

extension FuzzTests {
    @Suite("Document fuzzing")
    struct DocumentFuzzTests {
        static let configuration = FuzzConfiguration.current

        /// The corpus directory, found from this file so no resource bundle is needed.
        static let corpusDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")

        @Test("corpus: every crash input found so far ends in an error or in valid resources")
        func corpus() throws {
            let config = Self.configuration
            // Here rather than in init: the alternate signal stack belongs to the thread running the cases.
            CrashReporter.install(caseTimeout: config.caseTimeout)
            let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpusDirectory.path)
                .filter { !$0.hasPrefix(".") && !$0.hasSuffix(".md") }.sorted()
                .filter { config.corpusFilter.map($0.contains) ?? true }
            #expect(!files.isEmpty, "the corpus is empty: \(Self.corpusDirectory.path)")
            var summary = FuzzSummary(name: "corpus")
            for file in files {
                let data = try Data(contentsOf: Self.corpusDirectory.appendingPathComponent(file))
                let text = String(decoding: data, as: UTF8.self)
                let label = "corpus/\(file)"
                if config.verbose { print("[fuzz] \(label)") }
                CrashReporter.arm(label: label, input: text)
                let outcome = FuzzPipeline.run(text, configuration: config)
                CrashReporter.disarm()
                summary.add(outcome)
                let result =
                    if let skipped = outcome.skipped {
                        "skipped: known crash class \(skipped.rawValue) (MESHD_FUZZ_KNOWN_CRASHES=\(skipped.rawValue) runs it)"
                    } else if outcome.accepted == 0 {
                        "error \(outcome.errors.keys.sorted().joined(separator: ",")): \(outcome.firstError?.prefix(300) ?? "")"
                    } else {
                        "\(outcome.accepted) accepted, \(outcome.generated) resources, \(outcome.violations.count) violations"
                    }
                print("[fuzz] \(label): \(result)")
                record(outcome.violations, label: label, input: text, configuration: config)
            }
            print(summary.line)
        }

        @Test("mutated documents end in an error or in valid resources", arguments: DocumentMutator.all.map(\.name))
        func mutator(_ name: String) throws {
            let config = Self.configuration
            guard config.mutators?.contains(name) ?? true else { return }  // not selected by MESHD_FUZZ_MUTATORS
            let mutator = try #require(DocumentMutator.all.first { $0.name == name })
            CrashReporter.install(caseTimeout: config.caseTimeout)
            let perMutator = max(1, config.cases / DocumentMutator.all.count)
            if name == DocumentMutator.all[0].name {
                print(
                    "[fuzz] seed \(config.seedText) (reproduce with MESHD_FUZZ_SEED=\(config.seedText)); "
                        + "\(config.cases) document cases, \(perMutator) per mutator × \(DocumentMutator.all.count) mutators; "
                        + "known crash classes \(config.knownCrashesText)")
            }
            var summary = FuzzSummary(name: name)
            var slowest: (seconds: Double, label: String) = (0, "")
            var reported = 0
            let started = Date()
            let indices = config.onlyCase.map { [$0] } ?? Array(0..<perMutator)
            for index in indices {
                var rng = SeededGenerator(seed: SeededGenerator.derive(config.seed, name, index))
                let fuzzCase = mutator.make(&rng)
                let caseIsOlder = rng.chance(0.5)
                let label = "seed=\(config.seedText) mutator=\(name) case=\(index) [\(fuzzCase.note.prefix(200))]"
                if config.verbose { print("[fuzz] \(label)\n\(fuzzCase.text.prefix(4_000))") }
                let caseStarted = Date()
                CrashReporter.arm(label: label, input: fuzzCase.text)
                let outcome = FuzzPipeline.run(fuzzCase.text, configuration: config, caseIsOlder: caseIsOlder)
                CrashReporter.disarm()
                let seconds = Date().timeIntervalSince(caseStarted)
                if seconds > slowest.seconds { slowest = (seconds, label) }
                summary.add(outcome)
                if reported < 5, record(outcome.violations, label: label, input: fuzzCase.text, configuration: config) {
                    reported += 1
                }
            }
            print(
                summary.line + String(format: "; %.1f s, slowest case %.2f s: ", Date().timeIntervalSince(started), slowest.seconds) + slowest.label)
            #expect(summary.violations.isEmpty, "invariant violations: \(summary.violations)")
        }

        /// Records the violations that are not known gaps as issues; true when there were some.
        @discardableResult
        func record(_ violations: [Violation], label: String, input: String, configuration: FuzzConfiguration) -> Bool {
            let failing = violations.filter { configuration.runsKnown($0.invariant) || !Violation.knownGaps.contains($0.invariant) }
            guard !failing.isEmpty else { return false }
            let list = failing.prefix(5).map { "  - \($0)" }.joined(separator: "\n")
            Issue.record("\(label): \(failing.count) invariant violation(s):\n\(list)\ninput:\n\(input.prefix(2_000))")
            return true
        }
    }
}
