/// Pieces of PromQL text built from values meshd did not choose (host names, label values).
enum PromQL {
    /// `text` as a double-quoted PromQL string literal (Go's escapes).
    static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// The Prometheus label name a workload label key becomes under Kubernetes service discovery
    /// with `labelmap` (`__meta_kubernetes_pod_label_(.+)`): every character outside
    /// `[a-zA-Z0-9_]` becomes `_`, as Prometheus sanitizes pod label names.
    static func labelName(_ key: String) -> String {
        var out = String(key.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") ? $0 : "_" })
        if out.first?.isNumber == true { out = "_" + out }
        return out
    }

    /// `{a="x",b!="y"}` from matchers already written (`name op literal`).
    static func selector(_ matchers: [String]) -> String {
        "{" + matchers.joined(separator: ",") + "}"
    }

    /// `label_replace(expr, "label", "value", "", "")`: sets a constant label on every sample.
    static func withLabel(_ expression: String, _ label: String, _ value: String) -> String {
        "label_replace(\(expression), \(string(label)), \(string(value)), \"\", \"\")"
    }
}
