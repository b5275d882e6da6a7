import MeshCommon
import Testing

@testable import MeshModel

@Suite struct JSONValueTests {
    @Test func canonicalJSONIgnoresKeyOrder() throws {
        let a = try JSONValue.parse(json: #"{"b": [1, 2.5, {"y": null, "x": true}], "a": "s"}"#)
        let b = try JSONValue.parse(json: #"{"a":"s","b":[1,2.5,{"x":true,"y":null}]}"#)
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a.canonicalJSON() == #"{"a":"s","b":[1,2.5,{"x":true,"y":null}]}"#)
    }

    @Test func canonicalJSONPrintsIntegersWithoutAFractionAndEscapesStrings() {
        let value: JSONValue = ["port": 9080.0, "big": 1e300, "neg": -3, "text": "a\"b\\c\n\u{01}é"]
        #expect(value.canonicalJSON() == #"{"big":1e+300,"neg":-3,"port":9080,"text":"a\"b\\c\n\u0001é"}"#)
    }

    @Test func parseHandlesEscapesAndRejectsInvalidJSON() throws {
        #expect(try JSONValue.parse(json: #"["\u00e9\ud83d\ude00\/"]"#) == ["é😀/"])
        #expect(throws: MeshModelError.self) { try JSONValue.parse(json: #"{"a":1,"a":2}"#) }
        #expect(throws: MeshModelError.self) { try JSONValue.parse(json: "[01]") }
        #expect(throws: MeshModelError.self) { try JSONValue.parse(json: "{} {}") }
    }

    @Test func ipAndHostSyntax() {
        #expect(IPAddressSyntax.isIPAddress("127.0.0.1") && IPAddressSyntax.isIPAddress("::1"))
        #expect(IPAddressSyntax.isIPAddress("::ffff:10.0.0.1") && IPAddressSyntax.isCIDR("10.0.0.0/8"))
        #expect(!IPAddressSyntax.isIPAddress("256.0.0.1") && !IPAddressSyntax.isIPAddress("1::2::3"))
        #expect(NameRules.isHost("*.example.com") && NameRules.isHost("reviews") && !NameRules.isHost("a..b"))
    }
}
