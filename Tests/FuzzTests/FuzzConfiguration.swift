import Foundation

/// The knobs of a fuzz run, from the environment, so CI and `scripts/fuzz` run the same code:
///
/// - `MESHD_FUZZ_SEED`: the run's seed (decimal or 0x-hex). Default: a fixed seed, so CI is
///   deterministic; `scripts/fuzz` passes a fresh one. Always printed.
/// - `MESHD_FUZZ_CASES`: document cases in total, split evenly over the mutators (default 12,000).
/// - `MESHD_FUZZ_GRPC_CASES`: gRPC cases, split between ADS and the CA (default 300).
/// - `MESHD_FUZZ_MUTATORS`: comma-separated mutator names to run (default: all).
/// - `MESHD_FUZZ_CORPUS`: replay only corpus files whose name contains this.
/// - `MESHD_FUZZ_ONLY_CASE`: run one case index only (with the seed, reproduces one failure).
/// - `MESHD_FUZZ_VERBOSE=1`: print every case's input before running it.
/// - `MESHD_FUZZ_KNOWN_CRASHES`: every crash class found so far (see `KnownCrash`) is fixed and
///   runs by default. While fixing a newly found class, a developer can add it to `KnownCrash`
///   and run with `MESHD_FUZZ_KNOWN_CRASHES=0` (skip all known classes) or a comma-separated
///   list of the classes to run.
/// - `MESHD_FUZZ_CASE_TIMEOUT`: seconds one case may take before the run is failed as a hang (default 20).
struct FuzzConfiguration: Sendable {
    static let defaultSeed: UInt64 = 0x6D65_7368_6421_2026
    static let defaultCases = 12_000
    static let defaultGRPCCases = 300

    var seed: UInt64
    var cases: Int
    var grpcCases: Int
    var mutators: Set<String>?
    var onlyCase: Int?
    var corpusFilter: String?
    var verbose: Bool
    /// Known crash classes and invariant gaps to run anyway: nil none, empty set all.
    var knownCrashes: Set<String>?
    var caseTimeout: Double

    static let current = FuzzConfiguration(environment: ProcessInfo.processInfo.environment)

    init(environment env: [String: String]) {
        seed = env["MESHD_FUZZ_SEED"].flatMap(Self.parseSeed) ?? Self.defaultSeed
        cases = env["MESHD_FUZZ_CASES"].flatMap { Int($0) } ?? Self.defaultCases
        grpcCases = env["MESHD_FUZZ_GRPC_CASES"].flatMap { Int($0) } ?? Self.defaultGRPCCases
        mutators = env["MESHD_FUZZ_MUTATORS"].map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) }
        onlyCase = env["MESHD_FUZZ_ONLY_CASE"].flatMap { Int($0) }
        corpusFilter = env["MESHD_FUZZ_CORPUS"]
        verbose = env["MESHD_FUZZ_VERBOSE"].map { $0 == "1" || $0 == "true" } ?? false
        knownCrashes =
            env["MESHD_FUZZ_KNOWN_CRASHES"].map { value in
                switch value {
                case "0", "false": nil
                case "", "1", "true", "all": []
                default: Set(value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                }
            } ?? []
        caseTimeout = env["MESHD_FUZZ_CASE_TIMEOUT"].flatMap { Double($0) } ?? 20
    }

    static func parseSeed(_ text: String) -> UInt64? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t.hasPrefix("0x") { return UInt64(t.dropFirst(2), radix: 16) }
        return UInt64(t)
    }

    /// Whether the known crash class or invariant gap `name` runs (or fails) in this run.
    func runsKnown(_ name: String) -> Bool {
        guard let knownCrashes else { return false }
        return knownCrashes.isEmpty || knownCrashes.contains(name)
    }

    var knownCrashesText: String {
        switch knownCrashes {
        case nil: "skipped (MESHD_FUZZ_KNOWN_CRASHES=1 runs them)"
        case let set? where set.isEmpty: "RUN (MESHD_FUZZ_KNOWN_CRASHES)"
        case let set?: "RUN only \(set.sorted().joined(separator: ","))"
        }
    }

    /// The seed as printed and as `MESHD_FUZZ_SEED` accepts it.
    var seedText: String { "0x" + String(seed, radix: 16) }
}
