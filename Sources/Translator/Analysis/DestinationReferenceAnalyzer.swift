import MeshModel

/// VirtualService destinations and DestinationRule hosts that name nothing: the findings of
/// `ReferenceChecker` (the same ones apply warns about) with Istio's codes — IST0101 for a
/// missing host, subset or port, IST0112 for a port-less destination of a multi-port service,
/// IST0174 for a DestinationRule whose host is no service.
enum DestinationReferenceAnalyzer {
    @Sendable static func analyze(_ input: AnalysisInput) -> [AnalysisMessage] {
        ReferenceChecker.findings(in: input.context).map { finding in
            switch finding.problem {
            case .destinationRuleHost(let host):
                return AnalysisMessage(
                    .unknownDestinationRuleHost, finding.key, field: finding.field,
                    "The host \(host) defined in the DestinationRule does not match any services in the mesh.")
            case .destination(let destination, let failure, let mirror):
                return message(finding, destination, failure, mirror: mirror, push: input.context)
            }
        }
    }

    private static func message(
        _ finding: ReferenceChecker.Finding, _ destination: Destination,
        _ failure: DestinationResolver.Failure, mirror: Bool, push: PushContext
    ) -> AnalysisMessage {
        let prefix = mirror ? "mirror" : "host"
        switch failure {
        case .unknownHost(let host):
            return AnalysisMessage(
                .referencedResourceNotFound, finding.key, field: finding.field,
                "Referenced \(prefix) not found: \"\(host)\"")
        case .unknownSubset(let host, let subset):
            return AnalysisMessage(
                .referencedResourceNotFound, finding.key, field: finding.field,
                "Referenced \(prefix)+subset in destinationrule not found: \"\(host)+\(subset)\"")
        case .unknownPort(let host, let port):
            if destination.port == nil, let service = push.registry.service(host), service.ports.count > 1 {
                let ports = service.ports.map { String($0.number) }.joined(separator: " ")
                return AnalysisMessage(
                    .virtualServiceDestinationPortSelectorRequired, finding.key,
                    field: finding.field.replacingSuffix("port.number", with: "host"),
                    "This VirtualService routes to a service \"\(host)\" that exposes multiple ports [\(ports)]. Specifying a port in the destination is required to disambiguate."
                )
            }
            return AnalysisMessage(
                .referencedResourceNotFound, finding.key, field: finding.field,
                "Referenced \(prefix):port not found: \"\(host):\(port)\"")
        }
    }
}

extension String {
    /// The string with `suffix` replaced by `replacement`, or unchanged when it does not end so.
    fileprivate func replacingSuffix(_ suffix: String, with replacement: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) + replacement : self
    }
}
