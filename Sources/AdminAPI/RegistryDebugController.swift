import Discovery
import Hummingbird
import Kubernetes
import MeshModel

/// `/debug/registryz` (istiod's name): every service of the current PushContext with its
/// endpoints and where each came from; `/debug/kubernetes`: each Kubernetes resource's
/// list-and-watch (synced, lists, 410s, failures, resume version, objects held — with
/// `?objects=true`, each object's key and resourceVersion; `enabled: false` and nothing else
/// without `--registry kubernetes`); `/debug/ledger`: the Kubernetes store's history ledger, Lease
/// and unservable objects (`enabled: false` with the other stores).
struct RegistryDebugController: Sendable {
    let dependencies: AdminDependencies

    func register(on router: Router<AdminRequestContext>) {
        let publisher = dependencies.publisher
        let kubernetes = dependencies.kubernetes
        let ledger = dependencies.ledgerStatus
        router.get("/debug/ledger") { request, _ -> Response in
            _ = try request.query(allowing: [])
            // The other stores keep no ledger: an answer, not an error.
            return JSONResponse.make(ledger?() ?? .object(["enabled": false]))
        }
        router.get("/debug/registryz") { request, _ -> Response in
            _ = try request.query(allowing: [])
            let registry = publisher.current?.registry ?? RegistrySnapshot()
            return JSONResponse.make(.object(["services": .array(registry.sortedServices.map { Self.service($0, registry) })]))
        }
        router.get("/debug/kubernetes") { request, _ -> Response in
            let objects: Bool
            switch try request.query(allowing: ["objects"]).get("objects") {
            case nil, "false": objects = false
            case "true": objects = true
            case let other?:
                throw AdminError(
                    code: "malformed", status: .badRequest, message: "objects takes true or false, not \"\(other.prefix(64))\"", field: "objects")
            }
            guard let kubernetes else {
                // The embedded registry alone: nothing to list, which is an answer, not an error.
                return JSONResponse.make(
                    .object(["enabled": false, "server": .null, "clusterDomain": .null, "resources": .array([]), "unservedServices": .array([])]))
            }
            let resources = kubernetes.statuses.map { status -> JSONValue in
                var entry: [String: JSONValue] = [
                    "resource": .string(status.resource.rawValue), "synced": .bool(status.synced),
                    "lists": .number(Double(status.lists)), "gones": .number(Double(status.gones)),
                    "failures": .number(Double(status.failures)), "lastError": status.lastError.map(JSONValue.string) ?? .null,
                    "resourceVersion": status.resourceVersion.map(JSONValue.string) ?? .null,
                    "objects": .number(Double(status.objects.count)),
                ]
                if objects {
                    entry["items"] = .object(
                        Dictionary(uniqueKeysWithValues: status.objects.map { ($0.key.description, JSONValue.string($0.value)) }))
                }
                return .object(entry)
            }
            let unserved = kubernetes.unservedServices.map {
                JSONValue.object(["service": .string($0.key.description), "reason": .string($0.reason)])
            }
            return JSONResponse.make(
                .object([
                    "enabled": true, "server": .string(kubernetes.api.config.server), "clusterDomain": .string(kubernetes.clusterDomain),
                    "resources": .array(resources), "unservedServices": .array(unserved),
                ]))
        }
    }

    private static func service(_ service: Service, _ registry: RegistrySnapshot) -> JSONValue {
        var endpoints: [JSONValue] = []
        for port in service.ports {
            for endpoint in registry.endpoints(host: service.host, port: port.number) {
                endpoints.append(
                    .object([
                        "address": .string(endpoint.address), "port": .number(Double(endpoint.port)),
                        "servicePort": .number(Double(port.number)), "health": .string(endpoint.health.rawValue),
                        "labels": .object(endpoint.labels.mapValues(JSONValue.string)),
                        "serviceAccount": endpoint.serviceAccount.map(JSONValue.string) ?? .null,
                        "locality": .string(endpoint.locality.description), "source": source(endpoint.source),
                    ]))
            }
        }
        return .object([
            "host": .string(service.host), "namespace": .string(service.namespace), "source": source(service.source),
            "resolution": .string(service.resolution.rawValue), "addresses": .array(service.addresses.map(JSONValue.string)),
            "aliases": .array((registry.aliases[service.host] ?? []).map(JSONValue.string)),
            "ports": .array(
                service.ports.map {
                    .object(["number": .number(Double($0.number)), "name": .string($0.name), "protocol": .string($0.protocolName)])
                }),
            "endpoints": .array(endpoints),
        ])
    }

    private static func source(_ source: RegistrySource) -> JSONValue {
        .object(["kind": .string(source.kind.rawValue), "namespace": .string(source.namespace), "name": .string(source.name)])
    }
}
