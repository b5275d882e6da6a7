import MeshModel
import SidecarInjection

extension InstallManifest {
    /// The gateways an install can deploy, with Istio's names and labels (what Gateway
    /// resources' selectors match: `istio: ingressgateway`).
    enum GatewayKind {
        case ingress, egress

        var name: String { self == .ingress ? "istio-ingressgateway" : "istio-egressgateway" }
        var labels: [String: String] {
            self == .ingress
                ? ["app": "istio-ingressgateway", "istio": "ingressgateway"] : ["app": "istio-egressgateway", "istio": "egressgateway"]
        }
        var valuesKey: String { self == .ingress ? "gateways.ingress" : "gateways.egress" }
    }

    /// A gateway's ServiceAccount, Deployment, PodDisruptionBudget and Service. The proxy is the
    /// sidecar's (`SidecarInjector.gatewayProxy`) as a router: no traffic capture, and it binds
    /// the Gateway resources' ports itself (80, 443: unprivileged ports start at 0 in its pod).
    func gateway(_ kind: GatewayKind) -> [JSONValue] {
        let proxy = SidecarInjector(values: injectionValues).gatewayProxy(labels: kind.labels)
        let selector = JSONValue.object(kind.labels.mapValues(JSONValue.string))
        let replicas = values.int("\(kind.valuesKey).replicas")
        let deployment: JSONValue = [
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(kind.name, labels: kind.labels),
            "spec": [
                "replicas": .number(Double(replicas)),
                "strategy": ["type": "RollingUpdate", "rollingUpdate": ["maxUnavailable": 0, "maxSurge": 1]],
                "selector": ["matchLabels": selector],
                "template": [
                    "metadata": [
                        "labels": .object(
                            kind.labels.merging(["sidecar.istio.io/inject": "false"]) { $1 }.mapValues(JSONValue.string)),
                        "annotations": [
                            "prometheus.io/scrape": "true", "prometheus.io/port": "15090", "prometheus.io/path": "/stats/prometheus",
                        ],
                    ],
                    "spec": [
                        "serviceAccountName": .string(kind.name),
                        "securityContext": [
                            "runAsNonRoot": true, "runAsUser": 1337, "runAsGroup": 1337, "fsGroup": 1337,
                            "sysctls": [["name": "net.ipv4.ip_unprivileged_port_start", "value": "0"]],
                        ],
                        "containers": [proxy.container],
                        "volumes": .array(proxy.volumes),
                    ],
                ],
            ],
        ]
        var ports: [JSONValue] = [["name": "status-port", "port": 15021, "targetPort": 15021, "protocol": "TCP"]]
        ports += [
            ["name": "http2", "port": 80, "targetPort": 80, "protocol": "TCP"],
            ["name": "https", "port": 443, "targetPort": 443, "protocol": "TCP"],
        ]
        let type = kind == .ingress ? values.string("gateways.ingress.serviceType") : "ClusterIP"
        let service: JSONValue = [
            "apiVersion": "v1", "kind": "Service", "metadata": meta(kind.name, labels: kind.labels),
            "spec": ["type": .string(type), "selector": selector, "ports": .array(ports)],
        ]
        let budget: JSONValue = [
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta(kind.name, labels: kind.labels),
            "spec": ["minAvailable": 1, "selector": ["matchLabels": selector]],
        ]
        let account: JSONValue = ["apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(kind.name, labels: kind.labels)]
        // One replica with minAvailable 1 would block every node drain; the budget comes with 2+.
        return replicas > 1 ? [account, deployment, budget, service] : [account, deployment, service]
    }
}
