import MeshModel
import Testing

private let route = "  route: [{destination: {host: r}}]"

/// Rewrite, header operations, mirrors, CORS, redirect ports and tcp/tls rules: refused with
/// the field's path when Istio (or Envoy, which would NACK) refuses them, decoded when valid.
@Suite struct VirtualServiceExtrasValidationTests {
    static let refused: [(spec: String, path: String, message: String)] = [
        ("http:\n- rewrite: {}\n" + route, "spec.http[0].rewrite", "at least one of uri"),
        ("http:\n- rewrite: {uri: /a, uriRegexRewrite: {match: a, rewrite: b}}\n" + route, "spec.http[0].rewrite", "may only contain one of uri"),
        ("http:\n- rewrite: {uriRegexRewrite: {match: a}}\n" + route, "spec.http[0].rewrite.uriRegexRewrite", "both match and rewrite"),
        ("http:\n- rewrite: {uriRegexRewrite: {match: \"(\", rewrite: b}}\n" + route, "spec.http[0].rewrite.uriRegexRewrite.match", ""),
        ("http:\n- rewrite: {uri: /a}\n  redirect: {uri: /b}", "spec.http[0].rewrite", "may not be used with redirect"),
        ("http:\n- rewrite: {authority: \"a\\rb\"}\n" + route, "spec.http[0].rewrite.authority", "NUL, CR or LF"),
        ("http:\n- headers: {request: {set: {\":path\": /x}}}\n" + route, "spec.http[0].headers.request.set[\":path\"]", "cannot have \":\" prefix"),
        ("http:\n- headers: {response: {set: {host: x}}}\n" + route, "spec.http[0].headers.response.set.host", "cannot set Host"),
        ("http:\n- headers: {request: {remove: [\":authority\"]}}\n" + route, "spec.http[0].headers.request.remove[0]", "cannot have \":\" prefix"),
        (
            "http:\n- headers: {request: {add: {\"bad name\": x}}}\n" + route, "spec.http[0].headers.request.add[\"bad name\"]",
            "not a valid HTTP header name"
        ),
        ("http:\n- headers: {request: {add: {x: \"100%\"}}}\n" + route, "spec.http[0].headers.request.add.x", "single %"),
        ("http:\n- headers: {request: {set: {x: \"a\\nb\"}}}\n" + route, "spec.http[0].headers.request.set.x", "NUL, CR or LF"),
        (
            "http:\n- route: [{destination: {host: r}, headers: {response: {remove: [\"\"]}}}]", "spec.http[0].route[0].headers.response.remove[0]",
            "must not be empty"
        ),
        ("http:\n- mirrorPercentage: {value: 5}\n" + route, "spec.http[0].mirrorPercentage", "needs mirror"),
        ("http:\n- mirror: {host: m}\n  mirrorPercentage: {value: 101}\n" + route, "spec.http[0].mirrorPercentage.value", "between 0 and 100"),
        ("http:\n- mirror: {host: m}\n  mirrors: [{destination: {host: n}}]\n" + route, "spec.http[0].mirrors", "only one of mirror or mirrors"),
        ("http:\n- mirrors: [{percentage: {value: 5}}]\n" + route, "spec.http[0].mirrors[0].destination", "required"),
        ("http:\n- mirrors: [{destination: {host: \"*.m\"}}]\n" + route, "spec.http[0].mirrors[0].destination.host", "wildcard"),
        ("http:\n- corsPolicy: {allowMethods: [FETCH]}\n" + route, "spec.http[0].corsPolicy.allowMethods[0]", "not a supported HTTP method"),
        ("http:\n- corsPolicy: {allowOrigins: [{exact: \"\"}]}\n" + route, "spec.http[0].corsPolicy.allowOrigins[0]", "must not be empty"),
        ("http:\n- corsPolicy: {allowHeaders: [\"a b\"]}\n" + route, "spec.http[0].corsPolicy.allowHeaders[0]", "not a valid HTTP header name"),
        ("http:\n- corsPolicy: {maxAge: 1500ms}\n" + route, "spec.http[0].corsPolicy.maxAge", "seconds precision"),
        ("http:\n- corsPolicy: {unmatchedPreflights: DROP}\n" + route, "spec.http[0].corsPolicy.unmatchedPreflights", "invalid"),
        ("http:\n- redirect: {port: 8080, derivePort: FROM_REQUEST_PORT}", "spec.http[0].redirect.derivePort", "only one of port, derivePort"),
        ("http:\n- redirect: {scheme: ftp}", "spec.http[0].redirect.scheme", "must be \"http\" or \"https\""),
        ("tcp: [{route: []}]", "spec.tcp[0].route", "must not be empty"),
        (
            "tcp: [{match: [{destinationSubnets: [10.0.0.0/33]}], route: [{destination: {host: r}}]}]",
            "spec.tcp[0].match[0].destinationSubnets[0]", "not an IP address or a CIDR"
        ),
        ("tcp: [{match: [{port: 70000}], route: [{destination: {host: r}}]}]", "spec.tcp[0].match[0].port", "between 1 and 65535"),
        ("tcp: [{route: [{destination: {host: r}, weight: 0}, {destination: {host: s}}]}]", "spec.tcp[0].route", "must not all be zero"),
        ("tls: [{route: [{destination: {host: r}}]}]", "spec.tls[0].match", "at least one match"),
        ("tls: [{match: [{port: 443}], route: [{destination: {host: r}}]}]", "spec.tls[0].match[0].sniHosts", "at least one SNI host"),
        (
            "tls: [{match: [{sniHosts: [other.example]}], route: [{destination: {host: r}}]}]", "spec.tls[0].match[0].sniHosts[0]",
            "not a compatible subset"
        ),
        (
            "tls: [{match: [{sniHosts: [r], sourceNamespace: \"Bad_NS\"}], route: [{destination: {host: r}}]}]",
            "spec.tls[0].match[0].sourceNamespace", ""
        ),
    ]

