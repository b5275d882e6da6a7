import MeshModel

/// Finds references to things not (yet) defined: a subset no DestinationRule has, a host not in
/// the registry. Such config is accepted — apply order must not matter, as in Istio — but each
/// dangling reference becomes a warning naming the resource and field.
///
/// A VirtualService's destinations are resolved as a proxy in its own namespace (without a
/// Sidecar) would resolve them: the services exported there and the DestinationRules the
/// namespace-aware lookup picks for it.
enum ReferenceChecker {
    static func warnings(in push: PushContext) -> [ConfigWarning] {
        var warnings: [ConfigWarning] = []
        var seen: Set<ConfigKey> = []
        let entries = push.virtualServices.values.joined().filter { seen.insert($0.key).inserted }.sorted { $0.key < $1.key }
        for entry in entries {
            let lookup = NamespaceLookup(push: push, namespace: entry.key.namespace)
            func check(_ destination: Destination, port: UInt32?, at path: String) {
                let result = DestinationResolver.cluster(for: destination, namespace: entry.key.namespace, listenerPort: port, in: lookup)
                if case .failure(let failure) = result {
                    let detail = failure.detail
                    warnings.append(.init(key: entry.key, field: "\(path).\(detail.field)", message: detail.message))
                }
            }
            for (r, rule) in entry.spec.http.enumerated() {
                let port = rule.match.compactMap(\.port).first
                for (d, destination) in rule.route.enumerated() {
                    check(destination.destination, port: port, at: "spec.http[\(r)].route[\(d)].destination")
                }
                for mirror in rule.mirrors { check(mirror.destination, port: port, at: "spec.http[\(r)].\(mirror.field)") }
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
                warnings.append(.init(key: entry.key, field: "spec.host", message: "host \(host) is not in the registry"))
            }
        }
        return warnings
    }
}
