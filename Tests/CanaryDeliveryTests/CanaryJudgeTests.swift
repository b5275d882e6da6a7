import MeshModel
import Testing

@testable import CanaryDelivery
@testable import ObservedTraffic

struct CanaryJudgeTests {
    func spec(_ analysis: CanarySpec.Analysis) -> CanarySpec {
        CanarySpec(host: "reviews", from: "v1", to: "v2", steps: [50, 100], interval: .seconds(10), analysis: analysis)
    }

    @Test func enoughHealthyRequestsAreWithinBounds() {
        let verdict = CanaryJudge.judge(CanaryFixtures.traffic(rps: 20, errors: 0.5), spec: spec(.init()), windowSeconds: 10)
        #expect(verdict.outcome == .withinBounds)
        #expect(verdict.observation?.requests == 200)
        #expect(verdict.reason.contains("200 requests, client"))
    }

    @Test func errorsAboveTheBoundFailEvenBeforeTheInterval() {
        let verdict = CanaryJudge.judge(CanaryFixtures.traffic(rps: 20, errors: 30), spec: spec(.init()), windowSeconds: 10)
        #expect(verdict.outcome == .outOfBounds)
        #expect(verdict.reason.contains("error rate 30% above maxErrorRate 1%"))
    }

    @Test func latencyIsJudgedOnlyWhenBounded() {
        let slow = CanaryFixtures.traffic(rps: 20, errors: 0, p99: 800)
        #expect(CanaryJudge.judge(slow, spec: spec(.init()), windowSeconds: 10).outcome == .withinBounds)
        let bounded = CanaryJudge.judge(slow, spec: spec(.init(maxP99: .milliseconds(500))), windowSeconds: 10)
        #expect(bounded.outcome == .outOfBounds)
        #expect(bounded.reason.contains("p99 800ms above maxP99 500ms"))
    }

    @Test func tooFewRequestsAreNotAVerdictOnHealth() {
        let verdict = CanaryJudge.judge(CanaryFixtures.traffic(rps: 1, errors: 100), spec: spec(.init(minRequests: 100)), windowSeconds: 10)
        #expect(verdict.outcome == .tooFewRequests)
        #expect(verdict.reason == "too little traffic: 10 requests to v2 over 10s (client), fewer than minRequests 100")
        let nothing = CanaryJudge.judge(nil, spec: spec(.init()), windowSeconds: 10)
        #expect(nothing.outcome == .tooFewRequests)
        #expect(nothing.reason.contains("no requests to v2 seen over 10s by any source"))
        #expect(CanaryJudge.judge(nil, spec: spec(.init(minRequests: 0)), windowSeconds: 10).outcome == .withinBounds)
    }

    @Test func aChosenSourceIsTheOnlyOneRead() {
        let envoy = CanaryFixtures.traffic(rps: 20, errors: 30, source: .envoy)
        #expect(CanaryJudge.judge(envoy, spec: spec(.init(source: .any)), windowSeconds: 10).outcome == .outOfBounds)
        #expect(CanaryJudge.judge(envoy, spec: spec(.init(source: .client)), windowSeconds: 10).outcome == .tooFewRequests)
    }
}
