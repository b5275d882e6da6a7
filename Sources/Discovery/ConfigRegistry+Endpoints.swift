import MeshModel

extension ConfigRegistry {
    /// `previous` with the endpoints recomputed for the services whose WorkloadEntry selection a
    /// change touched: what an endpoint-only change needs, without rebuilding the registry.
    ///
    /// - Parameters:
    ///   - previous: the registry before the change.
    ///   - changed: each changed WorkloadEntry's labels before and after (nil when it did not
    ///     exist then), so a workload that moved out of a selector is caught as well as one
    ///     that moved in.
    ///   - serviceEntries: every valid ServiceEntry in the changed workloads' namespaces, by key
    ///     (a selector only selects in its own namespace; only selector-based entries matter).
    ///   - workloads: every valid WorkloadEntry that a touched entry's selector selects (more is
    ///     harmless: each entry filters by its own selector and namespace).
    /// - Returns: the new registry and the hosts whose endpoints were recomputed.
    public static func updatingEndpoints(
        _ previous: RegistrySnapshot,
        changed: [ConfigKey: (before: [String: String]?, after: [String: String]?)],
        serviceEntries: [ConfigKey: ServiceEntry],
        workloads: [Workload]
    ) -> (registry: RegistrySnapshot, hosts: Set<String>) {
        let touched = touchedEntries(changed: changed, serviceEntries: serviceEntries)
        var endpoints = previous.endpoints
        var overflows = previous.weightOverflows
        var hosts: Set<String> = []
        for (key, entry) in touched {
            guard let selector = entry.workloadSelector else { continue }
            let members =
                workloads
                .filter { $0.key.namespace == key.namespace && labels($0.spec.labels, match: selector) }
                .sorted { $0.key < $1.key }
            let overflow = weightOverflow(service: key, members: members)
            // Only the hosts this entry owns (the oldest entry wins a host; that did not change).
            for service in previous.services.values where service.source == key {
                endpoints[service.host] = endpointsByPort(members, ports: service.ports)
                overflows[service.host] = overflow
                hosts.insert(service.host)
            }
        }
        return (previous.replacing(endpoints: endpoints, weightOverflows: overflows), hosts)
    }

    /// The selector-based entries whose selection `changed` touches: a changed workload's labels
    /// before or after the change match the entry's selector, in its namespace.
    static func touchedEntries(
        changed: [ConfigKey: (before: [String: String]?, after: [String: String]?)], serviceEntries: [ConfigKey: ServiceEntry]
    ) -> [ConfigKey: ServiceEntry] {
        serviceEntries.filter { key, entry in
            guard entry.endpoints.isEmpty, let selector = entry.workloadSelector else { return false }
            return changed.contains { workload, labels in
                workload.namespace == key.namespace
                    && [labels.before, labels.after].contains { $0.map { Self.labels($0, match: selector) } ?? false }
            }
        }
    }

    /// The (namespace, selector) pairs of the entries `changed` touches: a workload that none of
    /// them selects cannot change any endpoint list.
    public static func touchedSelectors(
        changed: [ConfigKey: (before: [String: String]?, after: [String: String]?)], serviceEntries: [ConfigKey: ServiceEntry]
    ) -> [(namespace: String, labels: [String: String])] {
        touchedEntries(changed: changed, serviceEntries: serviceEntries).compactMap { key, entry in
            entry.workloadSelector.map { (key.namespace, $0) }
        }
    }
}
