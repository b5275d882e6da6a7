import Foundation
import MeshModel

/// Injects the Envoy sidecar into a pod (or a pod template) the way istiod's injector does; the
/// webhook (`/inject`) and `meshctl kube-inject` both call it. Pure: a pod in, a pod and the
/// RFC 6902 patch that makes it out.
public struct SidecarInjector: Sendable {
    /// The values every sidecar is built from.
    public let values: InjectionValues

    /// An injector with these values.
    public init(values: InjectionValues) {
        self.values = values
    }

    /// Pod label and annotation keys Istio defines.
    public enum Key {
        /// `"false"` keeps a pod out, `"true"` asks for a sidecar (label first, then annotation).
        public static let inject = "sidecar.istio.io/inject"
        /// Set on an injected pod: what the injection added.
        public static let status = "sidecar.istio.io/status"
        static let proxyCPU = "sidecar.istio.io/proxyCPU"
        static let proxyMemory = "sidecar.istio.io/proxyMemory"
        static let proxyCPULimit = "sidecar.istio.io/proxyCPULimit"
        static let proxyMemoryLimit = "sidecar.istio.io/proxyMemoryLimit"
        static let tlsMode = "security.istio.io/tlsMode"
        static let canonicalName = "service.istio.io/canonical-name"
        static let canonicalRevision = "service.istio.io/canonical-revision"
        static let defaultContainer = "kubectl.kubernetes.io/default-container"
        static let defaultLogsContainer = "kubectl.kubernetes.io/default-logs-container"
    }

    /// Namespaces whose pods are never injected (besides meshd's own).
    public static let ignoredNamespaces: Set<String> = ["kube-system", "kube-public", "kube-node-lease"]

    /// What became of one pod.
    public enum Outcome: Sendable, Equatable {
        /// Left alone, and why (for logs and `kube-inject`'s stderr).
        case skipped(reason: String)
        /// Injected: the pod as it is now, the patch from the old one, and what the pod asked
        /// for that is not honoured.
        case injected(pod: JSONValue, patch: [JSONValue], warnings: [String])
    }

    /// Injects `pod` (an object with `metadata` and `spec`, as a Pod or a pod template is).
    /// `namespace` is where it will run (nil: unknown, as for `kube-inject` of a file without
    /// namespaces); `workloadName` names it when the pod has no name of its own.
    /// - Throws: `InjectionError` when an annotation is malformed.
    public func inject(pod: JSONValue, namespace: String?, workloadName: String? = nil) throws(InjectionError) -> Outcome {
        guard case .object(var object) = pod else { throw InjectionError("the pod is not an object") }
        let metadata = object["metadata"]?.objectValue ?? [:]
        var spec = object["spec"]?.objectValue ?? [:]
        let labels = Self.strings(metadata["labels"])
        let annotations = Self.strings(metadata["annotations"])
        if let reason = skipReason(namespace: namespace ?? metadata["namespace"]?.stringValue, spec: spec, labels: labels, annotations: annotations) {
            return .skipped(reason: reason)
        }
        var warnings: [String] = []
        let capture = try TrafficCapture(annotations: annotations, warnings: &warnings)
        warnings += Self.unhonoured(annotations)
        let proxyResources = try resources(annotations)

        let containers = spec["containers"]?.arrayValue ?? []
        let appContainer = containers.first?["name"]?.stringValue
        var newLabels: [String: String] = [:]
        if labels[Key.tlsMode] == nil { newLabels[Key.tlsMode] = "istio" }
        if labels[Key.canonicalName] == nil {
            newLabels[Key.canonicalName] =
                labels["app.kubernetes.io/name"] ?? labels["app"] ?? workloadName ?? Self.workloadName(metadata) ?? "unknown"
        }
        if labels[Key.canonicalRevision] == nil {
            newLabels[Key.canonicalRevision] = labels["app.kubernetes.io/version"] ?? labels["version"] ?? "latest"
        }
        // The proxy reports the labels the pod will have (node metadata LABELS), those added here
        // included, as Istio's proxies do.
        let template = SidecarTemplate(
            values: values, capture: capture, resources: proxyResources, podLabels: labels.merging(newLabels) { $1 })
        var newAnnotations: [String: String] = [Key.status: template.status]
        if let appContainer {
            let chosen = annotations[Key.defaultContainer] ?? appContainer
            if annotations[Key.defaultContainer] == nil { newAnnotations[Key.defaultContainer] = chosen }
            if annotations[Key.defaultLogsContainer] == nil { newAnnotations[Key.defaultLogsContainer] = chosen }
        }
        // The application's own scrape annotations win (docs/injection.md, Prometheus scraping).
        if !annotations.keys.contains(where: { $0.hasPrefix("prometheus.io/") }) {
            newAnnotations["prometheus.io/scrape"] = "true"
            newAnnotations["prometheus.io/port"] = "15090"
            newAnnotations["prometheus.io/path"] = "/stats/prometheus"
        }

        var patch: [JSONValue] = []
        var newMetadata = metadata
        newMetadata["labels"] = Self.added(newLabels, to: metadata["labels"], path: "/metadata/labels", patch: &patch)
        newMetadata["annotations"] = Self.added(newAnnotations, to: metadata["annotations"], path: "/metadata/annotations", patch: &patch)
        if metadata.isEmpty {
            // A pod template without metadata: one `add` of the whole map, not two into nothing.
            patch = [.object(["op": "add", "path": "/metadata", "value": .object(newMetadata)])]
        }
        spec["initContainers"] = Self.appended([template.initContainer], to: spec["initContainers"], path: "/spec/initContainers", patch: &patch)
        spec["containers"] = Self.appended([template.proxyContainer], to: spec["containers"], path: "/spec/containers", patch: &patch)
        spec["volumes"] = Self.appended(template.volumes, to: spec["volumes"], path: "/spec/volumes", patch: &patch)
        object["metadata"] = .object(newMetadata)
        object["spec"] = .object(spec)
        return .injected(pod: .object(object), patch: patch, warnings: warnings)
    }

