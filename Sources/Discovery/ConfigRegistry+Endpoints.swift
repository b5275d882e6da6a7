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
            for service in previous.services.values where service.source == RegistrySource(key) {
                endpoints[service.host] = endpointsByPort(members, ports: service.ports)
                overflows[service.host] = overflow
                hosts.insert(service.host)
            }
        }
        return (previous.replacing(endpoints: endpoints, weightOverflows: overflows, hosts: hosts), hosts)
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

extension ConfigRegistry {
    /// `previous` with the endpoints of the platform services `hosts` taken from `platform`: an
    /// endpoint-only platform change (a pod turning ready, a slice scaled) without rebuilding the
    /// registry. The WorkloadEntries a platform service selects did not change, so the ones
    /// `previous` holds for it are kept after the platform's endpoints. Hosts that are not
    /// platform services in `previous` are left alone.
    public static func updatingPlatformEndpoints(
        _ previous: RegistrySnapshot, platform: PlatformServices, hosts: Set<String>
    ) -> (registry: RegistrySnapshot, hosts: Set<String>) {
        var endpoints = previous.endpoints
        var touched: Set<String> = []
        for host in hosts {
            guard let service = previous.services[host], service.source.isPlatform else { continue }
            let selected = (previous.endpoints[host] ?? [:]).mapValues { $0.filter { $0.source.kind == .workloadEntry } }
            endpoints[host] = appending(selected.filter { !$0.value.isEmpty }, to: platform.endpoints[host] ?? [:])
            touched.insert(host)
        }
        return (previous.replacing(endpoints: endpoints, weightOverflows: previous.weightOverflows, hosts: touched), touched)
    }

    /// Whether a WorkloadEntry change in `changed` could move a workload into or out of a platform
    /// service's selection (then the endpoint-only WorkloadEntry path, which knows only
    /// ServiceEntry selectors, cannot be used).
    public static func touchesPlatformSelectors(
        changed: [ConfigKey: (before: [String: String]?, after: [String: String]?)], platform: PlatformServices
    ) -> Bool {
        guard !platform.selectors.isEmpty else { return false }
        return platform.selectors.contains { host, selector in
            guard let namespace = platform.services[host]?.namespace else { return false }
            return changed.contains { key, labels in
                key.namespace == namespace && [labels.before, labels.after].contains { $0.map { Self.labels($0, match: selector) } ?? false }
            }
        }
    }
}
