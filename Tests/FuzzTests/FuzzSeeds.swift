import MeshModel
import MeshTesting

/// The valid documents mutations start from, and the fixed baseline every case is translated
/// with (so a mutated route still resolves to real clusters and the generators have work to do).
enum FuzzSeeds {
    /// One valid document per shape meshd implements: every kind, every field it reads.
    static let texts: [String] = [
        // VirtualService: matches (uri prefix/regex, headers), port, weights, timeout, retries.
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews, namespace: default}
        spec:
          hosts: [reviews]
          gateways: [mesh]
          http:
          - name: jason
            match:
            - name: by-user
              uri: {prefix: /reviews.Reviews/}
              headers:
                end-user: {exact: jason}
                x-trace: {regex: "[a-f0-9]{16}"}
              port: 9080
            route:
            - destination: {host: reviews, subset: v2, port: {number: 9080}}
            timeout: 5s
            retries: {attempts: 3, perTryTimeout: 2s, retryOn: "unavailable,cancelled"}
          - route:
            - destination: {host: reviews, subset: v1}
              weight: 75
            - destination: {host: reviews.default.svc.cluster.local, subset: v2}
              weight: 25
        """,
        // VirtualService across services and ports, exact and regex URIs.
        """
        apiVersion: networking.istio.io/v1beta1
        kind: VirtualService
        metadata: {name: ratings, namespace: default}
        spec:
          hosts: [ratings.default.svc.cluster.local]
          http:
          - match:
            - uri: {exact: /ratings.Ratings/Get}
            - uri: {regex: "/ratings\\\\.Ratings/.*"}
              headers: {x-canary: {prefix: "yes"}}
            route:
            - destination: {host: ratings, port: {number: 9090}}
              weight: 1
            - destination: {host: ratings, port: {number: 9091}}
              weight: 3
            - destination: {host: reviews, subset: v1}
              weight: 0
            timeout: 1m30s
        """,
        // DestinationRule: subsets, mTLS traffic policy, exportTo.
        """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews-rule, namespace: default, labels: {team: bookinfo}}
        spec:
          host: reviews
          exportTo: [".", "*"]
          trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
          subsets:
          - {name: v1, labels: {version: v1}}
          - {name: v2, labels: {version: v2}}
          - {name: v3, labels: {version: v3, track: canary}}
        """,
        // ServiceEntry with inline endpoints, two ports, targetPort, weights and localities.
        """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: ratings, namespace: default}
        spec:
          hosts: [ratings.default.svc.cluster.local]
          addresses: [10.0.0.7, 10.1.0.0/16]
          location: MESH_INTERNAL
          resolution: STATIC
          ports:
          - {number: 9090, name: grpc, protocol: GRPC, targetPort: 19090}
          - {number: 9091, name: grpc-alt, protocol: GRPC}
          endpoints:
          - {address: 127.0.0.1, ports: {grpc: 9191}, weight: 3, locality: us-east/zone-a/rack-1, labels: {version: v1}}
          - {address: 127.0.0.2, weight: 1, locality: us-west, serviceAccount: ratings, network: net-1}
        """,
        // ServiceEntry, DNS, external.
        """
        apiVersion: networking.istio.io/v1alpha3
        kind: ServiceEntry
        metadata: {name: external-api, namespace: egress}
        spec:
          hosts: [api.example.com]
          location: MESH_EXTERNAL
          resolution: DNS
          ports: [{number: 443, name: https, protocol: HTTPS}]
          endpoints: [{address: api.example.com}]
        """,
        // WorkloadEntry: every field.
        """
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata:
          name: reviews-v3
          namespace: default
          annotations: {meshd.io/healthy: "true"}
        spec:
          address: 127.0.0.3
          ports: {grpc: 9083}
          labels: {app: reviews, version: v3, track: canary}
          network: net-1
          locality: us-east/zone-b
          weight: 7
          serviceAccount: reviews
        """,
        // RequestAuthentication: every JWT rule field (inline keys, so nothing is fetched).
        """
        apiVersion: security.istio.io/v1
        kind: RequestAuthentication
        metadata: {name: users, namespace: default}
        spec:
          selector: {matchLabels: {app: reviews}}
          jwtRules:
          - issuer: https://login.example.com
            audiences: [reviews, web]
            jwks: '{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}'
            fromHeaders: [{name: x-jwt, prefix: "Bearer "}]
            fromParams: [token]
            fromCookies: [session]
            outputPayloadToHeader: x-payload
            outputClaimToHeaders: [{header: x-sub, claim: sub}]
            forwardOriginalToken: true
            timeout: 2s
            spaceDelimitedClaims: [roles]
          - issuer: https://other.example.com
            jwksUri: https://other.example.com:8443/keys
        """,
        // Telemetry: every section (providers need not exist: the translator leaves them out).
        """
        apiVersion: telemetry.istio.io/v1
        kind: Telemetry
        metadata: {name: reviews, namespace: default}
        spec:
          selector: {matchLabels: {app: reviews}}
          accessLogging:
          - providers: [{name: stdout}]
            match: {mode: SERVER}
            filter: {expression: "response.code >= 500"}
          tracing:
          - providers: [{name: zipkin}]
            randomSamplingPercentage: 12.5
            customTags: {team: {literal: {value: web}}, user: {header: {name: x-user, defaultValue: none}}}
          metrics:
          - overrides: [{match: {metric: REQUEST_COUNT, mode: CLIENT}, tagOverrides: {x: {operation: REMOVE}}}]
        """,
        // AuthorizationPolicy: CUSTOM with a provider, and JWT conditions on an ALLOW one.
        """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: ext, namespace: default}
        spec:
          selector: {matchLabels: {app: reviews}}
          action: CUSTOM
          provider: {name: opa}
          rules:
          - to: [{operation: {paths: [/admin/*], methods: [POST]}}]
            when: [{key: "request.headers[x-tenant]", values: [a]}]
        """,
        """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: users, namespace: default}
        spec:
          rules:
          - from: [{source: {requestPrincipals: [https://login.example.com/*]}}]
            when: [{key: "request.auth.claims[groups][team]", values: [a, b*]}]
        """,
    ]

    /// The seeds as trees, parsed once.
    static let trees: [FuzzNode] = texts.map { text in
        do {
            let resources = try ConfigDocumentParser.parse(text)
            return FuzzNode(resources[0].toJSONValue(resourceVersion: nil))
        } catch {
            fatalError("invalid fuzz seed: \(error)\n\(text)")
        }
    }

    /// What every case is translated with besides its own resources: the canary registry and
    /// DestinationRule (reviews v1/v2), so routes can resolve to clusters that exist.
    static let baseline: [ConfigResource] = CanaryFixture.resources(
        CanaryFixture.registry, CanaryFixture.destinationRule(subsets: ["v1", "v2"]))
}
