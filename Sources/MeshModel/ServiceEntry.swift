import MeshCommon

/// Istio `ServiceEntry` (the subset meshd implements): a service added to the mesh by hand,
/// with its ports and either inline endpoints or a selector over WorkloadEntries.
public struct ServiceEntry: Sendable, Hashable {
    /// The service's hosts; never empty once validated.
    public var hosts: [String]
    /// Virtual IPs or CIDRs of the service.
    public var addresses: [String]
    /// The service's ports; numbers and names are unique once validated.
    public var ports: [ServicePort]
    /// `MESH_EXTERNAL` or `MESH_INTERNAL`.
    public var location: String?
    /// How endpoints are found: `NONE`, `STATIC`, `DNS` or `DNS_ROUND_ROBIN`.
    public var resolution: String?
    /// Inline endpoints; mutually exclusive with `workloadSelector`.
    public var endpoints: [WorkloadEntry]
    /// Labels selecting WorkloadEntries (`workloadSelector: {labels: …}` in YAML).
    public var workloadSelector: [String: String]?
    /// Namespaces the service is visible to (see `ExportTo`; `~` hides it from every proxy);
    /// empty means everywhere.
    public var exportTo: [String]
    /// `subjectAltNames`: identities the service's servers present (accepted in mesh mTLS
    /// besides the workloads' own).
    public var subjectAltNames: [String]

    /// Creates a ServiceEntry.
    public init(
        hosts: [String],
        addresses: [String] = [],
        ports: [ServicePort],
        location: String? = nil,
        resolution: String? = nil,
        endpoints: [WorkloadEntry] = [],
        workloadSelector: [String: String]? = nil,
        exportTo: [String] = [],
        subjectAltNames: [String] = []
    ) {
        self.subjectAltNames = subjectAltNames
        self.hosts = hosts
        self.addresses = addresses
        self.ports = ports
        self.location = location
        self.resolution = resolution
        self.endpoints = endpoints
        self.workloadSelector = workloadSelector
        self.exportTo = exportTo
    }

    /// The resolution modes Istio defines.
    public static let resolutions = ["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN"]
    /// The locations Istio defines.
    public static let locations = ["MESH_EXTERNAL", "MESH_INTERNAL"]
}

extension ServiceEntry {
    init(reading spec: FieldReader, namespace: String) throws(MeshModelError) {
        hosts = try spec["hosts"].hosts()
        guard !hosts.isEmpty else { throw spec["hosts"].error("must not be empty") }
        var addresses: [String] = []
        for reader in try spec["addresses"].list() {
            guard let address = try reader.string() else { throw reader.error("expected a string") }
            guard IPAddressSyntax.isIPAddress(address) || IPAddressSyntax.isCIDR(address) else {
                throw reader.error("invalid IP address or CIDR \"\(address)\"")
            }
            addresses.append(address)
        }
        self.addresses = addresses
        ports = try Self.readPorts(spec["ports"])
        location = try spec["location"].oneOf(Self.locations, what: "location")
        resolution = try spec["resolution"].oneOf(Self.resolutions, what: "resolution")
        endpoints = try Self.readEndpoints(spec["endpoints"], ports: ports, static: resolution == "STATIC")
        workloadSelector =
            try spec["workloadSelector"].object() == nil
            ? nil : spec["workloadSelector"]["labels"].stringMap()
        if workloadSelector != nil, !endpoints.isEmpty {
            throw spec["workloadSelector"].error("must not be set together with endpoints")
        }
        exportTo = try spec["exportTo"].exportTo(namespace: namespace, allowNone: true)
        subjectAltNames = try spec["subjectAltNames"].strings()
    }

    /// Istio's resolution rules that meshd applies to writes only, so an entry stored before
    /// they were enforced keeps routing (`ConfigValidator.validateForWrite`): CIDR addresses
    /// only with NONE or STATIC; no endpoints with NONE (Istio's default); at most one endpoint
    /// with DNS_ROUND_ROBIN; with a DNS mode and no endpoints, hosts are names to resolve.
    func resolutionProblem(_ spec: FieldReader) -> MeshModelError? {
        let mode = resolution ?? "NONE"
        if mode != "NONE", mode != "STATIC", let index = addresses.firstIndex(where: IPAddressSyntax.isCIDR) {
            return FieldReader(nil, path: "spec.addresses[\(index)]", resource: spec.resource)
                .error("CIDR addresses are allowed only for NONE/STATIC resolution types")
        }
        switch mode {
        case "NONE" where !endpoints.isEmpty:
            return spec["endpoints"].error("no endpoints should be provided for resolution type none")
        case "DNS_ROUND_ROBIN" where endpoints.count > 1:
            return spec["endpoints"].error("there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN")
        case "DNS" where endpoints.isEmpty && workloadSelector == nil, "DNS_ROUND_ROBIN" where endpoints.isEmpty && workloadSelector == nil:
            if let index = hosts.firstIndex(where: { $0.contains("*") }) {
                return FieldReader(nil, path: "spec.hosts[\(index)]", resource: spec.resource)
                    .error("hosts must be FQDN if no endpoints are provided for resolution mode \(mode)")
            }
        default:
            break
        }
        return nil
    }

    private static func readPorts(_ r: FieldReader) throws(MeshModelError) -> [ServicePort] {
        var ports: [ServicePort] = []
        var numbers: Set<UInt32> = []
        var names: Set<String> = []
        for reader in try r.list() {
            let port = try ServicePort(reading: reader)
            guard numbers.insert(port.number).inserted else {
                throw reader["number"].error("duplicate port \(port.number)")
            }
            guard names.insert(port.name).inserted else {
                throw reader["name"].error("duplicate port name \"\(port.name)\"")
            }
            ports.append(port)
        }
        guard !ports.isEmpty else { throw r.error("must not be empty") }
        return ports
    }

    private static func readEndpoints(
        _ r: FieldReader, ports: [ServicePort], static isStatic: Bool
    ) throws(MeshModelError) -> [WorkloadEntry] {
        let portNames = Set(ports.map(\.name))
        var endpoints: [WorkloadEntry] = []
        for reader in try r.list() {
            let endpoint = try WorkloadEntry(reading: reader)
            // With STATIC resolution nothing resolves names later, so each endpoint must be an IP
            // (or a Unix socket, which Istio also allows).
            if isStatic, !IPAddressSyntax.isIPAddress(endpoint.address), !endpoint.address.hasPrefix("unix://") {
                throw reader["address"].error("must be an IP address when resolution is STATIC")
            }
            // Endpoint ports map service port names to target ports; an unknown name would be ignored silently.
            for name in endpoint.ports.keys.sorted() where !portNames.contains(name) {
                throw reader["ports"][name].error("port name \"\(name)\" is not defined in spec.ports")
            }
            endpoints.append(endpoint)
        }
        // Every endpoint of the entry can land in one locality of one cluster, and locality
        // weights add up per priority: Envoy and gRPC need both sums to fit in uint32.
        if WeightBudget.total(of: endpoints.map(\.weight)) == nil {
            throw r.error("the endpoint weights add up to more than \(UInt32.max)")
        }
        return endpoints
    }
}
