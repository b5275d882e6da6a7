import CRE2Shim

/// Regular expressions checked by RE2, the engine Envoy's `safe_regex` and gRPC's xDS client
/// compile them with, so a pattern meshd accepts is one every proxy accepts.
///
/// RE2 has no backreferences (`(a)\1`) or lookaround (`(?=a)`); Foundation's engine has both,
/// which is why validation cannot use it.
public enum RegexSyntax {
    /// The largest compiled program meshd accepts. Envoy refuses programs above its runtime
    /// `re2.max_program_size.error_level`; meshd keeps patterns within a bound a proxy can
    /// afford to evaluate on every request.
    public static let maxProgramSize = 32_768

    /// An RE2 expression matching `text` literally (its metacharacters escaped).
    public static func literal(_ text: String) -> String {
        var out = ""
        for character in text {
            if "\\.+*?()|[]{}^$".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }

    /// Why RE2 refuses `pattern`, or `nil` when it compiles within `maxProgramSize`.
    /// Thread-safe.
    public static func problem(in pattern: String) -> String? {
        let bytes = Array(pattern.utf8)
        // NUL bytes are legal inside a Swift string but not inside a regex proxies receive.
        if bytes.contains(0) { return "must not contain NUL characters" }
        let capacity = 256
        var error = [CChar](repeating: 0, count: capacity)
        var size: Int32 = 0
        let accepted = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                meshd_re2_check(chars.baseAddress, chars.count, &error, capacity, &size)
            }
        }
        guard accepted == 1 else {
            let text = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return "invalid RE2 regex: \(text)"
        }
        if Int(size) > maxProgramSize {
            return "regex too complex (RE2 program size \(size), at most \(maxProgramSize))"
        }
        return nil
    }

    /// Whether `text` matches `pattern` as a whole, by RE2 (Envoy's `safe_regex` semantics);
    /// nil when the pattern does not compile. For tests that evaluate routes as a proxy would.
    public static func fullMatch(_ pattern: String, _ text: String) -> Bool? {
        let patternBytes = Array(pattern.utf8)
        let textBytes = Array(text.utf8)
        let result = patternBytes.withUnsafeBufferPointer { p in
            textBytes.withUnsafeBufferPointer { t in
                p.withMemoryRebound(to: CChar.self) { pc in
                    t.withMemoryRebound(to: CChar.self) { tc in
                        meshd_re2_full_match(pc.baseAddress, pc.count, tc.baseAddress, tc.count)
                    }
                }
            }
        }
        return result < 0 ? nil : result == 1
    }
}