    @Test(arguments: refused.indices)
    func badInputIsRefusedWithItsPath(_ index: Int) {
        let (spec, path, message) = Self.refused[index]
        let error = #expect(throws: MeshModelError.self) { try Fixtures.validate(kind: "VirtualService", spec: "hosts: [r]\n" + spec) }
        #expect(error?.field == path, "\(spec): \(error?.description ?? "")")
        #expect(message.isEmpty || error?.message.contains(message) == true, "\(error?.message ?? "") should say \(message)")
    }

    @Test func validFieldsDecode() throws {
        let spec = """
            hosts: [r, "*.r.example"]
            http:
            - rewrite: {uri: /new%20path, authority: a.example}
              headers: {request: {set: {x: "1", host: h.example}, add: {y: "%HOSTNAME% 100%%"}, remove: [z]}, response: {set: {w: "2"}}}
              mirror: {host: m, subset: s}
              mirrorPercent: 30
              corsPolicy: {allowOrigin: [https://a.example], allowMethods: [GET, POST], maxAge: 1m, allowCredentials: false, unmatchedPreflights: IGNORE}
              route: [{destination: {host: r}, headers: {request: {add: {v: "3"}}}}]
            - mirrors: [{destination: {host: m}, percentage: {value: 0.5}}, {destination: {host: n}}]
              redirect: {derivePort: FROM_REQUEST_PORT}
            tcp:
            - match: [{port: 31400, destinationSubnets: [10.1.0.0/16, 10.2.0.1], sourceLabels: {app: a}, gateways: [mesh]}]
              route: [{destination: {host: r}, weight: 1}, {destination: {host: s}, weight: 3}]
            tls:
            - match: [{sniHosts: [x.r.example, r]}]
              route: [{destination: {host: r}}]
            """
        guard case .virtualService(let vs) = try Fixtures.validate(kind: "VirtualService", spec: spec) else {
            Issue.record("not a VirtualService")
            return
        }
        let rule = vs.http[0]
        #expect(rule.rewrite == HTTPRewrite(uri: "/new%20path", uriRegexRewrite: nil, authority: "a.example"))
        #expect(rule.headers?.request.set == ["x": "1", "host": "h.example"] && rule.headers?.authority == "h.example")
        #expect(rule.mirrors == [HTTPMirrorPolicy(destination: Destination(host: "m", subset: "s"), percentage: 30)])
        #expect(rule.corsPolicy?.allowOrigins == [.exact("https://a.example")] && rule.corsPolicy?.maxAgeSeconds == 60)
        #expect(rule.corsPolicy?.unmatchedPreflights == .ignore && rule.corsPolicy?.allowCredentials == false)
        #expect(rule.route[0].headers?.request.add == ["v": "3"])
        #expect(vs.http[1].mirrors.map(\.percentage) == [0.5, 100])
        #expect(vs.http[1].mirrors.map(\.field) == ["mirrors[0].destination", "mirrors[1].destination"])
        #expect(vs.http[1].redirect?.derivePort == .fromRequestPort)
        #expect(
            vs.tcp == [
                TCPRoute(
                    match: [
                        L4MatchAttributes(
                            destinationSubnets: ["10.1.0.0/16", "10.2.0.1"], port: 31400,
                            sourceLabels: ["app": "a"], gateways: ["mesh"])
                    ],
                    route: [
                        RouteDestination(destination: Destination(host: "r"), weight: 1),
                        RouteDestination(destination: Destination(host: "s"), weight: 3),
                    ])
            ])
        #expect(vs.tls.first?.match.first?.sniHosts == ["x.r.example", "r"])
    }

    /// Every field above is answered with a per-kind warning for gRPC clients, none with the
    /// generic "not yet honoured by meshd".
    @Test func grpcClientsAreWarnedPerField() throws {
        let spec = """
            hosts: [r]
            http:
            - rewrite: {uri: /a}
              headers: {request: {set: {x: "1"}}}
              mirror: {host: m}
              mirrorPercentage: {value: 5}
              corsPolicy: {allowMethods: [GET]}
              route: [{destination: {host: r}, headers: {request: {set: {y: "1"}}}}]
            - mirror: {host: m}
              mirrorPercent: 5
              route: [{destination: {host: r}}]
            - mirrors: [{destination: {host: m}}]
              route: [{destination: {host: r}}]
            tcp: [{route: [{destination: {host: r}}]}]
            tls: [{match: [{sniHosts: [r]}], route: [{destination: {host: r}}]}]
            """
        let resource = try ConfigDocumentParser.parse(Fixtures.document(kind: "VirtualService", spec: spec))[0]
        let report = try ConfigValidator.validateForWrite(resource)
        #expect(report.notHonoured.isEmpty, "\(report.notHonoured)")
        #expect(
            report.clientLimits.map(\.path) == [
                "spec.http[0].corsPolicy", "spec.http[0].headers", "spec.http[0].mirror", "spec.http[0].mirrorPercentage",
                "spec.http[0].rewrite", "spec.http[0].route[0].headers", "spec.http[1].mirror", "spec.http[1].mirrorPercent", "spec.http[2].mirrors",
                "spec.tcp", "spec.tls",
            ])
        #expect(report.clientLimits.allSatisfy { $0.message == "not honoured by proxyless gRPC clients" })
    }
}
