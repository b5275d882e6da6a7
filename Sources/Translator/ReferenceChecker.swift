import MeshModel

/// Finds references to things not (yet) defined: a subset no DestinationRule has, a host not in
/// the registry. Such config is accepted — apply order must not matter, as in Istio — but each
/// dangling reference becomes a warning naming the resource and field, and an analysis message
/// (`DestinationReferenceAnalyzer`) with Istio's code.
///
/// A VirtualService's destinations are resolved as a proxy in its own namespace (without a
/// Sidecar) would resolve them: the services exported there and the DestinationRules the
/// namespace-aware lookup picks for it.
enum ReferenceChecker {
    /// One dangling reference.
    struct Finding: Sendable, Hashable {
        /// What is missing.
        enum Problem: Sendable, Hashable {
            /// A VirtualService destination (`mirror`: a mirror's) that names no cluster.
            case destination(Destination, DestinationResolver.Failure, mirror: Bool)
            /// A DestinationRule whose host is not in the registry.
            case destinationRuleHost(String)
        }

        /// The resource holding the reference.
        var key: ConfigKey
        /// The field path of the missing thing, Istio style.
        var field: String
        var problem: Problem

        /// The apply-time warning for the finding.
        var warning: ConfigWarning {
            switch problem {
            case .destination(_, let failure, _):
                ConfigWarning(key: key, field: field, message: failure.detail.message)
            case .destinationRuleHost(let host):
                ConfigWarning(key: key, field: field, message: "host \(host) is not in the registry")
            }
        }
    }

    static func warnings(in push: PushContext) -> [ConfigWarning] {
        findings(in: push).map(\.warning)
    }

    /// Every dangling reference of the context's VirtualServices and DestinationRules, sorted by resource.
    static func findings(in push: PushContext) -> [Finding] {
        var findings: [Finding] = []
        var seen: Set<ConfigKey> = []
        let entries = (push.virtualServices.values.joined() + push.gatewayVirtualServices)
            .filter { seen.insert($0.key).inserted }.sorted { $0.key < $1.key }
        for entry in entries {
            let lookup = NamespaceLookup(push: push, namespace: entry.key.namespace)
            func check(_ destination: Destination, port: UInt32?, at path: String, mirror: Bool = false) {
                let result = DestinationResolver.cluster(for: destination, namespace: entry.key.namespace, listenerPort: port, in: lookup)
                if case .failure(let failure) = result {
                    findings.append(
                        .init(
                            key: entry.key, field: "\(path).\(failure.detail.field)",
                            problem: .destination(destination, failure, mirror: mirror)))
                }
            }
            for (r, rule) in entry.spec.http.enumerated() {
                let port = rule.match.compactMap(\.port).first
                for (d, destination) in rule.route.enumerated() {
                    check(destination.destination, port: port, at: "spec.http[\(r)].route[\(d)].destination")
                }
                for mirror in rule.mirrors {
                    check(mirror.destination, port: port, at: "spec.http[\(r)].\(mirror.field)", mirror: true)
                }
            }
            for (r, rule) in entry.spec.tcp.enumerated() {
                for (d, destination) in rule.route.enumerated() {
                    check(destination.destination, port: rule.match.compactMap(\.port).first, at: "spec.tcp[\(r)].route[\(d)].destination")
                }
            }
            for (r, rule) in entry.spec.tls.enumerated() {
                for (d, destination) in rule.route.enumerated() {
                    check(destination.destination, port: rule.match.compactMap(\.connection.port).first, at: "spec.tls[\(r)].route[\(d)].destination")
                }
            }
        }
        for entry in push.destinationRules.values.joined().sorted(by: { $0.key < $1.key }) {
            let host = HostName.resolve(entry.spec.host, namespace: entry.key.namespace)
            if push.registry.service(host) == nil {
                findings.append(.init(key: entry.key, field: "spec.host", problem: .destinationRuleHost(host)))
            }
        }
        return findings
    }
}
