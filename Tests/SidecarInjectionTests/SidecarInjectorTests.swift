import MeshModel
import Testing

@testable import SidecarInjection

/// The injector's decisions and patch, without a cluster (the interop tests hold the output to
/// the Kubernetes schema and the admission API).
struct SidecarInjectorTests {
    let injector = SidecarInjector(values: InjectionValues())

    func pod(labels: [String: JSONValue] = ["app": "reviews"], annotations: [String: JSONValue]? = nil, spec: [String: JSONValue] = [:]) -> JSONValue
    {
        var metadata: [String: JSONValue] = ["name": "reviews-1", "labels": .object(labels)]
        if let annotations { metadata["annotations"] = .object(annotations) }
        var fullSpec: [String: JSONValue] = ["containers": [["name": "reviews", "image": "reviews:1"]]]
        fullSpec.merge(spec) { $1 }
        return ["apiVersion": "v1", "kind": "Pod", "metadata": .object(metadata), "spec": .object(fullSpec)]
    }

    func injected(_ outcome: SidecarInjector.Outcome) -> (pod: JSONValue, patch: [JSONValue], warnings: [String])? {
        if case .injected(let pod, let patch, let warnings) = outcome { return (pod, patch, warnings) }
        return nil
    }

    @Test func aPlainPodGetsTheProxyTheInitContainerAndTheVolumes() throws {
        let result = try #require(injected(try injector.inject(pod: pod(), namespace: "default")))
        let containers = result.pod["spec"]?["containers"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(containers == ["reviews", "istio-proxy"])
        #expect(result.pod["spec"]?["initContainers"]?[0]?["name"] == "istio-init")
        #expect(result.pod["spec"]?["volumes"]?.arrayValue?.count == 5)
        #expect(result.pod["metadata"]?["labels"]?["security.istio.io/tlsMode"] == "istio")
        #expect(result.pod["metadata"]?["labels"]?["service.istio.io/canonical-name"] == "reviews")
        #expect(result.pod["metadata"]?["annotations"]?["prometheus.io/port"] == "15090")
        // Absent lists are added whole; annotation keys are JSON-Pointer escaped.
        let paths = result.patch.compactMap { $0["path"]?.stringValue }
        #expect(paths.contains("/spec/initContainers"))
        #expect(paths.contains("/spec/containers/-"))
        #expect(paths.contains("/metadata/labels/security.istio.io~1tlsMode"))
        #expect(paths.contains("/metadata/annotations"))
    }

    @Test func injectingTwiceChangesNothing() throws {
        let first = try #require(injected(try injector.inject(pod: pod(), namespace: "default")))
        #expect(try injector.inject(pod: first.pod, namespace: "default") == .skipped(reason: "already injected (sidecar.istio.io/status is set)"))
    }

    @Test func podsMeshdLeavesAlone() throws {
        #expect(try injector.inject(pod: pod(), namespace: "kube-system") == .skipped(reason: "namespace kube-system is never injected"))
        #expect(try injector.inject(pod: pod(), namespace: "mesh-system") == .skipped(reason: "namespace mesh-system is never injected"))
        #expect(
            try injector.inject(pod: pod(spec: ["hostNetwork": true]), namespace: "default") == .skipped(reason: "the pod uses the host's network"))
        #expect(
            try injector.inject(pod: pod(labels: ["sidecar.istio.io/inject": "false"]), namespace: "default")
                == .skipped(reason: "sidecar.istio.io/inject is false"))
    }

    @Test func aHandWrittenSidecarIsNotInjectedAgain() throws {
        // deploy/sidecar/reviews-sidecar.yaml's shape: its own volumes for the SDS socket and certificates.
        let manual = pod(spec: ["volumes": [["name": "workload-socket", "emptyDir": .object([:])]]])
        guard case .skipped(let reason) = try injector.inject(pod: manual, namespace: "default") else {
            Issue.record("a pod with the sidecar's volumes was injected again")
            return
        }
        #expect(reason.contains("workload-socket"))
    }

    @Test func proxyResourcesMustBeNonNegativeAndRequestsWithinLimits() throws {
        #expect(throws: InjectionError.self) { try injector.inject(pod: pod(annotations: ["sidecar.istio.io/proxyCPU": "-1"]), namespace: "default") }
        #expect(throws: InjectionError.self) { try injector.inject(pod: pod(annotations: ["sidecar.istio.io/proxyCPU": "3"]), namespace: "default") }
        #expect(throws: InjectionError.self) {
            try injector.inject(pod: pod(annotations: ["sidecar.istio.io/proxyMemory": "2Gi"]), namespace: "default")
        }
        let fits = pod(annotations: ["sidecar.istio.io/proxyCPU": "3", "sidecar.istio.io/proxyCPULimit": "4000m"])
        #expect(injected(try injector.inject(pod: fits, namespace: "default")) != nil)
    }

    @Test func theProxyReportsThePodsFinalLabels() throws {
        let result = try #require(injected(try injector.inject(pod: pod(), namespace: "default")))
        let env = result.pod["spec"]?["containers"]?[1]?["env"]?.arrayValue ?? []
        let labels = env.first { $0["name"] == "MESH_POD_LABELS" }?["value"]?.stringValue
        #expect(
            labels == "app=reviews,security.istio.io/tlsMode=istio,service.istio.io/canonical-name=reviews,service.istio.io/canonical-revision=latest"
        )
    }

    @Test func trafficAnnotationsReachTheInitContainerAndMalformedOnesAreRefused() throws {
        let annotated = pod(annotations: [
            "traffic.sidecar.istio.io/excludeInboundPorts": "9090, 8081",
            "traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.0.0.0/8,169.254.169.254",
            "traffic.sidecar.istio.io/includeOutboundPorts": "80",
        ])
        let result = try #require(injected(try injector.inject(pod: annotated, namespace: "default")))
        let args = result.pod["spec"]?["initContainers"]?[0]?["args"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let excludedInbound = args.firstIndex(of: "--exclude-inbound-ports").map { args[$0 + 1] }
        #expect(excludedInbound == "9090,8081,15090,15021,15020")
        #expect(args.firstIndex(of: "--exclude-outbound-cidrs").map { args[$0 + 1] } == "10.0.0.0/8,169.254.169.254/32")
        #expect(result.warnings.count == 1)
        let bad = pod(annotations: ["traffic.sidecar.istio.io/excludeInboundPorts": "80,abc"])
        #expect(throws: InjectionError.self) { try injector.inject(pod: bad, namespace: "default") }
        let badQuantity = pod(annotations: ["sidecar.istio.io/proxyCPU": "lots"])
        #expect(throws: InjectionError.self) { try injector.inject(pod: badQuantity, namespace: "default") }
    }

    @Test func istioAnnotationsTheInjectorDoesNotReadAreNamedInWarnings() throws {
        let annotated = pod(annotations: [
            "sidecar.istio.io/proxyImage": "my/proxy:1", "proxy.istio.io/config": "{}", "sidecar.istio.io/proxyCPU": "200m",
            "example.com/owner": "team-a",
        ])
        let result = try #require(injected(try injector.inject(pod: annotated, namespace: "default")))
        #expect(
            result.warnings == [
                "proxy.istio.io/config is not honoured by meshd's sidecar injector (docs/injection.md lists what is)",
                "sidecar.istio.io/proxyImage is not honoured by meshd's sidecar injector (docs/injection.md lists what is)",
            ])
    }

    @Test func theApplicationsOwnScrapeAnnotationsAreKept() throws {
        let own = pod(annotations: ["prometheus.io/port": "9102", "prometheus.io/scrape": "true"])
        let result = try #require(injected(try injector.inject(pod: own, namespace: "default")))
        #expect(result.pod["metadata"]?["annotations"]?["prometheus.io/port"] == "9102")
        #expect(result.pod["metadata"]?["annotations"]?["prometheus.io/path"] == nil)
    }

    @Test func theWorkloadNameComesFromGenerateName() {
        #expect(SidecarInjector.workloadName(["generateName": "reviews-v1-7d9f8b6c4d-"]) == "reviews-v1")
        #expect(SidecarInjector.workloadName(["generateName": "ratings-"]) == "ratings")
    }

    @Test func valuesRefuseUnknownKeysAndKeepDefaults() throws {
        let values = try InjectionValues.parse("hub: registry.example/mesh\nproxy:\n  resources:\n    limits: {cpu: 500m}\n", source: "v.yaml")
        #expect(values.proxyImage == "registry.example/mesh/proxy:\(InjectionValues.defaultTag)")
        #expect(values.resources.limitsCPU == "500m")
        #expect(values.resolvedDiscoveryAddress == "meshd.mesh-system.svc:15013")
        #expect(throws: InjectionError.self) { try InjectionValues.parse("hubb: x\n", source: "v.yaml") }
        #expect(throws: InjectionError.self) { try InjectionValues.parse("proxy: {resources: {limits: {cpu: many}}}\n", source: "v.yaml") }
        // What an install writes reads back as the same values.
        let again = try InjectionValues.from(values.document, source: "round trip")
        #expect(again == values)
    }
}
