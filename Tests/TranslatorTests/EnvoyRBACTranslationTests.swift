import EnvoyAPI
import MeshModel
import Testing

@testable import Translator

/// AuthorizationPolicy → RBAC for Envoy sidecars, HTTP and TCP chains, against cases taken as
/// facts from Istio's authz builder test data (`pilot/pkg/security/authz/builder/testdata`,
/// policy in, RBAC out), compared by meaning through `RBACDescription`.
@Suite("AuthorizationPolicy to Envoy RBAC (Istio's builder cases)")
struct EnvoyRBACTranslationTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var spec: String
        var target: RBACTarget
        /// The filter's action and lines.
        var action: Envoy_Config_Rbac_V3_RBAC.Action
        var lines: [String]
        var description: String { "\(name) (\(target))" }
    }

    static let cases: [Case] = [
        // http/allow-empty-rule
        Case(name: "allow-empty-rule", spec: "rules:\n- {}", target: .envoyHTTP, action: .allow, lines: ["ns[foo]-policy[p]-rule[0]: any -> any"]),
        // http/allow-nil-rule: an ALLOW without rules matches nothing, so denies everything.
        Case(name: "allow-nil-rule", spec: "action: ALLOW", target: .envoyHTTP, action: .allow, lines: []),
        // http/deny-empty-rule
        Case(
            name: "deny-empty-rule", spec: "action: DENY\nrules:\n- {}", target: .envoyHTTP, action: .deny,
            lines: ["ns[foo]-policy[p]-rule[0]: any -> any"]),
        // http/allow-path: exact, prefix, suffix, presence, templates, and the not forms.
        Case(
            name: "allow-path",
            spec:
                "rules:\n- to:\n  - operation:\n      paths: [/exact, /prefix/*, '*/suffix', '*', '/path/template/{*}', '/{**}/path/template']\n      notPaths: [/not-exact, '/{*}/x']",
            target: .envoyHTTP, action: .allow,
            lines: [
                "ns[foo]-policy[p]-rule[0]: any -> and(or(path:exact:/exact,path:prefix:/prefix/,path:suffix:/suffix,path:regex:.+,path-template:/path/template/*,path-template:/**/path/template),not(or(path:exact:/not-exact,path-template:/*/x)))"
            ]),
        // For gRPC, which has no template matcher, the same templates as regexes.
        Case(
            name: "path templates for gRPC", spec: "rules:\n- to:\n  - operation: {paths: ['/pkg.Svc/{*}', '/{**}']}", target: .grpc, action: .allow,
            lines: ["ns[foo]-policy[p]-rule[0]: any -> or(path:regex:/pkg\\.Svc/[^/]+,path:regex:/[^/]+(/[^/]+)*)"]),
        // http/allow-full-rule (the parts beyond AuthorizationPolicyTests'): serviceAccounts,
        // namespace wildcards, IP blocks, hosts case-insensitive, ports then `when` ports, SNI.
        Case(
            name: "allow-full-rule",
            spec: """
                rules:
                - from:
                  - source: {namespaces: ['ns-prefix-*'], ipBlocks: [1.2.3.4, 5.6.0.0/16], remoteIpBlocks: [10.0.0.0/8]}
                  to:
                  - operation: {hosts: ['*.suffix.com', 'prefix.*', '*'], ports: ['80', '90']}
                  when:
                  - {key: destination.port, values: ['91', '92']}
                  - {key: connection.sni, values: ['*']}
                """,
            target: .envoyHTTP, action: .allow,
            lines: [
                "ns[foo]-policy[p]-rule[0]: and(authn:regex:.*/ns/ns-prefix-.*/.*,or(ip:1.2.3.4/32,ip:5.6.0.0/16),remote-ip:10.0.0.0/8) -> and(or(header::authority=suffix:.suffix.com(any case),header::authority=prefix:prefix.(any case),header::authority=regex:.+(any case)),or(port:80,port:90),or(port:91,port:92),sni:regex:.+)"
            ]),
        // http/trust-domains
        Case(
            name: "trust-domains",
            spec: "rules:\n- from:\n  - source: {trustDomains: [cluster.local, another.local], notTrustDomains: ['bad*', untrusted]}",
            target: .envoyHTTP, action: .allow,
            lines: [
                "ns[foo]-policy[p]-rule[0]: and(or(authn:regex:spiffe://cluster\\.local/.*,authn:regex:spiffe://another\\.local/.*),not(or(authn:regex:spiffe://bad.*/.*,authn:regex:spiffe://untrusted/.*))) -> any"
            ]),
        // tcp/allow-only-http: every rule needs HTTP, so the TCP filter has no policy: deny all.
        Case(
            name: "tcp allow-only-http",
            spec:
                "rules:\n- from:\n  - source: {requestPrincipals: [id-1]}\n  to:\n  - operation: {methods: [GET]}\n- from:\n  - source: {namespaces: [ns-1]}\n  to:\n  - operation: {hosts: [example.com]}",
            target: .envoyTCP, action: .allow, lines: []),
        // tcp/allow-both-http-tcp: only the rule without HTTP fields stays.
        Case(
            name: "tcp allow-both-http-tcp",
            spec: """
                rules:
                - from:
                  - source: {requestPrincipals: [id-1]}
                  to:
                  - operation: {methods: [GET]}
                - from:
                  - source: {namespaces: [ns-1]}
                  to:
                  - operation: {ports: ['8080'], methods: [GET]}
                - from:
                  - source: {namespaces: [ns-2], requestPrincipals: [id-2]}
                  to:
                  - operation: {ports: ['9090']}
                - from:
                  - source: {namespaces: [ns-1]}
                  to:
                  - operation: {ports: ['80']}
                """,
            target: .envoyTCP, action: .allow, lines: ["ns[foo]-policy[p]-rule[3]: authn:regex:.*/ns/ns-1/.* -> port:80"]),
        // tcp/deny-both-http-tcp: HTTP-only conditions fall away and the rest stays (wider).
        Case(
            name: "tcp deny-both-http-tcp",
            spec: """
                action: DENY
                rules:
                - from:
                  - source: {requestPrincipals: [id-1]}
                  to:
                  - operation: {methods: [GET]}
                - to:
                  - operation: {methods: [GET]}
                - from:
                  - source: {namespaces: [ns-1]}
                  to:
                  - operation: {methods: [GET]}
                - from:
                  - source: {requestPrincipals: [id-1]}
                  to:
                  - operation: {ports: ['80']}
                - from:
                  - source: {namespaces: [ns-2], requestPrincipals: [id-2]}
                  to:
                  - operation: {ports: ['8080'], methods: [GET]}
                - when:
                  - {key: 'request.headers[:method]', values: [GET]}
                - when:
                  - {key: destination.port, values: ['80']}
                """,
            target: .envoyTCP, action: .deny,
            lines: [
                "ns[foo]-policy[p]-rule[0]: any -> any", "ns[foo]-policy[p]-rule[1]: any -> any",
                "ns[foo]-policy[p]-rule[2]: authn:regex:.*/ns/ns-1/.* -> any", "ns[foo]-policy[p]-rule[3]: any -> port:80",
                "ns[foo]-policy[p]-rule[4]: authn:regex:.*/ns/ns-2/.* -> port:8080", "ns[foo]-policy[p]-rule[5]: any -> any",
                "ns[foo]-policy[p]-rule[6]: any -> port:80",
            ]),
        // tcp/audit-both-http-tcp: AUDIT is LOG and drops like DENY.
        Case(
            name: "tcp audit-both-http-tcp",
            spec: "action: AUDIT\nrules:\n- from:\n  - source: {namespaces: [ns-1]}\n  to:\n  - operation: {methods: [GET], ports: ['80']}",
            target: .envoyTCP, action: .log, lines: ["ns[foo]-policy[p]-rule[0]: authn:regex:.*/ns/ns-1/.* -> port:80"]),
        // The same AUDIT on HTTP keeps the method.
        Case(
            name: "http audit", spec: "action: AUDIT\nrules:\n- to:\n  - operation: {methods: [GET]}", target: .envoyHTTP, action: .log,
            lines: ["ns[foo]-policy[p]-rule[0]: any -> header::method=exact:GET"]),
        // JWT attributes: the payload jwt_authn verified (iss and sub, split at the last slash).
        Case(
            name: "requestPrincipals on Envoy HTTP", spec: "rules:\n- from:\n  - source: {requestPrincipals: ['*']}", target: .envoyHTTP,
            action: .allow, lines: ["ns[foo]-policy[p]-rule[0]: and(jwt:iss=regex:.+,jwt:sub=regex:.+) -> any"]),
        Case(
            name: "requestPrincipals by issuer URL", spec: "rules:\n- from:\n  - source: {requestPrincipals: ['https://a.example/*', 'x']}",
            target: .envoyHTTP, action: .allow,
            lines: ["ns[foo]-policy[p]-rule[0]: or(and(jwt:iss=exact:https://a.example,jwt:sub=regex:.+),and(jwt:iss=exact:x,jwt:sub=exact:)) -> any"]
        ),
        Case(
            name: "a claim: a value or a list holding it", spec: "rules:\n- when:\n  - {key: 'request.auth.claims[groups]', values: [admin, 'dev*']}",
            target: .envoyHTTP, action: .allow,
            lines: [
                "ns[foo]-policy[p]-rule[0]: jwt:groups=or(list-has(or(exact:admin,prefix:dev)),or(exact:admin,prefix:dev)) -> any"
            ]),
        Case(
            name: "a nested claim and notValues", spec: "action: DENY\nrules:\n- when:\n  - {key: 'request.auth.claims[a][b.c]', notValues: [x]}",
            target: .envoyHTTP, action: .deny, lines: ["ns[foo]-policy[p]-rule[0]: not(jwt:a.b.c=or(list-has(exact:x),exact:x)) -> any"]),
        Case(
            name: "JWT attributes on a TCP chain: an ALLOW rule allows nothing",
            spec: "rules:\n- from:\n  - source: {requestPrincipals: ['*']}", target: .envoyTCP, action: .allow, lines: []),
    ]

    @Test(arguments: cases)
    func translation(_ test: Case) throws {
        let push = try context([authorizationPolicy("p", "foo", test.spec)])
        let policies = push.authorizationPolicies.policies(namespace: "foo", labels: [:], rootNamespace: push.settings.rootNamespace)
        let filters = AuthorizationFilters.byAction(policies, target: test.target)
        #expect(filters.count == 1)
        let rules = try #require(filters.first?.1)
        #expect(rules.action == test.action)
        #expect(RBACDescription.lines(rules) == test.lines)
    }

    @Test func aDenyAndAnAllowMakeTwoFiltersDenyFirst() throws {
        // http/deny-and-allow
        let push = try context([
            authorizationPolicy("d", "foo", "action: DENY\nrules:\n- from:\n  - source: {principals: [deny]}"),
            authorizationPolicy("a", "foo", "rules:\n- from:\n  - source: {principals: [allow]}"),
        ])
        let policies = push.authorizationPolicies.policies(namespace: "foo", labels: [:], rootNamespace: push.settings.rootNamespace)
        let filters = AuthorizationFilters.byAction(policies, target: .envoyHTTP)
        #expect(filters.map(\.0) == [.deny, .allow])
        #expect(RBACDescription.lines(filters[0].1) == ["ns[foo]-policy[d]-rule[0]: authn:exact:spiffe://deny -> any"])
        #expect(RBACDescription.lines(filters[1].1) == ["ns[foo]-policy[a]-rule[0]: authn:exact:spiffe://allow -> any"])
    }

    @Test(arguments: [
        ("rules:\n- to:\n  - operation: {paths: ['/{**}/a/{*}']}", "spec.rules[0].to[0].operation.paths[0]"),
        ("rules:\n- to:\n  - operation: {notPaths: ['/{name}/{*}']}", "spec.rules[0].to[0].operation.notPaths[0]"),
    ])
    func invalidTemplates(_ spec: String, _ field: String) throws {
        let resource = try #require(try ConfigDocumentParser.parse(authorizationPolicy("p", "foo", spec)).first)
        do {
            _ = try ConfigValidator.validate(resource)
            Issue.record("accepted: \(spec)")
        } catch {
            #expect(error.field == field)
        }
    }
}
