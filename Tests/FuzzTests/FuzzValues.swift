/// The edge values mutators draw from: type and range boundaries, syntaxes that differ between
/// engines, and text that means something to YAML.
enum FuzzValues {
    /// Numbers at and past the boundaries meshd's fields have (port, UInt32, Int32, Int64, the
    /// exact-Double range), written exactly as they go into the document.
    static let boundaryNumbers: [String] = [
        "0", "-0", "1", "-1", "100", "65535", "65536", "-65536", "2147483647", "2147483648", "-2147483648",
        "-2147483649", "4294967295", "4294967296", "4294967297", "8589934590", "9007199254740991",
        "9007199254740992", "9007199254740993", "9223372036854775807", "9223372036854775808",
        "-9223372036854775808", "-9223372036854775809", "18446744073709551615", "18446744073709551616",
        "123456789012345678901234567890", "1e308", "1e309", "-1e309", "1e400", "1.5", "0.5", "-0.0", "1e-400",
        "4.294967296e9", "4294967295.5", "1E+2", "2.5e1", "0x10", "0o17", "0b101", "1_000", "+5",
        "\"4294967296\"", "\"-1\"", "\"9223372036854775808\"", "\"1e3\"", "\" 80\"", "\"0080\"", "\"\"", "\"80\"",
        ".inf", "-.inf", ".nan",
    ]

    /// Weights for the weight-sum mutator: around 2^31, 2^32 and 2^53.
    static let weights: [Int] = [
        0, 1, 50, 100, -1, 2_147_483_647, 2_147_483_648, 4_294_967_295, 4_294_967_296, 4_294_967_297,
        2_863_311_531, 9_007_199_254_740_992,
    ]

    /// Durations: Go syntax edge cases, Int64 nanosecond and protobuf Duration limits.
    static let durations: [String] = [
        "0", "0s", "1ns", "1.5s", "-1s", "1e3s", "1e400s", ".5s", "5.s", "1..5s", "s", "5", "5S", "5sec", "1h1h1h",
        "2562047h47m16.854775807s", "2562047h47m16.854775808s", "2562048h", "99999999999999999999h",
        "315576000000s", "315576000001s", "9223372036854775807ns", "9223372036854775808ns", "1µs", "1us", "1μs",
        "0.0000000001s", "1m-1s", "+1s", "1.7976931348623157e308h", String(repeating: "9", count: 400) + "s",
        "1" + String(repeating: "0", count: 30) + "ns", "", " 5s", "5s ", "1h2m3s4ms5us6ns", "1.5.5s", "NaNs", "infs",
    ]

    /// Regexes: invalid anywhere, or valid elsewhere but refused by RE2 (Envoy's and grpcio's engine).
    static let regexes: [String] = [
        "(", ")", "(a)\\1", "(?=a)", "(?!a)", "(?<=a)b", "(?<!a)b", "a**", "a{1000000}", "a{2,1}", "[z-a]", "\\",
        "[", "*", "+a", "(?P<n>a)", "(?i)abc", "\\pL", "\\C", ".*", "a{,5}", "(?>a)", "a*+", "x{99999}",
        String(repeating: "(", count: 1_000), String(repeating: "a|", count: 5_000) + "a", "\u{0}", "\\Q(\\E",
        "[[:alpha:]]", "\\b", "^$", "(?s).", "\\x{110000}",
    ]

    /// Strings: empty, huge, reserved characters, IP and CIDR edge cases, YAML syntax.
    static let strings: [String] = [
        "", " ", String(repeating: "a", count: 100_000), String(repeating: "a", count: 254), String(repeating: "a", count: 64),
        String(repeating: "a.", count: 127) + "a", "*", "*.", ".", "..", "-", "a..b", "A", "ü", "😀", "\u{0}", "\u{FEFF}",
        "\u{202E}", "a\nb", "a|b", "outbound|1|2|3", "127.0.0.1", "::1", "[::1]", "0.0.0.0/0", "300.1.1.1", "1.1.1.1/33",
        "::ffff:1.2.3.4", "1::2::3", "fe80::\u{FF11}", "\u{FF11}0.0.0.1", "10.0.0.\u{0663}", "::\u{FF21}", "unix:///tmp/x", "null", "true", "~", "&a",
        "*a", "!!int", "%TAG", "---", "...",
        "a: b", "- x", "# c", "\t", "\\", "\"", "'", "{", "[", "\u{10FFFF}", "\u{FFFD}", "%", "@", "`", "a/b/c/d",
        "us-east/zone-a/rack-1/extra", "///", "reviews", "reviews.default.svc.cluster.local", "v1", "ISTIO_MUTUAL",
        "STATIC", "DNS", "GRPC",
    ]

    /// YAML 1.1 scalars that resolve to something other than a string, plus tags and anchors.
    static let yamlScalars: [String] = [
        "1:30", "190:20:30", "153722867280912931:0", "-153722867280912931:0", "1:0:0:0:0:0:0:0:0:0:0",
        "9223372036854775807:0", "71582788:16", "190:20:30.15", "0:0", "4294967296:0",
        "!!binary aGVsbG8=", "!!timestamp 2001-12-14", "!!int \"42\"", "!!float 1", "!!str 9080", "!!null ''",
        "!!bool yes", "!custom x", "!!map {}", "!!seq []", "!<tag:yaml.org,2002:int> 7", "!!int 99999999999999999999",
        "!!int 0x", "!!float .nan", "!!int 1:30",
        "yes", "no", "on", "off", "Y", "N", "~", "Null", "NULL", ".Inf", "-.inf", ".NaN", "0x7FFFFFFF",
        "0xFFFFFFFFFFFFFFFFFF", "0o777", "0777", "0b1111", "+0", "-0", "1_000_000", "2001-12-14t21:59:43.10-05:00",
        "1e3", "1.0e+3", "1.", "'single'", "\"\\x41\"", "\"\\U0001F600\"", "&anchor 5", "*undefined", "? a", "=",
    ]

    /// Keys a document might plausibly (or implausibly) carry.
    static let fieldNames: [String] = [
        "hosts", "spec", "kind", "weight", "metadata", "<<", "route", "http", "subsets", "ports", "number", "name",
        "host", "endpoints", "labels", "", " ", "😀", "a.b", "app.kubernetes.io/name", "x-unknown", "HOSTS", "Spec",
        "\u{0}", "items", "apiVersion", "namespace", "status", "workloadSelector", "trafficPolicy", "tls", "mode",
    ]

    /// Random text of up to `maxLength` scalars, mostly ASCII.
    static func randomString(_ rng: inout SeededGenerator, maxLength: Int = 40) -> String {
        let length = rng.int(0...maxLength)
        var scalars = String.UnicodeScalarView()
        for _ in 0..<length {
            let pick = rng.int(0...9)
            let value: UInt32 =
                switch pick {
                case 0: UInt32(rng.int(0...0x1F))
                case 1: UInt32(rng.int(0x80...0x7FF))
                case 2: UInt32(rng.pick([0xFEFF, 0xFFFD, 0x202E, 0x1F600, 0x10FFFF, 0x85, 0x2028]))
                default: UInt32(rng.int(0x20...0x7E))
                }
            if let scalar = Unicode.Scalar(value) { scalars.append(scalar) }
        }
        return String(scalars)
    }
}
