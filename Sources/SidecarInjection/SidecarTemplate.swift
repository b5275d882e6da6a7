import MeshModel

/// The containers, volumes, labels and annotations an injected pod gets (docs/injection.md,
/// "What the patch adds"), as Kubernetes JSON. Pure.
struct SidecarTemplate {
    let values: InjectionValues
    let capture: TrafficCapture
    let resources: InjectionValues.ProxyResources
    /// The pod's labels at admission, handed to the proxy (node metadata LABELS).
    let podLabels: [String: String]
    /// `sidecar`, or `router` for a gateway (the node id's first part).
    var proxyType = "sidecar"

    static let proxyName = "istio-proxy"
    static let initName = "istio-init"
    /// Volume names, in the order the status annotation lists them.
    static let volumeNames = ["workload-socket", "workload-certs", "istio-envoy", "istio-token", "istiod-ca-cert"]
    /// The projected token's audience: what meshd's CA asks a TokenReview to accept.
    static let tokenAudience = "istio-ca"
    /// The ConfigMap meshd keeps in every namespace, holding its root certificate.
    static let rootCertConfigMap = "istio-ca-root-cert"

    var initContainer: JSONValue {
        .object([
            "name": .string(Self.initName),
            "image": .string(values.initImage),
            "imagePullPolicy": .string(values.imagePullPolicy),
            "args": .array(capture.arguments.map(JSONValue.string)),
            "resources": resources.document,
            "securityContext": .object([
                "allowPrivilegeEscalation": false, "privileged": false, "readOnlyRootFilesystem": false,
                "runAsGroup": 0, "runAsNonRoot": false, "runAsUser": 0,
                "capabilities": .object(["add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]]),
            ]),
        ])
    }

    var proxyContainer: JSONValue {
        let labels = podLabels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        return .object([
            "name": .string(Self.proxyName),
            "image": .string(values.proxyImage),
            "imagePullPolicy": .string(values.imagePullPolicy),
            "env": .array([
                Self.fieldEnv("POD_NAME", "metadata.name"),
                Self.fieldEnv("POD_NAMESPACE", "metadata.namespace"),
                Self.fieldEnv("INSTANCE_IP", "status.podIP"),
                Self.fieldEnv("SERVICE_ACCOUNT", "spec.serviceAccountName"),
                Self.env("MESH_POD_LABELS", labels),
                Self.env("MESH_DISCOVERY_ADDRESS", values.resolvedDiscoveryAddress),
                Self.env("MESH_CA_ADDRESS", values.resolvedCAAddress),
                Self.env("MESH_SERVER_NAME", values.resolvedServerName),
                Self.env("ISTIO_META_CLUSTER_ID", values.clusterID),
                Self.env("MESH_CLUSTER_DOMAIN", values.clusterDomain),
                Self.env("MESH_PROXY_TYPE", proxyType),
            ]),
            "ports": [["containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"]],
            "readinessProbe": .object([
                "httpGet": .object(["path": "/healthz/ready", "port": 15021]),
                "initialDelaySeconds": 1, "periodSeconds": 2, "timeoutSeconds": 3, "failureThreshold": 30,
            ]),
            "resources": resources.document,
            "securityContext": .object([
                "allowPrivilegeEscalation": false, "privileged": false, "readOnlyRootFilesystem": true,
                "runAsGroup": .number(Double(TrafficCapture.proxyUID)), "runAsNonRoot": true,
                "runAsUser": .number(Double(TrafficCapture.proxyUID)),
                "capabilities": .object(["drop": ["ALL"]]),
            ]),
            "volumeMounts": [
                ["name": "workload-socket", "mountPath": "/var/run/secrets/workload-spiffe-uds"],
                ["name": "workload-certs", "mountPath": "/var/run/secrets/workload-spiffe-credentials"],
                ["name": "istio-envoy", "mountPath": "/etc/istio/proxy"],
                ["name": "istio-token", "mountPath": "/var/run/secrets/tokens"],
                ["name": "istiod-ca-cert", "mountPath": "/var/run/secrets/istio"],
            ],
        ])
    }

    var volumes: [JSONValue] {
        [
            ["name": "workload-socket", "emptyDir": .object([:])],
            ["name": "workload-certs", "emptyDir": .object([:])],
            ["name": "istio-envoy", "emptyDir": ["medium": "Memory"]],
            [
                "name": "istio-token",
                "projected": [
                    "sources": [
                        [
                            "serviceAccountToken": [
                                "audience": .string(Self.tokenAudience), "expirationSeconds": 43_200, "path": "istio-token",
                            ]
                        ]
                    ]
                ],
            ],
            ["name": "istiod-ca-cert", "configMap": ["name": .string(Self.rootCertConfigMap)]],
        ]
    }

    /// `sidecar.istio.io/status`, Istio's shape: what was added, so a later injection (or
    /// removal) knows.
    var status: String {
        JSONValue.object([
            "initContainers": [.string(Self.initName)],
            "containers": [.string(Self.proxyName)],
            "volumes": .array(Self.volumeNames.map(JSONValue.string)),
            "imagePullSecrets": .null,
            "revision": .string(values.revision),
        ]).canonicalJSON()
    }

    private static func env(_ name: String, _ value: String) -> JSONValue {
        ["name": .string(name), "value": .string(value)]
    }

    private static func fieldEnv(_ name: String, _ path: String) -> JSONValue {
        ["name": .string(name), "valueFrom": ["fieldRef": ["apiVersion": "v1", "fieldPath": .string(path)]]]
    }
}
