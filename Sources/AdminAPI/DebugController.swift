import EnvoyAPI
import Foundation
import Hummingbird
import MeshCommon
import MeshModel
import PushPipeline
import SwiftProtobuf
import Translator
import XDSCore

/// `/metrics` and istiod-style `/debug/*` endpoints.
struct DebugController: Sendable {
    let dependencies: AdminDependencies

    func register(on router: Router<AdminRequestContext>) {
        let publisher = dependencies.publisher
        let configIndex = dependencies.configIndex
        let statuses = dependencies.statuses
        let metrics = dependencies.metrics

        router.get("/metrics") { _, _ -> Response in
            var buffer: [UInt8] = []
            metrics.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: buffer)))
        }

        let peers = dependencies.peers
        router.get("/debug/syncz") { _, _ -> Response in
            let local = SynczEntries.local(statuses)
            guard let peers else { return JSONResponse.make(.array(local)) }
            // Replicas on etcd: every replica's proxies, each entry naming its replica.
            let mine = local.map { SynczEntries.tagged($0, replicaID: peers.replicaID) }
            return JSONResponse.make(.array(mine + (await peers.peerEntries())))
        }

        router.get("/debug/config_dump") { request, _ -> Response in
            let query = try request.query(allowing: ["proxyID"])
            guard let id = query["proxyID"].map(String.init), let status = statuses.proxy(id) else {
                throw AdminError.notFound("proxy \(query["proxyID"].map(String.init) ?? "(no proxyID given)")")
            }
            return JSONResponse.make(try Self.configDump(status))
        }

        router.get("/debug/authz") { request, _ -> Response in
            guard let push = publisher.current else { throw AdminError.notFound("push context (not built yet)") }
            let query = try request.query(allowing: ["namespace", "workload", "proxyID"])
            if let id = query["proxyID"].map(String.init) {
                // A connected sidecar, with its own labels, as its virtualInbound is built.
                guard let proxy = statuses.proxy(id)?.proxy, GeneratorTable.takesWorkloadPorts(proxy.kind) else {
                    throw AdminError.notFound("Envoy sidecar \(id) (not connected here)")
                }
                return JSONResponse.make(Self.authz(AuthorizationCheck(proxy: proxy, push: push)))
            }
            let namespace = query["namespace"].map(String.init) ?? "default"
            let name = query["workload"].map(String.init) ?? ""
            let key = ConfigKey(kind: .workloadEntry, namespace: namespace, name: name)
            guard let check = AuthorizationCheck(workload: key, push: push) else {
                throw AdminError.notFound("WorkloadEntry \(namespace)/\(name) (no service selects or lists it)")
            }
            return JSONResponse.make(Self.authz(check))
        }

        router.get("/debug/push_status") { _, _ -> Response in
            guard let push = publisher.current else { throw AdminError.notFound("push context (not built yet)") }
            return JSONResponse.make(
                .object([
                    "revision": .number(Double(push.revision)),
                    "services": .array(push.registry.sortedServices.map { .string($0.host) }),
                    "warnings": .array(push.warnings.map { .string($0.description) }),
                    // Gateway servers skipped on a conflict with an older server (also among warnings).
                    "rejectedGatewayServers": .array(push.rejectedGatewayServers.map(Self.warningObject)),
                    // Stored resources that fail validation and are left out of every push.
                    "invalid": .array(push.invalid.map(Self.warningObject)),
                    // Stored spec fields outside Istio's schema: ignored, the resources still pushed.
                    "unknownFields": .array(configIndex.read().unknownFieldWarnings.map(Self.warningObject)),
                    // Fields a kind of proxy does not honour as written (the apply answer warned).
                    "unhonouredFields": .array(
                        configIndex.read().unhonouredFieldWarnings.map { kind, warning in
                            guard case .object(var members) = Self.warningObject(warning) else { return .null }
                            members["proxyKind"] = .string(kind.rawValue)
                            return .object(members)
                        }),
                ]))
        }
    }

    /// A warning about one stored resource, as `/debug/push_status` lists it.
    /// `/debug/authz`'s answer for one workload.
    static func authz(_ check: AuthorizationCheck) -> JSONValue {
        func name(_ key: ConfigKey) -> JSONValue { .string("\(key.namespace)/\(key.name)") }
        var members: [String: JSONValue] = [
            "labels": .object(check.labels.mapValues(JSONValue.string)),
            "ports": .array(
                check.ports.map { port in
                    .object([
                        "port": .number(Double(port.port)), "mode": .string(port.mode.rawValue), "policies": .array(port.policies.map(name)),
                        "protocol": .string(port.carriage), "declared": .bool(port.declared),
                    ])
                }),
            "workloadMode": .object(["mode": .string(check.workloadMode.rawValue), "policies": .array(check.workloadPolicies.map(name))]),
            "authorizationPolicies": .array(check.policies.map { .object(["name": name($0.key), "action": .string($0.action.rawValue)]) }),
        ]
        if let workload = check.workload { members["workload"] = name(workload) }
        if let proxyID = check.proxyID { members["proxyID"] = .string(proxyID) }
        if let deny = check.deny { members["deny"] = .array(deny.map(JSONValue.string)) }
        if let allow = check.allow { members["allow"] = .array(allow.map(JSONValue.string)) }
        func byAction(_ rules: AuthorizationCheck.Rules) -> JSONValue {
            .object(Dictionary(uniqueKeysWithValues: rules.map { ($0.action.rawValue, .array($0.lines.map(JSONValue.string))) }))
        }
        func envoy(_ target: RBACTarget, http: Bool) -> JSONValue {
            guard case .object(var rules) = byAction(check.rules(target)) else { return .object([:]) }
            let custom = check.customRules(http: http)
            if !custom.isEmpty { rules["CUSTOM"] = .array(custom.map(JSONValue.string)) }
            return .object(rules)
        }
        members["envoy"] = .object(["http": envoy(.envoyHTTP, http: true), "tcp": envoy(.envoyTCP, http: false)])
        members["requestAuthentications"] = .array(
            check.requestAuthentications.map { .object(["name": name($0.key), "issuers": .array($0.issuers.map(JSONValue.string))]) })
        return .object(members)
    }

    static func warningObject(_ warning: ConfigWarning) -> JSONValue {
        .object([
            "kind": .string(warning.key.kind.rawValue), "namespace": .string(warning.key.namespace),
            "name": .string(warning.key.name), "field": .string(warning.field),
            "message": .string(warning.message),
        ])
    }

    static func syncz(_ status: ProxyStatus) -> JSONValue {
        var types: [String: JSONValue] = [:]
        for (name, type) in status.types {
            var entry: [String: JSONValue] = ["status": .string(type.status.rawValue)]
            if let v = type.sentVersion { entry["sentVersion"] = .string(v) }
            if let v = type.ackedVersion { entry["ackedVersion"] = .string(v) }
            if let v = type.sentNonce { entry["sentNonce"] = .string(v) }
            if let v = type.error { entry["error"] = .string(v) }
            types[name] = .object(entry)
        }
        var entry: [String: JSONValue] = [
            "proxyID": .string(status.proxyID), "connectionID": .string(status.connectionID),
            "connectedAt": .string(status.connectedAt.rfc3339),
            "types": .object(types), "synced": .bool(status.synced), "protocol": .string(status.protocolName),
            "authenticated": .bool(status.proxy?.isAuthenticated ?? false),
        ]
        if let key = status.snapshot?.view?.key { entry["viewKey"] = .string(key.description) }
        if let proxy = status.proxy {
            entry["kind"] = .string(proxy.kind.rawValue)
            entry["namespace"] = .string(proxy.namespace)
            if let identity = proxy.identity { entry["identity"] = .string(identity) }
            if !proxy.labels.isEmpty { entry["labels"] = .object(proxy.labels.mapValues { .string($0) }) }
            if !proxy.instanceIPs.isEmpty { entry["instanceIPs"] = .array(proxy.instanceIPs.map { .string($0) }) }
            if !proxy.clusterID.isEmpty { entry["clusterID"] = .string(proxy.clusterID) }
            if !proxy.locality.description.isEmpty { entry["locality"] = .string(proxy.locality.description) }
        }
        return .object(entry)
    }

    static func configDump(_ status: ProxyStatus) throws -> JSONValue {
        var byType: [String: JSONValue] = [:]
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        for (typeURL, resources) in status.snapshot?.resources ?? [:] {
            byType[XDSTypeRegistry.standard.shortName(typeURL)] = .array(
                try resources.values.sorted { $0.name < $1.name }.map { resource in
                    .object([
                        "name": .string(resource.name), "version": .string(resource.version),
                        "resource": try JSONValue.parse(json: SecretRedaction.displayable(resource).jsonString(options: options)),
                    ])
                })
        }
        return .object([
            "proxyID": .string(status.proxyID), "protocol": .string(status.protocolName),
            "revision": .number(Double(status.snapshot?.revision ?? 0)),
            "resources": .object(byType),
        ])
    }
}
