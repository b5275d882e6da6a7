import MeshModel

extension InstallManifest {
    /// meshd's Deployment, PodDisruptionBudget and Service (deploy/kubernetes/meshd-kubernetes.yaml
    /// is the same shape, hand-written): replicas on the Kubernetes store and registry, rolled
    /// one at a time with a surge, never below one ready replica.
    func controlPlane() -> [JSONValue] {
        let app: [String: JSONValue] = ["app": "meshd"]
        let names = ["meshd.\(namespace).svc", "meshd.\(namespace).svc.\(values.string("clusterDomain"))"]
        let args: [JSONValue] =
            [
                "--store", "kubernetes", "--registry", "kubernetes", "--data-dir", "/var/lib/meshd",
                "--cluster-domain", .string(values.string("clusterDomain")),
                "--log-level", .string(values.string("meshd.logLevel")),
                "--injection-values", "/etc/meshd/injector/values.yaml",
            ] + names.flatMap { ["--tls-san", JSONValue.string($0)] }
        let container: JSONValue = [
            "name": "meshd",
            "image": .string("\(hub)/meshd:\(tag)"),
            "imagePullPolicy": .string(pullPolicy),
            "args": .array(args),
            "env": [
                ["name": "POD_NAME", "valueFrom": ["fieldRef": ["fieldPath": "metadata.name"]]],
                ["name": "POD_NAMESPACE", "valueFrom": ["fieldRef": ["fieldPath": "metadata.namespace"]]],
            ],
            "ports": [
                ["name": "grpc-xds", "containerPort": 15010], ["name": "https-xds-ca", "containerPort": 15012],
                ["name": "https-renew", "containerPort": 15013], ["name": "http-admin", "containerPort": 15014],
                ["name": "https-webhook", "containerPort": 15017],
            ],
            "securityContext": ["allowPrivilegeEscalation": false, "capabilities": ["drop": ["ALL"]]],
            // /ready answers 200 once the first configuration is built and pushable: a new
            // replica takes proxies only then, and the rollout waits for it.
            "readinessProbe": ["httpGet": ["path": "/ready", "port": 15014], "periodSeconds": 2],
            "livenessProbe": [
                "httpGet": ["path": "/healthz", "port": 15014], "initialDelaySeconds": 10, "periodSeconds": 10, "failureThreshold": 3,
            ],
            "resources": [
                "requests": [
                    "cpu": .string(values.string("meshd.resources.requests.cpu")),
                    "memory": .string(values.string("meshd.resources.requests.memory")),
                ]
            ],
            "volumeMounts": [
                ["name": "data", "mountPath": "/var/lib/meshd"],
                ["name": "injector", "mountPath": "/etc/meshd/injector", "readOnly": true],
            ],
        ]
        let deployment: JSONValue = [
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": meta("meshd", labels: ["app": "meshd"]),
            "spec": [
                "replicas": .number(Double(values.int("meshd.replicas"))),
                // One new replica at a time, and no old one stopped before it is ready: proxies
                // always have a serving replica to reconnect to.
                "strategy": ["type": "RollingUpdate", "rollingUpdate": ["maxUnavailable": 0, "maxSurge": 1]],
                "selector": ["matchLabels": .object(app)],
                "template": [
                    "metadata": ["labels": .object(app), "annotations": ["sidecar.istio.io/inject": "false"]],
                    "spec": [
                        "serviceAccountName": "meshd",
                        "securityContext": [
                            "runAsNonRoot": true, "runAsUser": 10001, "runAsGroup": 10001, "seccompProfile": ["type": "RuntimeDefault"],
                        ],
                        "affinity": [
                            "podAntiAffinity": [
                                "preferredDuringSchedulingIgnoredDuringExecution": [
                                    [
                                        "weight": 100,
                                        "podAffinityTerm": ["labelSelector": ["matchLabels": .object(app)], "topologyKey": "kubernetes.io/hostname"],
                                    ]
                                ]
                            ]
                        ],
                        "terminationGracePeriodSeconds": 30,
                        "containers": [container],
                        "volumes": [
                            ["name": "data", "emptyDir": .object([:])],
                            ["name": "injector", "configMap": ["name": "meshd-sidecar-injector"]],
                        ],
                    ],
                ],
            ],
        ]
        let budget: JSONValue = [
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta("meshd"),
            "spec": ["minAvailable": 1, "selector": ["matchLabels": .object(app)]],
        ]
        let service: JSONValue = [
            "apiVersion": "v1", "kind": "Service", "metadata": meta("meshd", labels: ["app": "meshd"]),
            "spec": [
                "selector": .object(app),
                "ports": [
                    ["name": "grpc-xds", "port": 15010, "targetPort": 15010],
                    ["name": "https-xds-ca", "port": 15012, "targetPort": 15012],
                    ["name": "https-renew", "port": 15013, "targetPort": 15013],
                    ["name": "http-admin", "port": 15014, "targetPort": 15014],
                    // The API server calls webhooks on 443 unless told otherwise, as istiod's Service.
                    ["name": "https-webhook", "port": 443, "targetPort": 15017],
                ],
            ],
        ]
        return [deployment, budget, service]
    }
}