    /// A gateway's proxy: the `istio-proxy` container (node type `router`, no traffic capture)
    /// and its volumes, for a gateway Deployment whose pods carry `labels` (what Gateway
    /// resources select).
    public func gatewayProxy(labels: [String: String]) -> (container: JSONValue, volumes: [JSONValue]) {
        var template = SidecarTemplate(values: values, capture: .defaults, resources: values.resources, podLabels: labels)
        template.proxyType = "router"
        return (template.proxyContainer, template.volumes)
    }

    /// The prefixes of Istio's injection and proxy annotations: each one a pod carries is
    /// honoured here or named in a warning, never silently dropped.
    static let istioAnnotationPrefixes = [
        "sidecar.istio.io/", "traffic.sidecar.istio.io/", "proxy.istio.io/", "status.sidecar.istio.io/",
        "readiness.status.sidecar.istio.io/", "inject.istio.io/",
    ]

    /// The Istio annotations this injector reads (or `TrafficCapture` already warns about).
    static let readAnnotations: Set<String> = [
        Key.inject, Key.status, Key.proxyCPU, Key.proxyMemory, Key.proxyCPULimit, Key.proxyMemoryLimit,
        TrafficCapture.Annotation.includeInboundPorts, TrafficCapture.Annotation.excludeInboundPorts,
        TrafficCapture.Annotation.includeOutboundIPRanges, TrafficCapture.Annotation.excludeOutboundIPRanges,
        TrafficCapture.Annotation.excludeOutboundPorts, TrafficCapture.Annotation.includeOutboundPorts,
        TrafficCapture.Annotation.kubevirtInterfaces, TrafficCapture.Annotation.interceptionMode,
        TrafficCapture.Annotation.rewriteAppHTTPProbers,
    ]

    /// Warnings for Istio annotations meshd's injector does not act on (`proxy.istio.io/config`,
    /// `sidecar.istio.io/proxyImage`, `sidecar.istio.io/userVolume`, ...), sorted.
    static func unhonoured(_ annotations: [String: String]) -> [String] {
        annotations.keys.sorted().compactMap { key in
            guard !readAnnotations.contains(key), istioAnnotationPrefixes.contains(where: key.hasPrefix) else { return nil }
            return "\(key) is not honoured by meshd's sidecar injector (docs/injection.md lists what is)"
        }
    }

