import Foundation
import Logging
import MeshModel
import MeshTesting
import Storage
import Synchronization
import Testing

@testable import CanaryDelivery
@testable import ObservedTraffic

/// The runner over an in-memory store, a scripted clock and scripted traffic.
final class CanaryHarness: Sendable {
    /// What the test scripts: the clock and what Prometheus answers.
    final class Script: Sendable {
        let clock = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        let traffic = Mutex<TrafficReport.ServiceTraffic?>(nil)
        let prometheusDown = Mutex(false)
        let ready = Mutex(true)
    }

    let store = InMemoryConfigStore()
    let script = Script()
    let runner: CanaryRunner
    let canaries: CanaryOperator

    init(observed: Bool = true) {
        let store = self.store
        let script = self.script
        let observe: (@Sendable (String, String, Int) async throws(ObservedTrafficError) -> TrafficReport.ServiceTraffic?)? =
            observed
            ? { @Sendable _, _, _ throws(ObservedTrafficError) in
                if script.prometheusDown.withLock({ $0 }) { throw .unavailable("Prometheus at http://127.0.0.1:9 cannot be reached") }
                return script.traffic.withLock { $0 }
            } : nil
        canaries = CanaryOperator(
            environment: CanaryEnvironment(
                store: store, commit: { write in .number(Double(try await store.write(write).revision)) }, observe: observe,
                now: { script.clock.withLock { $0 } },
                preview: { write, proxy in .object(["puts": .number(Double(write.puts.count)), "proxy": proxy.map(JSONValue.string) ?? .null]) },
                ready: { script.ready.withLock { $0 } }))
        runner = CanaryRunner(canaries: canaries, logger: Logger(label: "test"))
    }

    func advance(seconds: Double) { script.clock.withLock { $0 = $0.addingTimeInterval(seconds) } }

    func status() async throws -> CanaryStatus? {
        let stored = try await store.get(ConfigKey(kind: .canary, namespace: "default", name: "reviews"))
        return try stored?.resource.status.map { try CanaryStatus(json: $0, resource: "canary") }
    }

    func weight() async throws -> Int? {
        let stored = try await store.get(ConfigKey(kind: .virtualService, namespace: "default", name: "reviews"))
        return CanaryRoutes(host: CanaryFixtures.host, namespace: "default", from: "v1", to: "v2").currentWeight(in: stored?.resource.spec ?? .null)
    }

    static let key = ConfigKey(kind: .canary, namespace: "default", name: "reviews")
}

struct CanaryRunnerTests {
    @Test func aHealthySubsetIsSteppedToTheEndEachStepAnOrdinaryRevision() async throws {
        let h = CanaryHarness()
        _ = try await h.store.apply([CanaryFixtures.virtualService(), CanaryFixtures.canary()])
        h.script.traffic.withLock { $0 = CanaryFixtures.traffic(rps: 20, errors: 0) }
        await h.runner.pass()
        #expect(try await h.weight() == 20)
        #expect(try await h.status()?.phase == .progressing)
        // Within the interval nothing moves.
        h.advance(seconds: 5)
        await h.runner.pass()
        #expect(try await h.weight() == 20)
        for expected in [50, 100] {
            h.advance(seconds: 10)
            await h.runner.pass()
            #expect(try await h.weight() == expected)
        }
        h.advance(seconds: 10)
        await h.runner.pass()
        let status = try #require(try await h.status())
        #expect(status.phase == .succeeded)
        #expect(status.decisions.map(\.verb) == [.start, .advance, .advance, .complete])
        let history = try await h.store.history(HistoryQuery(kind: .virtualService, limit: 10)).items
        #expect(history.count == 4)  // the user's apply and three steps
        #expect(history.first?.actor == "canary default/reviews")
        #expect(history.first?.reason?.contains("step 3 of 3: 100% to v2") == true)
        // A finished canary stays finished.
        h.advance(seconds: 60)
        await h.runner.pass()
        #expect(try await h.status()?.decisions.count == 4)
    }

