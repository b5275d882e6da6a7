import Foundation
import MeshModel
import Testing

@testable import MeshInstall

/// kubectl's columns per kind, read from the embedded CRDs, and its AGE arithmetic.
@Suite struct PrinterColumnsTests {
    @Test func everyKindHasKubectlsColumns() {
        func names(_ kind: ConfigKind) -> [String] { PrinterColumn.of(kind).map(\.name) }
        #expect(names(.virtualService) == ["Gateways", "Hosts", "Age"])
        #expect(names(.destinationRule) == ["Host", "Age"])
        #expect(names(.serviceEntry) == ["Hosts", "Location", "Resolution", "Age"])
        #expect(names(.workloadEntry) == ["Age", "Address"])
        #expect(names(.peerAuthentication) == ["Mode", "Age"])
        #expect(names(.authorizationPolicy) == ["Action", "Age"])
        #expect(names(.gateway).isEmpty && names(.sidecar).isEmpty && names(.secret).isEmpty)
    }

    @Test func cellsAreWhatKubectlPrints() throws {
        let resource = try JSONValue.parse(
            json:
                #"{"metadata": {"creationTimestamp": "2026-12-07T10:00:00Z"}, "spec": {"hosts": ["reviews", "ratings"], "mtls": {"mode": "STRICT"}}}"#
        )
        let now = try Date("2026-12-07T10:03:05Z", strategy: .iso8601)
        #expect(PrinterColumn(name: "Hosts", type: "string", jsonPath: ".spec.hosts").value(in: resource, now: now) == #"["reviews","ratings"]"#)
        #expect(PrinterColumn(name: "Mode", type: "string", jsonPath: ".spec.mtls.mode").value(in: resource, now: now) == "STRICT")
        #expect(PrinterColumn(name: "Host", type: "string", jsonPath: ".spec.host").value(in: resource, now: now) == "")
        #expect(PrinterColumn(name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp").value(in: resource, now: now) == "3m5s")
        #expect(PrinterColumn(name: "Age", type: "date", jsonPath: ".metadata.missing").value(in: resource, now: now) == "<unknown>")
    }

    static let ages: [(Double, String)] = [
        (0, "0s"), (119, "119s"), (120, "2m"), (185, "3m5s"), (600, "10m"), (10_799, "179m"), (10_800, "3h"),
        (11_400, "3h10m"), (28_800, "8h"), (169_200, "47h"), (172_800, "2d"), (180_000, "2d2h"),
        (691_200, "8d"), (62_985_600, "729d"), (63_072_000, "2y"), (63_158_400, "2y1d"), (283_824_000, "9y"), (-5, "0s"),
    ]

    @Test(arguments: ages)
    func agesFollowKubectl(_ seconds: Double, _ expected: String) {
        #expect(PrinterColumn.age(seconds) == expected)
    }
}
