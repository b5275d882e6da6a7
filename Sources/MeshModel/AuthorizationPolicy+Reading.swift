import MeshCommon

/// Reading and validating an AuthorizationPolicy spec with Istio's `ValidateAuthorizationPolicy`
/// rules (pkg/config/validation): a present `from`/`to` list must not be empty, each entry's
/// `source`/`operation` must set something, no value is empty, IP blocks are IPs or CIDRs,
/// ports are 1–65535, `when` keys are Istio attributes with `values` or `notValues`.
extension AuthorizationPolicy {
    init(reading spec: FieldReader) throws(MeshModelError) {
        selector = try WorkloadSelectorReading.matchLabels(spec["selector"])
        if !spec["selector"].isAbsent, !spec["targetRef"].isAbsent || !spec["targetRefs"].isAbsent {
            throw spec["selector"].error("selector and targetRef(s) are mutually exclusive")
        }
        action = try spec["action"].oneOf(Action.allCases.map(\.rawValue), what: "action").flatMap(Action.init(rawValue:)) ?? .allow
        provider = nil
        if action == .custom {
            guard try spec["provider"].object() != nil else { throw spec["provider"].error("a CUSTOM policy must name its provider") }
            provider = try spec["provider"]["name"].requiredString()
            if try spec["rules"].list().isEmpty {
                throw spec["rules"].error("a CUSTOM policy must have rules (a rule `{}` sends every request to the provider)")
            }
        } else if !spec["provider"].isAbsent {
            throw spec["provider"].error("provider is only allowed with the CUSTOM action")
        }
        var rules: [Rule] = []
        for reader in try spec["rules"].list() {
            guard try reader.object() != nil else { throw reader.error("a rule must not be null") }
            let rule = try Rule(reading: reader)
            if action == .custom { try Self.checkCustom(rule, reader: reader) }
            rules.append(rule)
        }
        self.rules = rules
    }

    /// istiod's rule: the external authorizer runs before JWT verification and sees no peer
    /// identity in its match, so a CUSTOM rule may not name identities or JWT attributes.
    private static func checkCustom(_ rule: Rule, reader: FieldReader) throws(MeshModelError) {
        for (index, source) in rule.from.enumerated() {
            let named: [(String, [String])] = [
                ("principals", source.principals), ("notPrincipals", source.notPrincipals),
                ("requestPrincipals", source.requestPrincipals), ("notRequestPrincipals", source.notRequestPrincipals),
                ("namespaces", source.namespaces), ("notNamespaces", source.notNamespaces),
                ("serviceAccounts", source.serviceAccounts), ("notServiceAccounts", source.notServiceAccounts),
                ("trustDomains", source.trustDomains), ("notTrustDomains", source.notTrustDomains),
            ]
            if let field = named.first(where: { !$0.1.isEmpty })?.0 {
                throw try reader["from"].list()[index]["source"][field].error("\(field) is not supported with the CUSTOM action")
            }
        }
        for (index, condition) in rule.when.enumerated()
        where condition.key.hasPrefix("source.namespace") || condition.key.hasPrefix("source.serviceAccount")
            || condition.key.hasPrefix("source.principal") || condition.key.hasPrefix("source.trustDomain") || needsJWT(conditionKey: condition.key)
        {
            throw try reader["when"].list()[index]["key"].error("\(condition.key) is not supported with the CUSTOM action")
        }
    }
}

extension AuthorizationPolicy.Rule {
    init(reading rule: FieldReader) throws(MeshModelError) {
        from = []
        if !rule["from"].isAbsent {
            let entries = try rule["from"].list()
            if entries.isEmpty { throw rule["from"].error("`from` must not be empty (leave it out to match every source)") }
            for entry in entries { from.append(try AuthorizationPolicy.Source(reading: entry["source"])) }
        }
        to = []
        if !rule["to"].isAbsent {
            let entries = try rule["to"].list()
            if entries.isEmpty { throw rule["to"].error("`to` must not be empty (leave it out to match every operation)") }
            for entry in entries { to.append(try AuthorizationPolicy.Operation(reading: entry["operation"])) }
        }
        when = []
        for entry in try rule["when"].list() { when.append(try AuthorizationPolicy.Condition(reading: entry)) }
    }
}

/// A list of non-empty strings, each with its reader (for errors naming the element).
private func entries(_ reader: FieldReader) throws(MeshModelError) -> [(value: String, reader: FieldReader)] {
    var result: [(value: String, reader: FieldReader)] = []
    for element in try reader.list() {
        guard let value = try element.string() else { throw element.error("expected a string") }
        if value.isEmpty { throw element.error("empty value not allowed") }
        result.append((value, element))
    }
    return result
}

/// A list of non-empty strings.
private func values(_ reader: FieldReader) throws(MeshModelError) -> [String] {
    try entries(reader).map(\.value)
}

/// A list of IPs or CIDR blocks.
private func readIPBlocks(_ reader: FieldReader) throws(MeshModelError) -> [String] {
    let list = try entries(reader)
    for (block, element) in list where !IPAddressSyntax.isIPAddress(block) && !IPAddressSyntax.isCIDR(block) {
        throw element.error("\"\(block)\" is not an IP address or CIDR block")
    }
    return list.map(\.value)
}

/// A list of ports written as strings, each 1–65535.
private func readPorts(_ reader: FieldReader) throws(MeshModelError) -> [UInt32] {
    var result: [UInt32] = []
    for (text, element) in try entries(reader) {
        guard let port = UInt32(text), (1...65535).contains(port) else {
            throw element.error("port must be a number in 1-65535, got \"\(text)\"")
        }
        result.append(port)
    }
    return result
}

