import MeshCommon
import MeshModel
import Testing

/// The values meshd, meshctl and mesh-agent share (`MeshCommon`): one duration grammar, one
/// IP-address parser.
@Suite struct SharedValuesTests {
    @Test(arguments: [("1h30m", 5_400.0), ("250ms", 0.25), ("1.5s", 1.5), ("0", 0), ("2h", 7_200)])
    func goDurations(_ text: String, _ seconds: Double) throws {
        let parsed = try #require(DurationSyntax.parse(text))
        #expect(parsed == .milliseconds(Int64(seconds * 1000)))
        #expect(IstioDuration.parse(text) == parsed, "Istio's fields read the same grammar")
    }

    @Test func daysAreForOperatorInputOnly() {
        #expect(DurationSyntax.parse("7d", units: .withDays) == .seconds(7 * 86_400))
        #expect(DurationSyntax.parse("1d12h", units: .withDays) == .seconds(36 * 3_600))
        #expect(DurationSyntax.parse("7d") == nil, "Istio's schema has no days")
        #expect(IstioDuration.parse("1d") == nil)
    }

    @Test(arguments: ["", "1", "h", "1x", "-1s", "1.2.3s", "99999999999999999h", "1s ", "1 s"])
    func malformedDurationsAreRefused(_ text: String) {
        #expect(DurationSyntax.parse(text, units: .withDays) == nil)
    }

    @Test func wholeSeconds() {
        #expect(DurationSyntax.wholeSeconds(.seconds(90)) == 90)
        #expect(DurationSyntax.wholeSeconds(.milliseconds(1500)) == nil)
        #expect(DurationSyntax.wholeSeconds(.zero) == nil)
    }

    @Test func addressBytes() {
        #expect(IPAddressSyntax.bytes("10.0.0.1") == [10, 0, 0, 1])
        #expect(IPAddressSyntax.bytes("::1") == Array(repeating: 0, count: 15) + [1])
        #expect(IPAddressSyntax.bytes("::ffff:10.0.0.1") == Array(repeating: 0, count: 10) + [255, 255, 10, 0, 0, 1])
        for text in ["010.0.0.1", "127.1", "1.2.3.4.5", "example.com", "fe80::1%eth0", ""] {
            #expect(IPAddressSyntax.bytes(text) == nil, "\(text)")
        }
    }

    @Test func loopback() {
        #expect(IPAddressSyntax.isLoopback("127.0.0.1") && IPAddressSyntax.isLoopback("127.3.2.1") && IPAddressSyntax.isLoopback("::1"))
        #expect(!IPAddressSyntax.isLoopback("128.0.0.1") && !IPAddressSyntax.isLoopback("::2") && !IPAddressSyntax.isLoopback("localhost"))
    }
}
