import MeshModel

/// What the registry reads from a `Pod`: its labels, service account, node and IP.
struct KubePod: Sendable, Hashable {
    var labels: [String: String]
    var serviceAccount: String
    var nodeName: String?
    var ip: String?
    /// Ready as Istio's IP index counts it (`KubernetesRegistry.isReady`): only a ready pod
    /// lends its labels and account to a slice endpoint that names no pod.
    var ready: Bool

    init(_ object: KubeObject) {
        let body = object.body
        ready = KubernetesRegistry.isReady(object)
        labels = KubeService.strings(body["metadata"]?["labels"])
        serviceAccount = body["spec"]?["serviceAccountName"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        nodeName = body["spec"]?["nodeName"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        ip = body["status"]?["podIP"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Istio's locality of the pod: its `topology.istio.io/locality` label (dots as `/` unless
    /// it has a `/`), else its node's region, zone and `topology.istio.io/subzone` labels.
    func locality(nodeLabels: [String: String]?) -> Locality {
        if let label = labels["topology.istio.io/locality"] ?? labels["istio-locality"], !label.isEmpty {
            return Locality(istio: label.contains("/") ? label : label.replacingOccurrences(of: ".", with: "/"))
        }
        guard let node = nodeLabels else { return Locality() }
        return Locality(
            region: node["topology.kubernetes.io/region"] ?? node["failure-domain.beta.kubernetes.io/region"] ?? "",
            zone: node["topology.kubernetes.io/zone"] ?? node["failure-domain.beta.kubernetes.io/zone"] ?? "",
            subZone: node["topology.istio.io/subzone"] ?? "")
    }
}

/// What the registry reads from an `EndpointSlice`.
struct KubeEndpointSlice: Sendable, Hashable {
    /// One endpoint of the slice.
    struct Entry: Sendable, Hashable {
        var addresses: [String]
        var ready: Bool?
        var serving: Bool?
        var terminating: Bool?
        /// The pod behind it (`targetRef` of kind Pod), by key.
        var pod: ObjectKey?
        var nodeName: String?
    }

    /// One port of the slice: its name ties it to the Service port of that name.
    struct Port: Sendable, Hashable {
        var name: String
        var number: UInt32
    }

    /// The Service it belongs to (`kubernetes.io/service-name`), nil when it names none or was
    /// imported from another cluster (`multicluster.kubernetes.io/service-name`): Istio skips those.
    var service: ObjectKey?
    var entries: [Entry]
    var ports: [Port]

    /// The addresses of the endpoints that name no pod (found by IP instead).
    var unreferencedAddresses: [String] { entries.filter { $0.pod == nil }.flatMap(\.addresses) }

    init(_ object: KubeObject) {
        let body = object.body
        let labels = KubeService.strings(body["metadata"]?["labels"])
        let addressType = body["addressType"]?.stringValue ?? "IPv4"
        if let name = labels["kubernetes.io/service-name"], !name.isEmpty, labels["multicluster.kubernetes.io/service-name"] == nil,
            addressType != "FQDN"
        {
            service = ObjectKey(namespace: object.key.namespace, name: name)
        } else {
            service = nil
        }
        ports = (body["ports"]?.arrayValue ?? []).compactMap { port in
            let number = port["port"]?.intValue ?? 0
            guard (0...65535).contains(number) else { return nil }
            return Port(name: port["name"]?.stringValue ?? "", number: UInt32(number))
        }
        entries = (body["endpoints"]?.arrayValue ?? []).map { endpoint in
            let conditions = endpoint["conditions"]
            let ref = endpoint["targetRef"]
            let pod: ObjectKey? =
                ref?["kind"]?.stringValue == "Pod"
                ? ref?["name"]?.stringValue.map { ObjectKey(namespace: ref?["namespace"]?.stringValue ?? object.key.namespace, name: $0) } : nil
            return Entry(
                addresses: (endpoint["addresses"]?.arrayValue ?? []).compactMap(\.stringValue),
                ready: conditions?["ready"]?.boolValue, serving: conditions?["serving"]?.boolValue,
                terminating: conditions?["terminating"]?.boolValue, pod: pod, nodeName: endpoint["nodeName"]?.stringValue)
        }
    }
}

extension KubeEndpointSlice.Entry {
    /// Istio's health for the endpoint: ready (or unset) is healthy; not ready but serving and
    /// terminating is draining where the Service allows draining; not ready and terminating (or
    /// unset) is terminating — nil: not sent; otherwise unhealthy.
    func health(drains: Bool) -> HealthStatus? {
        if ready ?? true { return .healthy }
        if drains, serving ?? true, terminating ?? true { return .draining }
        if terminating ?? true { return nil }
        return .unhealthy
    }
}
