import Foundation
import Testing

@testable import mesh_agent

/// SplitMix64: a seeded generator, so the jitter tests are repeatable.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct RenewalPolicyTests {
    let start = Date(timeIntervalSince1970: 1_000_000)

    @Test func renewsAtHalfTheLifetimeWithinTheJitterBand() {
        let policy = RenewalPolicy()
        let notAfter = start.addingTimeInterval(3600)
        var generator = SeededGenerator(state: 42)
        let delays = (0..<200).map { _ in policy.renewalDelay(start: start, notAfter: notAfter, now: start, using: &generator) }
        // 1800 s ± 10 %, and actually spread (agents started together must not renew together).
        #expect(delays.allSatisfy { $0 >= .seconds(1620) && $0 <= .seconds(1980) })
        #expect(delays.max()! - delays.min()! > .seconds(180))
    }

    @Test func aCertificateAlreadyDueIsNotRenewedInATightLoop() {
        var generator = SeededGenerator(state: 7)
        let delay = RenewalPolicy().renewalDelay(
            start: start, notAfter: start.addingTimeInterval(10),
            now: start.addingTimeInterval(3600), using: &generator)
        #expect(delay == .seconds(1))
    }

    @Test func backoffDoublesFromOneSecondUpToAMinute() {
        let policy = RenewalPolicy()
        #expect(
            (1...8).map { policy.backoff(afterFailures: $0) }
                == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(32), .seconds(60), .seconds(60)])
    }
}

@Suite struct ValidityDurationTests {
    @Test func parsesGoStyleDurations() {
        #expect(ValidityDuration(parsing: "24h")?.seconds == 86_400)
        #expect(ValidityDuration(parsing: "1h30m")?.seconds == 5_400)
        #expect(ValidityDuration(parsing: "90s")?.seconds == 90)
        #expect(ValidityDuration(parsing: "90") == nil)
        #expect(ValidityDuration(parsing: "0s") == nil)
        #expect(ValidityDuration(parsing: "-5m") == nil)
    }
}

@Suite struct AtomicDirectoryWriterTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("agent-\(UUID().uuidString)").path

    func read(_ name: String) throws -> String { try String(contentsOfFile: directory + "/" + name, encoding: .utf8) }

    @Test func publishesAGenerationBehindStableLinksAndReplacesItWhole() throws {
        let writer = AtomicDirectoryWriter(directory: directory)
        try writer.publish([(name: "cert-chain.pem", contents: "cert-1", mode: 0o644), (name: "key.pem", contents: "key-1", mode: 0o600)])
        try writer.publish([(name: "cert-chain.pem", contents: "cert-2", mode: 0o644), (name: "key.pem", contents: "key-2", mode: 0o600)])

        #expect(try read("cert-chain.pem") == "cert-2")
        #expect(try read("key.pem") == "key-2")
        let fm = FileManager.default
        #expect(try fm.destinationOfSymbolicLink(atPath: directory + "/key.pem") == "..data/key.pem")
        let generation = try fm.destinationOfSymbolicLink(atPath: directory + "/..data")
        let keyMode = try fm.attributesOfItem(atPath: directory + "/" + generation + "/key.pem")[.posixPermissions] as? Int
        #expect(keyMode == 0o600)
        // Only the current generation is left behind.
        let generations = try fm.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("..") && $0 != "..data" }
        #expect(generations == [generation])
    }
}
