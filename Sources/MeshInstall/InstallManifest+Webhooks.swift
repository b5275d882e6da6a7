import MeshModel

extension InstallManifest {
    /// The validating webhook (Istio resources checked by meshd) and the sidecar injector's three
    /// webhooks, with Istio's selectors (docs/injection.md). Neither carries a caBundle: meshd's
    /// elected replica patches in its CA and sets `failurePolicy: Fail` once it runs.
    func webhooks() -> [JSONValue] {
        let service = { (path: String) -> JSONValue in
            ["service": ["name": "meshd", "namespace": .string(namespace), "path": .string(path), "port": 443]]
        }
        let rules: [JSONValue] = Self.istioResources.map { group, versions, resources in
            [
                // scope spelled out: the API server defaults it, and a rule without it would make
                // every server-side apply a change (kubernetes#121404).
                "operations": ["CREATE", "UPDATE"], "apiGroups": [.string(group)], "scope": "*",
                "apiVersions": .array(versions.map(JSONValue.string)), "resources": .array(resources.map(JSONValue.string)),
            ]
        }
        let validating: JSONValue = [
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": meta("meshd-validator", namespaced: false, labels: ["app": "meshd"]),
            "webhooks": [
                [
                    "name": "validation.meshd.io", "clientConfig": service("/validate"), "rules": .array(rules),
                    // Ignore until meshd has patched the caBundle (the API server cannot call a
                    // webhook it has no CA for); meshd then sets Fail.
                    "failurePolicy": "Ignore", "matchPolicy": "Equivalent", "sideEffects": "None",
                    "admissionReviewVersions": ["v1"], "timeoutSeconds": 10,
                ]
            ],
        ]
        let revision = values.string("revision")
        let notFalse: JSONValue = ["key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]]
        let injector = { (name: String, namespaceSelector: [JSONValue], objectSelector: [JSONValue]) -> JSONValue in
            [
                "name": .string(name), "clientConfig": service("/inject"),
                "rules": [["operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "scope": "*"]],
                "namespaceSelector": ["matchExpressions": .array(namespaceSelector)],
                "objectSelector": ["matchExpressions": .array(objectSelector)],
                // A pod in an injected namespace is not created without its sidecar.
                "failurePolicy": "Fail", "reinvocationPolicy": "Never", "sideEffects": "None",
                "admissionReviewVersions": ["v1"], "timeoutSeconds": 10, "matchPolicy": "Equivalent",
            ]
        }
        let mutating: JSONValue = [
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": meta("meshd-sidecar-injector", namespaced: false, labels: ["app": "meshd"]),
            "webhooks": [
                injector(
                    "namespace.sidecar-injector.meshd.io",
                    [["key": "istio-injection", "operator": "In", "values": ["enabled"]]], [notFalse]),
                injector(
                    "rev.namespace.sidecar-injector.meshd.io",
                    [
                        ["key": "istio.io/rev", "operator": "In", "values": [.string(revision)]],
                        ["key": "istio-injection", "operator": "DoesNotExist"],
                    ], [notFalse]),
                injector(
                    "object.sidecar-injector.meshd.io",
                    [["key": "istio-injection", "operator": "DoesNotExist"], ["key": "istio.io/rev", "operator": "DoesNotExist"]],
                    [["key": "sidecar.istio.io/inject", "operator": "In", "values": ["true"]]]),
            ],
        ]
        return [validating, mutating]
    }
}