    /// Why a pod is left alone, or nil to inject it (docs/injection.md, "Which pods").
    func skipReason(namespace: String?, spec: [String: JSONValue], labels: [String: String], annotations: [String: String]) -> String? {
        if let namespace, Self.ignoredNamespaces.contains(namespace) || namespace == values.systemNamespace {
            return "namespace \(namespace) is never injected"
        }
        if spec["hostNetwork"]?.boolValue == true { return "the pod uses the host's network" }
        if annotations[Key.status] != nil { return "already injected (\(Key.status) is set)" }
        let names = (spec["containers"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        if names.contains(SidecarTemplate.proxyName) { return "already has a \(SidecarTemplate.proxyName) container" }
        // A hand-written sidecar (deploy/sidecar/reviews-sidecar.yaml) or a name the injection
        // would add twice: the API server would refuse the duplicate, so the pod is left as it is.
        let initNames = (spec["initContainers"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        if initNames.contains(SidecarTemplate.initName) { return "already has a \(SidecarTemplate.initName) init container" }
        let volumes = Set((spec["volumes"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
        if let clash = SidecarTemplate.volumeNames.first(where: volumes.contains) {
            return "already has a volume named \(clash) (a hand-written sidecar?); injecting would duplicate it"
        }
        if let choice = labels[Key.inject] ?? annotations[Key.inject], choice.lowercased() == "false" {
            return "\(Key.inject) is false"
        }
        return nil
    }

    private func resources(_ annotations: [String: String]) throws(InjectionError) -> InjectionValues.ProxyResources {
        var result = values.resources
        for (key, path) in [
            (Key.proxyCPU, \InjectionValues.ProxyResources.requestsCPU), (Key.proxyMemory, \.requestsMemory),
            (Key.proxyCPULimit, \.limitsCPU), (Key.proxyMemoryLimit, \.limitsMemory),
        ] {
            guard let value = annotations[key] else { continue }
            guard Quantity.isValid(value), let amount = Quantity.value(value), amount >= 0 else {
                throw InjectionError("annotation \(key): \(value) is not a non-negative Kubernetes quantity")
            }
            result[keyPath: path] = value
        }
        for (request, limit, what) in [
            (result.requestsCPU, result.limitsCPU, "CPU (\(Key.proxyCPU) / \(Key.proxyCPULimit))"),
            (result.requestsMemory, result.limitsMemory, "memory (\(Key.proxyMemory) / \(Key.proxyMemoryLimit))"),
        ] {
            if let r = Quantity.value(request), let l = Quantity.value(limit), r > l {
                throw InjectionError("the proxy's \(what) request \(request) is above its limit \(limit)")
            }
        }
        return result
    }

    /// The workload a pod belongs to, from `generateName` (`reviews-v1-7d9f8b6c4-` → `reviews-v1`),
    /// as Istio derives it for pods of Deployments.
    static func workloadName(_ metadata: [String: JSONValue]) -> String? {
        if let name = metadata["name"]?.stringValue, !name.isEmpty { return name }
        guard var base = metadata["generateName"]?.stringValue, !base.isEmpty else { return nil }
        if base.hasSuffix("-") { base.removeLast() }
        var parts = base.split(separator: "-")
        // A ReplicaSet's pod-template-hash: alphanumeric, 5-10 long, after a Deployment name.
        if parts.count > 1, let last = parts.last, (5...10).contains(last.count), last.allSatisfy({ $0.isLowercase || $0.isNumber }),
            last.contains(where: \.isNumber)
        {
            parts.removeLast()
        }
        return parts.joined(separator: "-")
    }

    private static func strings(_ value: JSONValue?) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in value?.objectValue ?? [:] {
            if let text = value.stringValue { result[key] = text }
        }
        return result
    }

    /// `map` with `additions`, and the patch operations that make it so.
    private static func added(_ additions: [String: String], to map: JSONValue?, path: String, patch: inout [JSONValue]) -> JSONValue {
        guard case .object(var members)? = map else {
            let value = JSONValue.object(additions.mapValues(JSONValue.string))
            if !additions.isEmpty { patch.append(.object(["op": "add", "path": .string(path), "value": value])) }
            return value
        }
        for (key, value) in additions.sorted(by: { $0.key < $1.key }) {
            members[key] = .string(value)
            patch.append(.object(["op": "add", "path": .string("\(path)/\(pointerEscaped(key))"), "value": .string(value)]))
        }
        return .object(members)
    }

    /// `list` with `elements` appended, and the patch operations that make it so.
    private static func appended(_ elements: [JSONValue], to list: JSONValue?, path: String, patch: inout [JSONValue]) -> JSONValue {
        guard case .array(var items)? = list else {
            patch.append(.object(["op": "add", "path": .string(path), "value": .array(elements)]))
            return .array(elements)
        }
        for element in elements {
            items.append(element)
            patch.append(.object(["op": "add", "path": .string("\(path)/-"), "value": element]))
        }
        return .array(items)
    }

    /// A JSON Pointer reference token (RFC 6901): `~` → `~0`, `/` → `~1`.
    static func pointerEscaped(_ key: String) -> String {
        key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }
}
