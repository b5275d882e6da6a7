/// A structural check of a CEL expression (Telemetry's `accessLogging.filter.expression`):
/// string literals terminated, brackets balanced and properly nested, no dangling operator at
/// either end. istiod parses the whole grammar; meshd catches the mistakes a hand-typed
/// expression makes most (a missing quote or parenthesis), and Envoy's CEL filter refuses the
/// rest when it loads the listener (docs/telemetry.md says so).
enum CELSyntax {
    /// Why `expression` cannot be CEL, or nil when it passes the check.
    static func problem(in expression: String) -> String? {
        var stack: [Character] = []
        var quote: Character?
        var escaped = false
        let pairs: [Character: Character] = [")": "(", "]": "[", "}": "{"]
        for character in expression {
            if let open = quote {
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == open {
                    quote = nil
                }
                continue
            }
            switch character {
            case "\"", "'": quote = character
            case "(", "[", "{": stack.append(character)
            case ")", "]", "}":
                guard let last = stack.popLast(), last == pairs[character] else { return "unbalanced \"\(character)\"" }
            default: break
            }
        }
        if quote != nil { return "unterminated string literal" }
        if let open = stack.last { return "unclosed \"\(open)\"" }
        let significant = expression.filter { !$0.isWhitespace }
        if significant.isEmpty { return "it is empty" }
        let binary: Set<Character> = ["&", "|", "=", "<", ">", "+", "*", "/", "%", "?", ":", ",", "."]
        if let last = significant.last, binary.contains(last) { return "it ends with \"\(last)\"" }
        if let first = significant.first, binary.subtracting(["."]).contains(first) { return "it starts with \"\(first)\"" }
        return nil
    }
}
