import Foundation
import MeshModel

/// Crash classes the fuzzer has found. A trap kills the whole test process, so while a class is
/// being fixed its inputs can be skipped (`MESHD_FUZZ_KNOWN_CRASHES=0`, or a list of the classes
/// to run); by default every class runs, because every one listed here is fixed. Each class has
/// corpus entries (Tests/FuzzTests/Corpus/), replayed on every run.
///
/// The predicates are deliberately conservative (they may skip a harmless input, never run a
/// trapping one); when a fix lands, delete its case here and the corpus entries start running.
enum KnownCrash: String, CaseIterable, Sendable {
    /// Yams computes a base-60 integer (`153722867280912931:0`, or any with 11+ components) in
    /// `Int` with trapping arithmetic.
    case yamlBase60IntOverflow = "yaml-base60-int-overflow"
    /// A VirtualService weight above UInt32.max traps converting to UInt32 in RouteGenerator.
    case routeWeightAboveUInt32 = "vs-weight-above-uint32"
    /// Weights of one rule summing past UInt32.max: two destinations of one cluster trap adding
    /// (RouteGenerator); distinct clusters produce a weighted cluster Envoy rejects.
    case routeWeightsSumOverflow = "weights-sum-overflow"
    /// Endpoint weights of one locality summing past UInt32.max trap in EndpointGenerator.
    case endpointWeightsSumOverflow = "endpoint-weights-sum-overflow"
    /// Alias expansion (billion laughs) that costs CPU before the converter's 1M-value limit
    /// applies: an alias to a large mapping used in mapping keys runs for minutes (Yams
    /// composes and compares the expanded keys); plain bombs cost 0.5–2 s each in debug.
    case aliasBomb = "alias-bomb"

    /// Classes recognisable from the text, checked before parsing.
    static func inText(_ text: String, running runs: (String) -> Bool) -> KnownCrash? {
        if !runs(Self.yamlBase60IntOverflow.rawValue), hasBase60Overflow(text) { return .yamlBase60IntOverflow }
        if !runs(Self.aliasBomb.rawValue), aliasFanOut(text) > Double(aliasThreshold) { return .aliasBomb }
        return nil
    }

    /// Classes recognisable from validated configs (the case's and the baseline's), checked
    /// before translation.
    static func inConfigs(_ configs: [TypedConfig], running runs: (String) -> Bool) -> KnownCrash? {
        var localityWeights: [String: UInt64] = [:]
        for config in configs {
            switch config {
            case .virtualService(let vs):
                for rule in vs.http {
                    let weights = rule.route.map { max(0, $0.weight ?? (rule.route.count == 1 ? 100 : 0)) }
                    if !runs(Self.routeWeightAboveUInt32.rawValue), weights.contains(where: { $0 > Int(UInt32.max) }) {
                        return .routeWeightAboveUInt32
                    }
                    if !runs(Self.routeWeightsSumOverflow.rawValue), weights.reduce(0) { $0 &+ min($1, Int(UInt32.max) + 1) } > Int(UInt32.max) {
                        return .routeWeightsSumOverflow
                    }
                }
            case .workloadEntry(let we):
                localityWeights[we.locality ?? "", default: 0] += UInt64(max(we.weight ?? 1, 1))
            case .serviceEntry(let se):
                for endpoint in se.endpoints {
                    localityWeights["se:" + (endpoint.locality ?? ""), default: 0] += UInt64(max(endpoint.weight ?? 1, 1))
                }
            case .destinationRule, .gateway, .sidecar, .peerAuthentication, .authorizationPolicy, .requestAuthentication, .telemetry, .secret,
                .canary, .route, .referenceGrant:
                break
            }
        }
        if !runs(Self.endpointWeightsSumOverflow.rawValue), localityWeights.values.contains(where: { $0 > UInt64(UInt32.max) }) {
            return .endpointWeightsSumOverflow
        }
        return nil
    }

    // MARK: - Text predicates

    /// Aliases whose expansion could exceed this many nodes are treated as an alias bomb.
    static let aliasThreshold = 100_000

    /// A plain YAML 1.1 base-60 integer whose value does not fit in Int64, or with 11+ components
    /// (Yams multiplies its base by 60 once per component, overflowing at 60^11).
    static func hasBase60Overflow(_ text: String) -> Bool {
        guard text.contains(":") else { return false }
        let pattern = #"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+"#
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return false }
        let ns = text as NSString
        for match in regex.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
            let token = ns.substring(with: match.range).filter { $0 != "_" && $0 != "+" && $0 != "-" }
            let components = token.split(separator: ":", omittingEmptySubsequences: false)
            if components.count >= 11 { return true }
            var value = 0.0
            for c in components { value = value * 60 + (Double(c) ?? 0) }
            if value >= 9.2e18 { return true }
        }
        return false
    }

    /// An upper bound of the nodes alias expansion can produce: each anchor's size is the sum of
    /// what it references, counted over anchors in order of definition.
    static func aliasFanOut(_ text: String) -> Double {
        guard text.contains("&"), text.contains("*") else { return 0 }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var sizes: [Substring: Double] = [:]
        var total = 0.0
        var current: Substring? = nil
        for line in lines {
            var lineCost = 1.0
            var i = line.startIndex
            while i < line.endIndex {
                let c = line[i]
                if c == "&" || c == "*" {
                    let start = line.index(after: i)
                    var end = start
                    while end < line.endIndex, !" ,[]{}\t:".contains(line[end]) { end = line.index(after: end) }
                    let name = line[start..<end]
                    if c == "&" {
                        current = name
                        sizes[name] = sizes[name] ?? 1
                    } else {
                        let size = sizes[name] ?? 1
                        lineCost += size
                        if let current { sizes[current, default: 1] += size }
                    }
                    i = end
                } else {
                    i = line.index(after: i)
                }
            }
            total += lineCost
        }
        return total
    }
}
