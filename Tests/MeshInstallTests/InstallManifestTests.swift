import Foundation
import MeshModel
import SidecarInjection
import Testing

@testable import MeshInstall

/// What each profile installs and how values reach the objects (the interop tests validate the
/// objects against the Kubernetes schemas and apply them).
struct InstallManifestTests {
    func kinds(_ objects: [JSONValue]) -> [String] {
        objects.compactMap { object in
            guard let kind = object["kind"]?.stringValue, kind != "CustomResourceDefinition" else { return nil }
            return "\(kind)/\(object["metadata"]?["name"]?.stringValue ?? "")"
        }
    }

    @Test func theProfilesInstallWhatTheySay() throws {
        let minimal = kinds(try InstallManifest(values: try InstallValues(profile: "minimal")).objects())
        #expect(!minimal.contains("Deployment/istio-ingressgateway"))
        #expect(minimal.contains("Deployment/meshd"))
        #expect(minimal.contains("MutatingWebhookConfiguration/meshd-sidecar-injector"))
        let standard = kinds(try InstallManifest(values: try InstallValues(profile: "default")).objects())
        #expect(standard.contains("Deployment/istio-ingressgateway"))
        #expect(!standard.contains("Deployment/istio-egressgateway"))
        let demo = kinds(try InstallManifest(values: try InstallValues(profile: "demo")).objects())
        #expect(demo.contains("Deployment/istio-egressgateway"))
        #expect(throws: InstallError.self) { try InstallValues(profile: "huge") }
    }

    @Test func valuesReachTheObjectsAndUnknownOnesAreRefused() throws {
        var values = try InstallValues(profile: "default")
        try values.apply(set: "meshd.replicas=3")
        try values.apply(set: "namespace=mesh")
        try values.apply(file: "hub: registry.example/m\ngateways:\n  ingress: {serviceType: NodePort}\n", source: "values.yaml")
        let objects = try InstallManifest(values: values).objects()
        let meshd = try #require(objects.first { $0["kind"] == "Deployment" && $0["metadata"]?["name"] == "meshd" })
        #expect(meshd["spec"]?["replicas"] == 3)
        #expect(meshd["metadata"]?["namespace"] == "mesh")
        #expect(meshd["spec"]?["template"]?["spec"]?["containers"]?[0]?["image"] == .string("registry.example/m/meshd:\(InstallManifest.version)"))
        let service = try #require(objects.first { $0["kind"] == "Service" && $0["metadata"]?["name"] == "istio-ingressgateway" })
        #expect(service["spec"]?["type"] == "NodePort")
        #expect(throws: InstallError.self) { try values.apply(set: "meshd.replica=3") }
        #expect(throws: InstallError.self) { try values.apply(set: "meshd.replicas=many") }
        #expect(throws: InstallError.self) { try values.apply(set: "meshd.replicas=0") }
        #expect(throws: InstallError.self) { try values.apply(file: "gateways: {ingress: {enabled: yes-please}}\n", source: "v.yaml") }
    }

    @Test func theInjectorsValuesConfigMapReadsBackAsTheInstallsValues() throws {
        var values = try InstallValues(profile: "default")
        try values.apply(set: "hub=registry.example/m")
        let manifest = InstallManifest(values: values)
        let text = try #require(manifest.injectorValuesConfigMap["data"]?["values.yaml"]?.stringValue)
        #expect(try InjectionValues.parse(text, source: "values.yaml") == manifest.injectionValues)
    }

    @Test func theEmbeddedCRDsAreDeploysCRDs() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("deploy/kubernetes/istio-crds.yaml")
        let text = try String(contentsOf: file, encoding: .utf8)
        #expect(text == InstallManifest.istioCRDsYAML, "run scripts/embed-istio-crds.py")
        #expect(try InstallManifest.crds().count == 10)
    }

    @Test func everyObjectHasARestPathAndTheInstallsLabels() throws {
        for object in try InstallManifest(values: try InstallValues(profile: "demo")).objects() {
            _ = try InstallObjectPath(object)
            #expect(object["metadata"]?["labels"]?["app.kubernetes.io/managed-by"] == "meshctl")
        }
    }
}
