import Discovery
import MeshModel
import Testing

@testable import Kubernetes

/// Objects as the API server sends them (JSON), for the registry.
enum KubeObjects {
    static func object(_ json: String) -> KubeObject {
        guard let value = try? JSONValue.parse(json: json), let object = KubeObject(body: value) else {
            fatalError("bad test object: \(json)")
        }
        return object
    }

    static func service(
        _ name: String, namespace: String = "default", rv: String = "1", ports: String = #"[{"name":"grpc-api","port":9080,"targetPort":8080}]"#,
        extra: String = #""clusterIP":"10.96.0.10","selector":{"app":"reviews"}"#, labels: String = "{}"
    ) -> KubeObject {
        object(
            #"{"metadata":{"name":"\#(name)","namespace":"\#(namespace)","resourceVersion":"\#(rv)","labels":\#(labels)},"spec":{"ports":\#(ports),\#(extra)}}"#
        )
    }

    static func pod(
        _ name: String, ip: String, labels: String = #"{"app":"reviews","version":"v1"}"#, rv: String = "1", node: String = "node-a",
        ready: Bool = true
    ) -> KubeObject {
        object(
            #"{"metadata":{"name":"\#(name)","namespace":"default","resourceVersion":"\#(rv)","labels":\#(labels)},"spec":{"serviceAccountName":"reviews-sa","nodeName":"\#(node)"},"status":{"podIP":"\#(ip)","conditions":[{"type":"Ready","status":"\#(ready ? "True" : "False")"}]}}"#
        )
    }

    /// A slice of `service` whose endpoints are (ip, pod name or nil, conditions JSON).
    static func slice(
        _ name: String, service: String = "reviews", rv: String = "1", endpoints: [(String, String?, String)],
        ports: String = #"[{"name":"grpc-api","port":8080}]"#
    ) -> KubeObject {
        let items = endpoints.map { ip, pod, conditions in
            let ref = pod.map { #","targetRef":{"kind":"Pod","name":"\#($0)","namespace":"default"}"# } ?? ""
            return #"{"addresses":["\#(ip)"],"conditions":\#(conditions)\#(ref)}"#
        }
        return object(
            #"{"metadata":{"name":"\#(name)","namespace":"default","resourceVersion":"\#(rv)","labels":{"kubernetes.io/service-name":"\#(service)"}},"addressType":"IPv4","ports":\#(ports),"endpoints":[\#(items.joined(separator: ","))]}"#
        )
    }

    static func node(_ name: String, zone: String, rv: String = "1") -> KubeObject {
        object(
            #"{"metadata":{"name":"\#(name)","resourceVersion":"\#(rv)","labels":{"topology.kubernetes.io/region":"r1","topology.kubernetes.io/zone":"\#(zone)"}}}"#
        )
    }
}

@Suite struct KubernetesRegistryTests {
    let host = "reviews.default.svc.cluster.local"

