extension ConfigValidator {
    /// What the write path applies: `validate(_:)` plus Istio's schema. A spec field outside the
    /// schema is refused (`unknown field "NAME"` at its full path); fields meshd does not
    /// translate yet, and fields some kind of client does not honour as written, are returned, to
    /// be answered as warnings.
    ///
    /// The push side keeps using `validate(_:)` alone, so a resource stored by an older meshd with
    /// a field outside the schema is still pushed (that field ignored) and reported, never dropped.
    /// - Throws: `MeshModelError` with code `.invalid` for the first problem found.
    public static func validateForWrite(_ resource: ConfigResource) throws(MeshModelError)
        -> (config: TypedConfig, notHonoured: [IstioSchema.Finding], clientLimits: [IstioSchema.ClientFinding])
    {
        // The schema first: a misspelled field is the cause of whatever else looks wrong nearby.
        let report = IstioSchema.check(kind: resource.key.kind.rawValue, spec: resource.spec)
        if let unknown = report.unknown.first {
            throw MeshModelError(
                code: .invalid, resource: resource.key.description, field: unknown.path,
                message: "unknown field \"\(unknown.name)\"")
        }
        let config = try validate(resource)
        if case .serviceEntry(let entry) = config,
            let problem = entry.resolutionProblem(FieldReader(resource.spec, path: "spec", resource: resource.key.description))
        {
            throw problem
        }
        if case .route(let route) = config {
            let support = GatewayRouteSupport.report(route)
            return (config, report.notHonoured + support.notHonoured, report.clientLimits + support.clientLimits)
        }
        return (config, report.notHonoured, report.clientLimits)
    }
}
