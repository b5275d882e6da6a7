/// The name syntaxes Kubernetes and Istio require: DNS-1123 labels and subdomains, host names.
public enum NameRules {
    /// A lowercase DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
    /// Namespaces and subset names must be one.
    public static func isDNS1123Label(_ s: String) -> Bool {
        isLabel(s, allowUppercase: false)
    }

    /// A lowercase DNS-1123 subdomain: labels joined by dots, at most 253 characters.
    /// Resource names must be one.
    public static func isDNS1123Subdomain(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 253 else { return false }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNS1123Label(String($0)) }
    }

    /// A host as Istio accepts it in `hosts` fields (its `ValidateWildcardDomain`): `*`, or
    /// dot-separated labels where only the first may be a wildcard (`*`, `*.example.com`,
    /// `*example.com`). Case is allowed, as Istio allows it; at most 255 characters.
    public static func isHost(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 255 else { return false }
        var labels = s.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let first = labels.removeFirst()
        let firstValid =
            first == "*" || isLabel(first, allowUppercase: true)
            || (first.hasPrefix("*") && isLabel(String(first.dropFirst()), allowUppercase: true))
        return firstValid && labels.allSatisfy { isLabel($0, allowUppercase: true) }
    }

    /// A short explanation for error messages.
    public static let labelRule = "must be a lowercase DNS-1123 label (letters, digits and '-', at most 63 characters)"
    /// A short explanation for error messages.
    public static let subdomainRule =
        "must be a lowercase DNS-1123 subdomain (letters, digits, '-' and '.', at most 253 characters)"

    private static func isLabel(_ s: String, allowUppercase: Bool) -> Bool {
        let bytes = Array(s.utf8)
        guard let first = bytes.first, let last = bytes.last, bytes.count <= 63 else { return false }
        func alphanumeric(_ b: UInt8) -> Bool {
            (0x61...0x7A).contains(b) || (0x30...0x39).contains(b) || (allowUppercase && (0x41...0x5A).contains(b))
        }
        return alphanumeric(first) && alphanumeric(last) && bytes.allSatisfy { alphanumeric($0) || $0 == 0x2D }
    }
}