    @Test func failingTrafficRollsBackAtOnceToThePreCanaryVirtualService() async throws {
        let h = CanaryHarness()
        let original = CanaryFixtures.virtualService()
        _ = try await h.store.apply([original, CanaryFixtures.canary()])
        h.script.traffic.withLock { $0 = CanaryFixtures.traffic(rps: 20, errors: 0) }
        await h.runner.pass()
        h.advance(seconds: 10)
        await h.runner.pass()
        #expect(try await h.weight() == 50)
        h.script.traffic.withLock { $0 = CanaryFixtures.traffic(rps: 20, errors: 30) }
        h.advance(seconds: 2)  // early in the step: the failure is acted on before the interval ends
        await h.runner.pass()
        let status = try #require(try await h.status())
        #expect(status.phase == .rolledBack)
        #expect(status.decisions.last?.reason.contains("error rate 30% above maxErrorRate 1%") == true)
        let restored = try await h.store.get(original.key)
        #expect(restored?.resource.spec == original.spec)
        let record = try #require(try await h.store.history(HistoryQuery(kind: .virtualService, limit: 1)).items.first)
        #expect(record.operation == .rollback)
        #expect(record.rolledBackTo == status.baseRevision)
    }

    @Test func tooLittleTrafficDoesNotAdvanceAndSaysSo() async throws {
        let h = CanaryHarness()
        _ = try await h.store.apply([CanaryFixtures.virtualService(), CanaryFixtures.canary()])
        h.script.traffic.withLock { $0 = CanaryFixtures.traffic(rps: 1, errors: 0) }
        await h.runner.pass()
        h.advance(seconds: 4)
        await h.runner.pass()
        #expect(try await h.status()?.phase == .progressing)  // not judged before the interval ends
        h.advance(seconds: 6)
        await h.runner.pass()
        let status = try #require(try await h.status())
        #expect(status.phase == .rolledBack)
        #expect(status.decisions.last?.reason.hasPrefix("too little traffic: 10 requests to v2 over 10s") == true)
        #expect(try await h.weight() == 0)
    }

    @Test func aForeignChangePausesAndResumePromoteAndAbortFollowTheUser() async throws {
        let h = CanaryHarness()
        _ = try await h.store.apply([CanaryFixtures.virtualService(), CanaryFixtures.canary()])
        h.script.traffic.withLock { $0 = CanaryFixtures.traffic(rps: 20, errors: 0) }
        await h.runner.pass()
        _ = try await h.store.apply([CanaryFixtures.virtualService(weightV2: 70)], actor: "admin")
        await h.runner.pass()
        var status = try #require(try await h.status())
        #expect(status.phase == .paused)
        #expect(status.decisions.last?.reason.contains("was changed by admin at revision") == true)
        // Paused: time passing changes nothing.
        h.advance(seconds: 30)
        await h.runner.pass()
        #expect(try await h.weight() == 70)
        status = try await h.canaries.resume(CanaryHarness.key, actor: "admin").status
        #expect(status.phase == .progressing && status.weight == 20)
        #expect(try await h.weight() == 20)
        await #expect(throws: CanaryError.self) { try await h.canaries.resume(CanaryHarness.key, actor: "admin") }
        status = try await h.canaries.promote(CanaryHarness.key, actor: "admin").status
        #expect(status.phase == .succeeded)
        #expect(try await h.weight() == 100)
        await #expect(throws: CanaryError.self) { try await h.canaries.abort(CanaryHarness.key, actor: "admin") }
    }

    @Test func abortRestoresThePreCanaryVirtualService() async throws {
        let h = CanaryHarness()
        let original = CanaryFixtures.virtualService()
        _ = try await h.store.apply([original, CanaryFixtures.canary()])
        h.script.traffic.withLock { $0 = CanaryFixtures.traffic(rps: 20, errors: 0) }
        await h.runner.pass()
        let status = try await h.canaries.abort(CanaryHarness.key, actor: "loopback 127.0.0.1").status
        #expect(status.phase == .aborted)
        #expect(try await h.store.get(original.key)?.resource.spec == original.spec)
        #expect(status.decisions.last?.reason.hasPrefix("aborted by loopback 127.0.0.1") == true)
    }

    @Test func anUnreadablePrometheusHoldsTheStepOnce() async throws {
        let h = CanaryHarness()
        _ = try await h.store.apply([CanaryFixtures.virtualService(), CanaryFixtures.canary()])
        h.script.traffic.withLock { $0 = CanaryFixtures.traffic(rps: 20, errors: 0) }
        await h.runner.pass()
        h.script.prometheusDown.withLock { $0 = true }
        for _ in 0..<3 {
            h.advance(seconds: 10)
            await h.runner.pass()
        }
        var status = try #require(try await h.status())
        #expect(status.phase == .progressing && status.weight == 20)
        #expect(status.decisions.map(\.verb) == [.start, .hold])
        h.script.prometheusDown.withLock { $0 = false }
        await h.runner.pass()
        status = try #require(try await h.status())
        #expect(status.weight == 50)
    }

