/// Istio's validation rules for the kinds meshd serves.
public enum ConfigValidator {
    /// Decodes `resource.spec` into its typed form and applies Istio's validation rules; errors
    /// carry the resource and the field path.
    ///
    /// Unknown spec fields are ignored, as Istio accepts many fields meshd does not implement
    /// yet. The name and namespace are checked too, so resources that did not come through
    /// `ConfigDocumentParser` get the same guarantees.
    /// - Throws: `MeshModelError` with code `.invalid` naming the first problem found.
    public static func validate(_ resource: ConfigResource) throws(MeshModelError) -> TypedConfig {
        let key = resource.key
        let name = key.description
        guard NameRules.isDNS1123Subdomain(key.name) else {
            throw MeshModelError(code: .invalid, resource: name, field: "metadata.name", message: NameRules.subdomainRule)
        }
        guard NameRules.isDNS1123Label(key.namespace) else {
            throw MeshModelError(code: .invalid, resource: name, field: "metadata.namespace", message: NameRules.labelRule)
        }
        let spec = FieldReader(resource.spec, path: "spec", resource: name)
        guard try spec.object() != nil else { throw spec.error("required") }
        switch key.kind {
        case .virtualService: return .virtualService(try VirtualService(reading: spec, namespace: key.namespace))
        case .destinationRule: return .destinationRule(try DestinationRule(reading: spec, namespace: key.namespace))
        case .serviceEntry: return .serviceEntry(try ServiceEntry(reading: spec, namespace: key.namespace))
        case .workloadEntry:
            if let status = resource.annotations[HealthStatus.annotation], HealthStatus(rawValue: status.uppercased()) == nil {
                throw MeshModelError(
                    code: .invalid, resource: name, field: "metadata.annotations[\"\(HealthStatus.annotation)\"]",
                    message: "invalid health \"\(status)\"; supported: HEALTHY, UNHEALTHY, DRAINING")
            }
            return .workloadEntry(try WorkloadEntry(reading: spec))
        case .gateway:
            // Istio: a Gateway's name is a DNS label (VirtualServices name it as `ns/name`).
            guard NameRules.isDNS1123Label(key.name) else {
                throw MeshModelError(code: .invalid, resource: name, field: "metadata.name", message: "invalid gateway name: \(NameRules.labelRule)")
            }
            return .gateway(try Gateway(reading: spec))
        case .sidecar: return .sidecar(try Sidecar(reading: spec))
        case .peerAuthentication: return .peerAuthentication(try PeerAuthentication(reading: spec))
        case .authorizationPolicy: return .authorizationPolicy(try AuthorizationPolicy(reading: spec))
        case .requestAuthentication: return .requestAuthentication(try RequestAuthentication(reading: spec))
        case .telemetry: return .telemetry(try Telemetry(reading: spec))
        case .secret: return .secret(try TLSSecret(reading: spec))
        case .canary:
            if let status = resource.status { _ = try CanaryStatus(reading: FieldReader(status, path: "status", resource: name)) }
            return .canary(try CanarySpec(reading: spec))
        case .httpRoute, .grpcRoute, .referenceGrant:
            // The API's own schema and CEL rules first, then the typed reading of the defaulted spec.
            let defaulted = try GatewaySchema.check(kind: key.kind.rawValue, spec: resource.spec, resource: name)
            let reader = FieldReader(defaulted, path: "spec", resource: name)
            if key.kind == .referenceGrant { return .referenceGrant(try ReferenceGrant(reading: reader)) }
            return .route(try GatewayRoute(reading: reader, flavor: key.kind == .httpRoute ? .http : .grpc))
        }
    }
}
