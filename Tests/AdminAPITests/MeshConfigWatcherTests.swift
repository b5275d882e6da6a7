import Foundation
import Logging
import MeshInputs
import MeshModel
import PushPipeline
import Testing
import Translator

@Suite("Mesh config file: reloads, refusals, the last good config")
struct MeshConfigWatcherTests {
    /// A watcher of a fresh file holding `text`, its settings source and health.
    private func watcher(_ text: String) throws -> (MeshConfigWatcher, MeshSettingsSource, ServingHealth, URL) {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mesh-\(UUID().uuidString).yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        let loaded = try MeshConfigWatcher.load(path: url.path)
        var initial = MeshSettings()
        MeshConfigWatcher.apply(loaded.parsed.config, rootNamespace: "istio-system", to: &initial)
        let settings = MeshSettingsSource(initial)
        let health = ServingHealth()
        let watcher = MeshConfigWatcher(
            path: url.path, initial: loaded, settings: settings, health: health, trustDomain: "cluster.local",
            defaultRootNamespace: "istio-system", logger: Logger(label: "test"))
        return (watcher, settings, health, url)
    }

    private let provider = "extensionProviders:\n- name: opa\n  envoyExtAuthzGrpc: {service: opa.auth.svc.cluster.local, port: 9191}\n"

    @Test func aChangedFileIsAppliedAndAnUnchangedOneIsNot() throws {
        let (watcher, settings, _, url) = try watcher(provider)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(settings.current.provider(named: "opa")?.authorizer?.port == 9191)
        watcher.check()
        #expect(settings.current.generation == 0)  // same content: nothing to do
        try provider.replacingOccurrences(of: "9191", with: "9292").write(to: url, atomically: true, encoding: .utf8)
        watcher.check()
        #expect(settings.current.generation == 1 && settings.current.provider(named: "opa")?.authorizer?.port == 9292)
        #expect(watcher.status.effective.extensionProviders.first?.port == 9292 && watcher.status.error == nil)
    }

    @Test func aBadFileKeepsTheLastGoodOneAndDegradesReadiness() throws {
        let (watcher, settings, health, url) = try watcher(provider)
        defer { try? FileManager.default.removeItem(at: url) }
        try (provider + "rootNamespce: x\n").write(to: url, atomically: true, encoding: .utf8)
        watcher.check()
        #expect(settings.current.generation == 0 && settings.current.provider(named: "opa") != nil)
        #expect(watcher.status.error?.contains("rootNamespce") == true)
        #expect(health.degradations.map(\.id) == ["mesh-config"])
        // A trust domain change needs a restart: refused the same way.
        try (provider + "trustDomain: other.example\n").write(to: url, atomically: true, encoding: .utf8)
        watcher.check()
        #expect(watcher.status.error?.contains("restart") == true && settings.current.generation == 0)
        // A good file clears it.
        try (provider + "rootNamespace: mesh\n").write(to: url, atomically: true, encoding: .utf8)
        watcher.check()
        #expect(settings.current.rootNamespace == "mesh" && health.degradations.isEmpty && watcher.status.error == nil)
    }
}