extension AuthorizationPolicy.Source {
    init(reading source: FieldReader) throws(MeshModelError) {
        guard try source.object() != nil else { throw source.error("`from.source` must be set") }
        self.init()
        principals = try values(source["principals"])
        notPrincipals = try values(source["notPrincipals"])
        requestPrincipals = try values(source["requestPrincipals"])
        notRequestPrincipals = try values(source["notRequestPrincipals"])
        namespaces = try values(source["namespaces"])
        notNamespaces = try values(source["notNamespaces"])
        serviceAccounts = try values(source["serviceAccounts"])
        notServiceAccounts = try values(source["notServiceAccounts"])
        ipBlocks = try readIPBlocks(source["ipBlocks"])
        notIpBlocks = try readIPBlocks(source["notIpBlocks"])
        remoteIpBlocks = try readIPBlocks(source["remoteIpBlocks"])
        notRemoteIpBlocks = try readIPBlocks(source["notRemoteIpBlocks"])
        trustDomains = try values(source["trustDomains"])
        notTrustDomains = try values(source["notTrustDomains"])
        if self == AuthorizationPolicy.Source() { throw source.error("`from.source` must not be empty") }
        if !(serviceAccounts.isEmpty && notServiceAccounts.isEmpty),
            !(principals.isEmpty && notPrincipals.isEmpty && namespaces.isEmpty && notNamespaces.isEmpty)
        {
            throw source["serviceAccounts"].error("serviceAccounts cannot be set with principals or namespaces")
        }
        for (account, element) in try entries(source["serviceAccounts"]) + entries(source["notServiceAccounts"])
        where account.split(separator: "/", omittingEmptySubsequences: false).count != 2 || account.hasPrefix("/") || account.hasSuffix("/") {
            throw element.error("a service account is NAMESPACE/NAME, got \"\(account)\"")
        }
    }
}

extension AuthorizationPolicy.Operation {
    init(reading operation: FieldReader) throws(MeshModelError) {
        guard try operation.object() != nil else { throw operation.error("`to.operation` must be set") }
        self.init()
        hosts = try values(operation["hosts"])
        notHosts = try values(operation["notHosts"])
        ports = try readPorts(operation["ports"])
        notPorts = try readPorts(operation["notPorts"])
        methods = try values(operation["methods"])
        notMethods = try values(operation["notMethods"])
        for field in ["paths", "notPaths"] {
            for (path, element) in try entries(operation[field]) {
                if let problem = PathTemplate.problem(in: path) { throw element.error(problem) }
            }
        }
        paths = try values(operation["paths"])
        notPaths = try values(operation["notPaths"])
        if self == AuthorizationPolicy.Operation() { throw operation.error("`to.operation` must not be empty") }
    }
}

extension AuthorizationPolicy.Operation {
    /// Whether the operation names request attributes (hosts, methods, paths), which a TCP
    /// connection does not have.
    public var needsRequest: Bool { requestOnlyField != nil }

    /// The first of its fields that names a request attribute, nil when none does.
    var requestOnlyField: String? {
        let named: [(String, [String])] = [
            ("hosts", hosts), ("notHosts", notHosts), ("methods", methods), ("notMethods", notMethods), ("paths", paths), ("notPaths", notPaths),
        ]
        return named.first { !$0.1.isEmpty }?.0
    }
}

extension AuthorizationPolicy.Condition {
    init(reading condition: FieldReader) throws(MeshModelError) {
        guard try condition.object() != nil else { throw condition.error("a condition must not be null") }
        key = try condition["key"].requiredString()
        let valueEntries = try entries(condition["values"])
        let notValueEntries = try entries(condition["notValues"])
        values = valueEntries.map(\.value)
        notValues = notValueEntries.map(\.value)
        if values.isEmpty && notValues.isEmpty {
            throw condition.error("at least one of `values` or `notValues` must be set for key \(key)")
        }
        guard Self.isKnown(key) else { throw condition["key"].error("unknown attribute \"\(key)\"") }
        for (value, reader) in valueEntries + notValueEntries {
            switch key {
            case "source.ip", "remote.ip", "destination.ip":
                if !IPAddressSyntax.isIPAddress(value) && !IPAddressSyntax.isCIDR(value) {
                    throw reader.error("\"\(value)\" is not an IP address or CIDR block")
                }
            case "destination.port":
                guard let port = UInt32(value), (1...65535).contains(port) else {
                    throw reader.error("port must be a number in 1-65535, got \"\(value)\"")
                }
            default:
                break
            }
        }
    }

    /// Whether `key` is an Istio attribute: a known key, or `request.headers[NAME]` /
    /// `request.auth.claims[NAME]` with a non-empty name.
    static func isKnown(_ key: String) -> Bool {
        if AuthorizationPolicy.conditionKeys.contains(key) { return true }
        for prefix in ["request.headers[", "request.auth.claims["] where key.hasPrefix(prefix) && key.hasSuffix("]") {
            return key.count > prefix.count + 1
        }
        return false
    }

    /// The header a `request.headers[NAME]` key names, else nil.
    public var headerName: String? {
        guard key.hasPrefix("request.headers["), key.hasSuffix("]") else { return nil }
        return String(key.dropFirst("request.headers[".count).dropLast())
    }
}
