import MeshModel

extension InstallManifest {
    /// The Istio kinds meshd serves, by API group (what the ClusterRole and the validating
    /// webhook name).
    static let istioResources: [(group: String, versions: [String], resources: [String])] = [
        (
            "networking.istio.io", ["v1", "v1beta1", "v1alpha3"],
            ["virtualservices", "destinationrules", "serviceentries", "workloadentries", "gateways", "sidecars"]
        ),
        ("security.istio.io", ["v1", "v1beta1"], ["peerauthentications", "authorizationpolicies", "requestauthentications"]),
        ("telemetry.istio.io", ["v1", "v1alpha1"], ["telemetries"]),
    ]

    /// The Gateway API kinds meshd serves: read and written like Istio's, routes' status
    /// written (`status.parents`). Not validated by meshd's webhook: the cluster's CRDs (maybe
    /// the experimental channel, for other controllers) are the API server's to check.
    static let gatewayResources: (group: String, resources: [String], statuses: [String]) = (
        "gateway.networking.k8s.io", ["httproutes", "grpcroutes", "referencegrants"], ["httproutes/status", "grpcroutes/status"]
    )

    /// meshd's ServiceAccount, ClusterRole and Role with their bindings: verb by verb what meshd
    /// does (docs/kubernetes.md explains each rule).
    func rbac() -> [JSONValue] {
        var rules: [JSONValue] = []
        for (group, _, resources) in Self.istioResources {
            let names = resources.map(JSONValue.string)
            rules.append(rule([group], names, ["get", "list", "watch"]))
            rules.append(rule([group], names, ["create", "update", "patch", "delete"]))
            rules.append(rule([group], resources.map { .string("\($0)/status") }, ["get", "update", "patch"]))
        }
        let gateway = Self.gatewayResources
        rules.append(rule([gateway.group], gateway.resources.map(JSONValue.string), ["get", "list", "watch"]))
        rules.append(rule([gateway.group], gateway.resources.map(JSONValue.string), ["create", "update", "patch", "delete"]))
        rules.append(rule([gateway.group], gateway.statuses.map(JSONValue.string), ["get", "update", "patch"]))
        rules += [
            // The registry lists and watches these; the root-certificate publisher lists namespaces.
            rule([""], ["services", "pods", "nodes", "namespaces"], ["list", "watch"]),
            rule(["discovery.k8s.io"], ["endpointslices"], ["list", "watch"]),
            // Gateway credentials (credentialName) are Secrets in the gateways' namespaces.
            rule([""], ["secrets"], ["list", "watch"]),
            // The ConfigMap istio-ca-root-cert in every namespace (the sidecars' trust anchor).
            rule([""], ["configmaps"], ["get", "list", "watch", "create", "update"]),
            rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
            // meshd keeps both webhook configurations trusting its CA.
            .object([
                "apiGroups": ["admissionregistration.k8s.io"], "resources": ["validatingwebhookconfigurations"],
                "resourceNames": ["meshd-validator"], "verbs": ["get", "update"],
            ]),
            .object([
                "apiGroups": ["admissionregistration.k8s.io"], "resources": ["mutatingwebhookconfigurations"],
                "resourceNames": ["meshd-sidecar-injector"], "verbs": ["get", "update"],
            ]),
        ]
        let subject: JSONValue = ["kind": "ServiceAccount", "name": "meshd", "namespace": .string(namespace)]
        let local: [JSONValue] = [
            .object([
                "apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["meshd-leader"], "verbs": ["get", "update"],
            ]),
            rule(["coordination.k8s.io"], ["leases"], ["create"]),
            // The history ledger and each replica's proxy-status share.
            rule([""], ["configmaps"], ["get", "list", "watch", "create", "update", "delete"]),
            .object(["apiGroups": [""], "resources": ["secrets"], "resourceNames": ["meshd-ca"], "verbs": ["get", "update"]]),
            rule([""], ["secrets"], ["create"]),
        ]
        return [
            ["apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("meshd")],
            [
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta("meshd", namespaced: false),
                "rules": .array(rules),
            ],
            [
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": meta("meshd", namespaced: false),
                "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "meshd"], "subjects": [subject],
            ],
            ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta("meshd"), "rules": .array(local)],
            [
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta("meshd"),
                "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "meshd"], "subjects": [subject],
            ],
        ]
    }

    private func rule(_ groups: [String], _ resources: [JSONValue], _ verbs: [String]) -> JSONValue {
        .object([
            "apiGroups": .array(groups.map(JSONValue.string)), "resources": .array(resources),
            "verbs": .array(verbs.map(JSONValue.string)),
        ])
    }

    private func rule(_ groups: [String], _ resources: [String], _ verbs: [String]) -> JSONValue {
        rule(groups, resources.map(JSONValue.string), verbs)
    }
}