    /// A registry holding node-a, the reviews Service, pods v1 and v2 and one slice with both.
    func populated() -> KubernetesRegistry {
        var registry = KubernetesRegistry()
        _ = registry.upsert(.nodes, KubeObjects.node("node-a", zone: "z1"))
        _ = registry.upsert(.services, KubeObjects.service("reviews"))
        _ = registry.upsert(.pods, KubeObjects.pod("reviews-v1", ip: "127.0.0.2"))
        _ = registry.upsert(.pods, KubeObjects.pod("reviews-v2", ip: "127.0.0.3", labels: #"{"app":"reviews","version":"v2"}"#))
        _ = registry.upsert(
            .endpointslices,
            KubeObjects.slice(
                "reviews-1", endpoints: [("127.0.0.2", "reviews-v1", #"{"ready":true}"#), ("127.0.0.3", "reviews-v2", #"{"ready":true}"#)]))
        return registry
    }

    @Test func aServiceWithItsSlicesAndPodsBecomesAServiceWithEndpoints() throws {
        let registry = populated()
        let service = try #require(registry.output.services[host])
        #expect(service.source == RegistrySource(kind: .service, namespace: "default", name: "reviews"))
        #expect(service.ports == [Service.Port(number: 9080, name: "grpc-api", protocolName: "GRPC", targetPort: 8080)])
        #expect(service.addresses == ["10.96.0.10"])
        #expect(service.resolution == .static)
        #expect(registry.output.selectors[host] == ["app": "reviews"])
        let endpoints = try #require(registry.output.endpoints[host]?[9080])
        #expect(endpoints.map(\.address) == ["127.0.0.2", "127.0.0.3"])
        #expect(endpoints.map(\.port) == [8080, 8080])  // the slice's port, joined by name
        #expect(endpoints.map { $0.labels["version"] } == ["v1", "v2"])
        #expect(endpoints.allSatisfy { $0.serviceAccount == "reviews-sa" && $0.health == .healthy })
        #expect(endpoints[0].locality == Locality(region: "r1", zone: "z1"))
        #expect(endpoints[0].source == RegistrySource(kind: .pod, namespace: "default", name: "reviews-v1"))
    }

    @Test func aPodTurningNotReadyIsAnEndpointOnlyChange() throws {
        var registry = populated()
        let change = registry.upsert(
            .endpointslices,
            KubeObjects.slice(
                "reviews-1", rv: "2",
                endpoints: [("127.0.0.2", "reviews-v1", #"{"ready":true}"#), ("127.0.0.3", "reviews-v2", #"{"ready":false,"terminating":false}"#)]))
        #expect(change == KubernetesRegistry.Change(services: false, endpointHosts: [host]))
        #expect(registry.output.endpoints[host]?[9080]?.map(\.health) == [.healthy, .unhealthy])
        // The same slice again changes nothing.
        #expect(
            registry.upsert(
                .endpointslices,
                KubeObjects.slice(
                    "reviews-1", rv: "2",
                    endpoints: [
                        ("127.0.0.2", "reviews-v1", #"{"ready":true}"#), ("127.0.0.3", "reviews-v2", #"{"ready":false,"terminating":false}"#),
                    ]
                )
            ).isEmpty)
    }

    @Test func healthFollowsIstiosMapping() {
        typealias Entry = KubeEndpointSlice.Entry
        func entry(_ ready: Bool?, _ serving: Bool?, _ terminating: Bool?) -> Entry {
            Entry(addresses: ["1.1.1.1"], ready: ready, serving: serving, terminating: terminating, pod: nil, nodeName: nil)
        }
        #expect(entry(nil, nil, nil).health(drains: false) == .healthy)
        #expect(entry(true, true, false).health(drains: false) == .healthy)
        #expect(entry(false, false, false).health(drains: false) == .unhealthy)
        // Not ready and terminating (or unknown): Terminating, not sent — unless the Service drains.
        #expect(entry(false, true, true).health(drains: false) == nil)
        #expect(entry(false, nil, nil).health(drains: false) == nil)
        #expect(entry(false, true, true).health(drains: true) == .draining)
        #expect(entry(false, false, true).health(drains: true) == nil)
    }

    @Test func anEndpointWaitsForItsPodAndAPodLabelChangeMovesOnlyEndpoints() throws {
        var registry = KubernetesRegistry()
        _ = registry.upsert(.services, KubeObjects.service("reviews"))
        let sliceChange = registry.upsert(.endpointslices, KubeObjects.slice("reviews-1", endpoints: [("127.0.0.2", "reviews-v1", "{}")]))
        #expect(sliceChange.endpointHosts.isEmpty)  // its pod is not known yet: left out
        #expect(registry.output.endpoints[host]?[9080] == [])
        let podChange = registry.upsert(.pods, KubeObjects.pod("reviews-v1", ip: "127.0.0.2"))
        #expect(podChange == KubernetesRegistry.Change(services: false, endpointHosts: [host]))
        #expect(registry.output.endpoints[host]?[9080]?.count == 1)
        let relabel = registry.upsert(.pods, KubeObjects.pod("reviews-v1", ip: "127.0.0.2", labels: #"{"app":"reviews","version":"v3"}"#, rv: "2"))
        #expect(relabel == KubernetesRegistry.Change(services: false, endpointHosts: [host]))
        #expect(registry.output.endpoints[host]?[9080]?.first?.labels["version"] == "v3")
        #expect(registry.delete(.pods, KubeObjects.pod("reviews-v1", ip: "127.0.0.2", rv: "3")).endpointHosts == [host])
        #expect(registry.output.endpoints[host]?[9080] == [])
    }

    @Test func aServiceChangeIsAServiceChangeAndADeleteRemovesIt() {
        var registry = populated()
        let change = registry.upsert(.services, KubeObjects.service("reviews", rv: "2", ports: #"[{"name":"grpc-api","port":9081}]"#))
        #expect(change.services)
        #expect(registry.output.services[host]?.ports.map(\.number) == [9081])
        #expect(registry.delete(.services, KubeObjects.service("reviews", rv: "3")).services)
        #expect(registry.output.services[host] == nil && registry.output.endpoints[host] == nil)
    }

    @Test func aNodeLabelChangeMovesItsPodsLocality() {
        var registry = populated()
        let change = registry.upsert(.nodes, KubeObjects.node("node-a", zone: "z2", rv: "2"))
        #expect(change == KubernetesRegistry.Change(services: false, endpointHosts: [host]))
        #expect(registry.output.endpoints[host]?[9080]?.first?.locality.zone == "z2")
    }

    @Test func anAddressInTwoSlicesCountsOnceAndSlicesWithoutPodsKeepTheirAddresses() {
        var registry = populated()
        _ = registry.upsert(
            .endpointslices,
            KubeObjects.slice("reviews-2", endpoints: [("127.0.0.2", "reviews-v1", "{}"), ("127.0.0.9", nil, "{}")]))
        let endpoints = registry.output.endpoints[host]?[9080] ?? []
        #expect(endpoints.map(\.address) == ["127.0.0.2", "127.0.0.3", "127.0.0.9"])
        #expect(endpoints.last?.source == RegistrySource(kind: .endpointSlice, namespace: "default", name: "reviews-2"))
        #expect(endpoints.last?.serviceAccount == nil)
    }

    @Test func anEndpointWithoutAPodTakesTheReadyPodWithItsIPWhenItArrives() {
        var registry = KubernetesRegistry()
        _ = registry.upsert(.services, KubeObjects.service("reviews"))
        _ = registry.upsert(.endpointslices, KubeObjects.slice("reviews-1", endpoints: [("127.0.0.9", nil, "{}")]))
        #expect(registry.output.endpoints[host]?[9080]?.first?.labels == [:])
        let unrelated = registry.upsert(.pods, KubeObjects.pod("other", ip: "127.0.0.8"))
        #expect(unrelated.isEmpty)
        let change = registry.upsert(.pods, KubeObjects.pod("vm-like", ip: "127.0.0.9"))
        #expect(change == KubernetesRegistry.Change(services: false, endpointHosts: [host]))
        #expect(registry.output.endpoints[host]?[9080]?.first?.labels["version"] == "v1")
        #expect(registry.output.endpoints[host]?[9080]?.first?.source == RegistrySource(kind: .pod, namespace: "default", name: "vm-like"))
        // A pod that is not ready lends nothing.
        _ = registry.upsert(.pods, KubeObjects.pod("vm-like", ip: "127.0.0.9", rv: "2", ready: false))
        #expect(registry.output.endpoints[host]?[9080]?.first?.serviceAccount == nil)
    }

    @Test func headlessExternalNameAndHiddenServices() {
        var registry = KubernetesRegistry(clusterDomain: "corp.example")
        _ = registry.upsert(.services, KubeObjects.service("db", extra: #""clusterIP":"None","selector":{"app":"db"}"#))
        _ = registry.upsert(.services, KubeObjects.service("alias", extra: #""type":"ExternalName","externalName":"db.example.com""#))
        _ = registry.upsert(
            .services,
            KubeObjects.object(
                #"{"metadata":{"name":"hidden","namespace":"default","resourceVersion":"1","annotations":{"networking.istio.io/exportTo":"~"}},"spec":{"ports":[{"port":80}]}}"#
            ))
        let headless = registry.output.services["db.default.svc.corp.example"]
        #expect(headless?.resolution == Service.Resolution.none && headless?.addresses == [])
        #expect(registry.output.selectors["db.default.svc.corp.example"] == nil)
        #expect(registry.output.services["alias.default.svc.corp.example"] == nil)
        #expect(registry.output.aliases == ["alias.default.svc.corp.example": "db.example.com"])
        #expect(registry.output.services["hidden.default.svc.corp.example"] == nil)
        #expect(registry.unservedServices.map(\.key.name) == ["hidden"])
    }

    @Test func protocolsFollowIstiosRules() {
        func proto(_ name: String, _ app: String? = nil, transport: String = "TCP", port: Int = 8080) -> String {
            KubeService.protocolName(name: name, appProtocol: app, transport: transport, port: port)
        }
        #expect(proto("grpc") == "GRPC")
        #expect(proto("http-api") == "HTTP")
        #expect(proto("HTTP2-x") == "HTTP2")
        #expect(proto("grpc-web-ui") == "GRPC-WEB")
        #expect(proto("httpapi") == "")  // no match: sniffed
        #expect(proto("web", "http") == "HTTP")
        #expect(proto("grpc", "kubernetes.io/h2c") == "HTTP2")
        #expect(proto("http", "kubernetes.io/other") == "")  // appProtocol replaces the name
        #expect(proto("dns", transport: "UDP") == "UDP")
        #expect(proto("", port: 3306) == "TCP")
    }
}

@Suite struct TokenReviewAnswerTests {
    @Test func anAuthenticatedServiceAccountIsItsIdentity() throws {
        let body =
            #"{"status":{"authenticated":true,"user":{"username":"system:serviceaccount:shop:cart","groups":["system:serviceaccounts","system:serviceaccounts:shop"]}}}"#
        let identity = try TokenReviewer.identity(reviewed: body)
        #expect(identity.namespace == "shop" && identity.serviceAccount == "cart")
    }

    @Test func refusalsNameTheirReason() {
        let cases: [(String, String)] = [
            (#"{"status":{"authenticated":false,"error":"token audiences [x] is invalid"}}"#, "returns an error"),
            (#"{"status":{"authenticated":false}}"#, "not authenticated"),
            (#"{"status":{"authenticated":true,"user":{"username":"alice","groups":["dev"]}}}"#, "not a service account"),
            (#"{"status":{"authenticated":true,"user":{"username":"alice","groups":["system:serviceaccounts"]}}}"#, "invalid username"),
            (
                #"{"status":{"authenticated":true,"user":{"username":"system:serviceaccount:Bad_NS:x","groups":["system:serviceaccounts"]}}}"#,
                "invalid namespace"
            ),
            ("not json", "no status"),
        ]
        for (body, reason) in cases {
            #expect(throws: TokenReviewer.Refusal.self) { try TokenReviewer.identity(reviewed: body) }
            do {
                _ = try TokenReviewer.identity(reviewed: body)
            } catch {
                #expect(error.description.contains(reason), "\(body) → \(error)")
            }
        }
    }
}
