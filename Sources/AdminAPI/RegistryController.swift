import Discovery
import Hummingbird
import MeshModel

/// `/api/v1/registry/...`: register machines outside any cluster. Each call writes an ordinary
/// ServiceEntry or WorkloadEntry (label `meshd.io/registered-by: api`), so registrations are
/// durable and flow through the same validation and push pipeline as applied YAML.
struct RegistryController: Sendable {
    let dependencies: AdminDependencies

    static let registeredBy = ["meshd.io/registered-by": "api"]

    /// The fields of `PUT /api/v1/registry/services/...`.
    static let serviceFields: Set<String> = ["hosts", "ports", "workloadSelector"]

    func register(on router: Router<AdminRequestContext>) {
        let writer = ConfigWriter(dependencies)

        router.put("/api/v1/registry/services/:namespace/:name") { request, context -> Response in
            var request = request
            let (namespace, name) = try Self.names(context)
            let body = try JSONValue.parse(json: try await request.text())
            let resource = try Self.serviceEntry(namespace: namespace, name: name, body: body)
            return JSONResponse.make(try await writer.apply([resource], actor: context.actor))
        }

        router.put("/api/v1/registry/workloads/:namespace/:name") { request, context -> Response in
            var request = request
            let (namespace, name) = try Self.names(context)
            let body = try JSONValue.parse(json: try await request.text())
            let resource = try Self.workloadEntry(namespace: namespace, name: name, body: body)
            return JSONResponse.make(try await writer.apply([resource], actor: context.actor))
        }

        for (path, kind) in [("services", ConfigKind.serviceEntry), ("workloads", .workloadEntry)] {
            router.delete("/api/v1/registry/\(path)/:namespace/:name") { _, context -> Response in
                let (namespace, name) = try Self.names(context)
                return JSONResponse.make(try await writer.deleteOne(ConfigKey(kind: kind, namespace: namespace, name: name), actor: context.actor))
            }
        }
    }

    static func names(_ context: AdminRequestContext) throws -> (String, String) {
        (context.parameters.get("namespace") ?? "default", context.parameters.get("name") ?? "")
    }

    /// A ServiceEntry for a registered service; hosts default to `NAME.NAMESPACE.svc.cluster.local`
    /// and the workload selector to `app: NAME`.
    /// The body must be an object of only those three fields: anything else would be dropped
    /// from the ServiceEntry without a word (a typo such as `port` registers a service with no ports).
    static func serviceEntry(namespace: String, name: String, body: JSONValue) throws -> ConfigResource {
        let resource = "ServiceEntry \(namespace)/\(name)"
        guard let fields = body.objectValue else {
            throw AdminError(code: "invalid", status: .unprocessableContent, message: "expected a JSON object", resource: resource, field: "body")
        }
        if let unknown = fields.keys.sorted().first(where: { !serviceFields.contains($0) }) {
            throw AdminError(
                code: "invalid", status: .unprocessableContent,
                message: "unknown field; a registered service has \(serviceFields.sorted().joined(separator: ", "))",
                resource: resource, field: unknown)
        }
        let hosts = body["hosts"] ?? .array([.string(HostName.resolve(name, namespace: namespace))])
        let selector = body["workloadSelector"] ?? .object(["app": .string(name)])
        let spec: JSONValue = .object([
            "hosts": hosts, "ports": body["ports"] ?? .array([]), "location": "MESH_INTERNAL",
            "resolution": "STATIC", "workloadSelector": .object(["labels": selector]),
        ])
        return ConfigResource(
            key: ConfigKey(kind: .serviceEntry, namespace: namespace, name: name),
            apiVersion: "networking.istio.io/v1", labels: registeredBy, spec: spec)
    }

    /// A WorkloadEntry for a registered workload; `health` (`HEALTHY`, `UNHEALTHY`, `DRAINING`)
    /// or the older `healthy: false` becomes the health annotation.
    static func workloadEntry(namespace: String, name: String, body: JSONValue) throws -> ConfigResource {
        guard case .object(var spec) = body else {
            throw AdminError(
                code: "invalid", status: .unprocessableContent, message: "expected a JSON object",
                resource: "WorkloadEntry \(namespace)/\(name)", field: "body")
        }
        let healthy = spec.removeValue(forKey: "healthy")
        var annotations: [String: String] = [:]
        if let healthy {
            guard case .bool(let value) = healthy else {
                throw AdminError(
                    code: "invalid", status: .unprocessableContent, message: "expected a boolean",
                    resource: "WorkloadEntry \(namespace)/\(name)", field: "healthy")
            }
            if !value { annotations[ConfigRegistry.healthAnnotation] = "false" }
        }
        if let health = spec.removeValue(forKey: "health") {
            guard case .string(let text) = health, let status = HealthStatus(rawValue: text.uppercased()) else {
                throw AdminError(
                    code: "invalid", status: .unprocessableContent,
                    message: "expected one of HEALTHY, UNHEALTHY, DRAINING",
                    resource: "WorkloadEntry \(namespace)/\(name)", field: "health")
            }
            if healthy != nil, (status == .healthy) != (healthy == .bool(true)) {
                throw AdminError(
                    code: "invalid", status: .unprocessableContent,
                    message: "contradicts healthy", resource: "WorkloadEntry \(namespace)/\(name)", field: "health")
            }
            annotations.removeValue(forKey: ConfigRegistry.healthAnnotation)
            annotations[HealthStatus.annotation] = status.rawValue
        }
        return ConfigResource(
            key: ConfigKey(kind: .workloadEntry, namespace: namespace, name: name),
            apiVersion: "networking.istio.io/v1", labels: registeredBy, annotations: annotations,
            spec: .object(spec))
    }
}
