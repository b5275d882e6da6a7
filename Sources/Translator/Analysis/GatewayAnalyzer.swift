import MeshModel

/// Istio's gateway findings:
/// - IST0101 for a VirtualService naming a Gateway that does not exist (`spec.gateways[i]`,
///   resolved in the VirtualService's namespace as the push resolves it);
/// - IST0132 for a VirtualService none of whose hosts a bound Gateway's servers expose to its
///   namespace (also reported when the Gateway does not exist: then it exposes nothing);
/// - IST0101 for a Gateway whose selector matches no registered workload or connected proxy:
///   no proxy would serve it;
/// - IST0101 for a server's `tls.credentialName` with no `Secret` of that name in the namespace
///   of a proxy the Gateway selects (the Gateway's own namespace when it selects none): the
///   namespace a gateway reads credentials from is its own, as in istiod.
enum GatewayAnalyzer {
    @Sendable static func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        let gateways = Dictionary(input.gateways.map { ("\($0.key.namespace)/\($0.key.name)", $0) }, uniquingKeysWith: { first, _ in first })
        for (key, _, spec) in input.virtualServices {
            for (index, reference) in spec.gateways.enumerated() where reference != RouteBinding.meshName {
                let name = RouteBinding.resolve(reference, namespace: key.namespace)
                let field = "spec.gateways[\(index)]"
                let gateway = gateways[name]
                if gateway == nil {
                    messages.append(AnalysisMessage(.referencedResourceNotFound, key, field: field, "Referenced gateway not found: \"\(reference)\""))
                }
                let exposed = gateway.map { exposes($0.spec, gatewayNamespace: $0.key.namespace, any: spec.hosts, of: key.namespace) } ?? false
                if !exposed {
                    messages.append(
                        AnalysisMessage(
                            .virtualServiceHostNotFoundInGateway, key, field: field,
                            "one or more host [\(spec.hosts.joined(separator: " "))] defined in VirtualService \(key.namespace)/\(key.name) not found in Gateway \(name)."
                        ))
                }
            }
        }
        for (key, _, spec) in input.gateways where !input.workloads.contains(where: { $0.matches(spec.selector) }) {
            messages.append(
                AnalysisMessage(
                    .referencedResourceNotFound, key, field: "spec.selector",
                    "Referenced selector not found: \"\(spec.selector.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))\""
                ))
        }
        messages += credentialFindings(input)
        return messages
    }

    private static func credentialFindings(_ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        for (key, _, spec) in input.gateways {
            let proxies = Set(input.workloads.filter { $0.matches(spec.selector) }.map(\.namespace))
            let namespaces = proxies.isEmpty ? [key.namespace] : proxies.sorted()
            for (index, server) in spec.servers.enumerated() {
                guard let credential = server.tls?.credentialName, let name = CredentialIndex.storedName(credential) else { continue }
                let missing = namespaces.filter { input.context.credentials.entry(namespace: $0, name: name) == nil }
                guard !missing.isEmpty else { continue }
                messages.append(
                    AnalysisMessage(
                        .referencedResourceNotFound, key, field: "spec.servers[\(index)].tls.credentialName",
                        "Referenced credential not found: \"\(credential)\" (no Secret \(name) in namespace \(missing.joined(separator: ", ")))"))
            }
        }
        return messages
    }

    /// Whether some server host that admits VirtualServices of `namespace` overlaps some host.
    private static func exposes(_ gateway: Gateway, gatewayNamespace: String, any hosts: [String], of namespace: String) -> Bool {
        let routeHosts = hosts.map { HostName.resolve($0, namespace: namespace).lowercased() }
        return gateway.servers.flatMap(\.hosts).contains { host in
            let admits =
                switch host.namespace {
                case .any: true
                case .current: namespace == gatewayNamespace
                case .named(let name): namespace == name
                }
            let name = host.dnsName.lowercased()
            return admits && routeHosts.contains { GatewayHosts.isSubset($0, of: name) || GatewayHosts.isSubset(name, of: $0) }
        }
    }
}