    @Test func aCanaryThatCannotRunFailsWithTheReasonAndTouchesNothing() async throws {
        let noPrometheus = CanaryHarness(observed: false)
        _ = try await noPrometheus.store.apply([CanaryFixtures.virtualService(), CanaryFixtures.canary()])
        await noPrometheus.runner.pass()
        #expect(try await noPrometheus.status()?.phase == .failed)
        #expect(try await noPrometheus.status()?.message.contains("--prometheus-url") == true)
        #expect(try await noPrometheus.weight() == 0)

        let noRoute = CanaryHarness()
        var canary = CanaryFixtures.canary()
        canary.spec = CanaryFixtures.json(#"{"host":"reviews","from":"v3","to":"v2","steps":[50],"interval":"10s"}"#)
        _ = try await noRoute.store.apply([CanaryFixtures.virtualService(), canary])
        await noRoute.runner.pass()
        #expect(try await noRoute.status()?.phase == .failed)
        #expect(try await noRoute.status()?.message.contains("has no route whose destinations are all reviews subsets v3 or v2") == true)
    }

    @Test func aNewRunnerTakesOverWhereTheStatusSays() async throws {
        let h = CanaryHarness()
        _ = try await h.store.apply([CanaryFixtures.virtualService(), CanaryFixtures.canary()])
        h.script.traffic.withLock { $0 = CanaryFixtures.traffic(rps: 20, errors: 0) }
        await h.runner.pass()
        h.advance(seconds: 10)
        await h.runner.pass()
        // Another replica (a new runner, nothing in memory) finds step 2 under way.
        let successor = CanaryRunner(canaries: h.canaries, logger: Logger(label: "successor"))
        h.advance(seconds: 3)
        await successor.pass()
        #expect(try await h.weight() == 50)
        h.advance(seconds: 7)
        await successor.pass()
        #expect(try await h.weight() == 100)
    }

    @Test func aSecondCanaryOnTheSameVirtualServiceFails() async throws {
        let h = CanaryHarness()
        var second = CanaryFixtures.canary()
        second.key.name = "reviews-again"
        _ = try await h.store.apply([CanaryFixtures.virtualService(), CanaryFixtures.canary()])
        h.script.traffic.withLock { $0 = CanaryFixtures.traffic(rps: 20, errors: 0) }
        await h.runner.pass()
        _ = try await h.store.apply([second])
        await h.runner.pass()
        let stored = try #require(try await h.store.get(second.key))
        let status = try #require(CanaryCase.read(stored)?.status)
        #expect(status.phase == .failed)
        #expect(status.message.contains("is being stepped by canary default/reviews"))
        #expect(try await h.status()?.phase == .progressing)
    }

    @Test func aDryRunWorksTheOperationOutAndWritesNothing() async throws {
        let h = CanaryHarness()
        _ = try await h.store.apply([CanaryFixtures.virtualService(), CanaryFixtures.canary()])
        h.script.traffic.withLock { $0 = CanaryFixtures.traffic(rps: 20, errors: 0) }
        await h.runner.pass()
        let revision = try await h.store.currentRevision()
        let outcome = try await h.canaries.promote(CanaryHarness.key, actor: "admin", dryRun: .init(proxy: "client-1"))
        #expect(outcome.status.phase == .succeeded && outcome.status.weight == 100)
        #expect(outcome.answer["puts"] == .number(2))
        #expect(outcome.answer["proxy"] == .string("client-1"))
        #expect(try await h.store.currentRevision() == revision)
        #expect(try await h.weight() == 20)
    }

    @Test func nothingIsJudgedBeforeTheFirstConfigurationIsBuilt() async throws {
        let h = CanaryHarness()
        _ = try await h.store.apply([CanaryFixtures.virtualService(), CanaryFixtures.canary()])
        h.script.traffic.withLock { $0 = CanaryFixtures.traffic(rps: 20, errors: 0) }
        await h.runner.pass()
        // A restart long after the step was due, before the first build: no verdict on nothing.
        h.script.ready.withLock { $0 = false }
        h.script.traffic.withLock { $0 = nil }
        h.advance(seconds: 600)
        await h.runner.pass()
        #expect(try await h.status()?.decisions.map(\.verb) == [.start])
        h.script.ready.withLock { $0 = true }
        h.script.traffic.withLock { $0 = CanaryFixtures.traffic(rps: 20, errors: 0) }
        await h.runner.pass()
        #expect(try await h.weight() == 50)
    }
}
