import Discovery
import MeshModel

/// Sidecars that select nothing or collide, as istioctl's sidecar analyzer reports them
/// (IST0101 for a selector matching no workload of the namespace, IST0110 for two selectors
/// sharing a workload, IST0111 for two namespace defaults — meshd uses the oldest of each), and
/// MSH0001: a Sidecar whose egress does not import a host that a VirtualService of its
/// namespace routes, so the proxies it applies to cannot reach that host at all and the rule
/// does nothing for them. (A VirtualService's destinations come with its host, as in Istio:
/// only the routed host itself can be hidden.)
enum SidecarAnalyzer {
    private typealias Entry = (key: ConfigKey, createdRevision: Int64, spec: Sidecar)

    @Sendable static func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        let sidecars = input.sidecars
        return selectors(sidecars, input) + hiddenHosts(sidecars, input)
    }

    private static func names(_ entries: [Entry]) -> String {
        entries.map { "\($0.key.namespace)/\($0.key.name)" }.sorted().joined(separator: ",")
    }

    private static func selectors(_ sidecars: [Entry], _ input: AnalysisInput) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        for namespace in Set(sidecars.map { $0.key.namespace }).sorted() {
            let local = sidecars.filter { $0.key.namespace == namespace }
            let defaults = local.filter { !$0.spec.selectsWorkloads }
            if defaults.count > 1 {
                for entry in defaults {
                    messages.append(
                        AnalysisMessage(
                            .multipleSidecarsWithoutWorkloadSelectors, entry.key, field: "spec.workloadSelector",
                            "The Sidecars \(names(defaults)) in namespace \"\(namespace)\" have no workload selector, which can lead to undefined behavior."
                        ))
                }
            }
            let selecting = local.filter { $0.spec.selectsWorkloads }
            let workloads = input.workloads(in: namespace)
            var reported: Set<ConfigKey> = []
            for entry in selecting {
                let selector = entry.spec.workloadSelector ?? [:]
                if !workloads.contains(where: { $0.matches(selector) }) {
                    messages.append(
                        AnalysisMessage(
                            .referencedResourceNotFound, entry.key, field: "spec.workloadSelector.labels",
                            "Referenced selector not found: \"\(selectorText(selector))\""))
                }
            }
            for workload in workloads {
                let sharing = selecting.filter { workload.matches($0.spec.workloadSelector ?? [:]) }
                guard sharing.count > 1 else { continue }
                for entry in sharing where reported.insert(entry.key).inserted {
                    messages.append(
                        AnalysisMessage(
                            .conflictingSidecarWorkloadSelectors, entry.key, field: "spec.workloadSelector",
                            "The Sidecars \(names(sharing)) in namespace \"\(namespace)\" select the same workload pod \"\(workload.name)\", which can lead to undefined behavior."
                        ))
                }
            }
        }
        return messages
    }

    /// MSH0001 for each Sidecar that applies in a namespace and hides a host routed there.
    private static func hiddenHosts(_ sidecars: [Entry], _ input: AnalysisInput) -> [AnalysisMessage] {
        let push = input.context
        let root = push.settings.rootNamespace
        let rootDefault = sidecars.first { $0.key.namespace == root && !$0.spec.selectsWorkloads }
        var messages: [AnalysisMessage] = []
        for (key, _, spec) in input.virtualServices where RouteMatchTranslation.reachesMesh(spec) {
            let namespace = key.namespace
            guard ExportTo.admits(spec.exportTo, owner: namespace, viewer: namespace) else { continue }
            var applying = sidecars.filter { $0.key.namespace == namespace }
            if !applying.contains(where: { !$0.spec.selectsWorkloads }), let rootDefault, namespace != root {
                applying.append(rootDefault)
            }
            for raw in spec.hosts {
                let host = HostName.resolve(raw, namespace: namespace)
                guard let service = push.registry.service(host), service.isExported(to: namespace),
                    push.virtualService(for: host, serviceNamespace: service.namespace, from: namespace)?.key == key
                else { continue }
                for sidecar in applying where !sidecar.spec.egress.isEmpty && !imports(sidecar.spec, service, in: namespace) {
                    messages.append(
                        AnalysisMessage(
                            .sidecarHidesRoutedHost, sidecar.key, field: "spec.egress",
                            "The Sidecar does not import host \(host), which \(key) routes: the proxies in namespace \(namespace) it applies to cannot reach that host, and the VirtualService has no effect for them. Add \"\(service.namespace)/\(host)\" (or \"\(service.namespace)/*\") to an egress listener's hosts."
                        ))
                }
            }
        }
        return messages
    }

    /// Whether some egress listener admits some port of `service` for a proxy in `namespace`
    /// (`ProxyView`'s visibility rule).
    private static func imports(_ sidecar: Sidecar, _ service: Service, in namespace: String) -> Bool {
        service.ports.contains { ProxyView.admits(sidecar.egress, port: $0.number, of: service, namespace: namespace) }
    }
}
