import ArgumentParser
import Foundation
import MeshCommon
import MeshInputs
import MeshModel
import Translator

extension MeshdCommand {
    /// Reads `--mesh-config` (a bad file stops meshd here, naming the field) and settles
    /// `rootNamespace` and `trustDomain`: the file's value unless the flag says otherwise; a
    /// flag and a file that disagree are refused.
    mutating func resolveMeshConfig() throws -> MeshConfigWatcher.Loaded? {
        guard let meshConfig else { return nil }
        let loaded: MeshConfigWatcher.Loaded
        do {
            loaded = try MeshConfigWatcher.load(path: meshConfig)
        } catch let error as MeshModelError {
            throw ValidationError("--mesh-config \(meshConfig): \(error.description)")
        } catch {
            throw ValidationError("--mesh-config \(meshConfig): \(error.localizedDescription)")
        }
        let config = loaded.parsed.config
        if let domain = config.trustDomain {
            guard trustDomain == MeshDefaults.trustDomain || trustDomain == domain else {
                throw ValidationError("--trust-domain \(trustDomain) and the mesh config's trustDomain \(domain) disagree")
            }
            trustDomain = domain
        }
        if let namespace = config.rootNamespace {
            guard rootNamespace == MeshSettings.defaultRootNamespace || rootNamespace == namespace else {
                throw ValidationError("--root-namespace \(rootNamespace) and the mesh config's rootNamespace \(namespace) disagree")
            }
            rootNamespace = namespace
        }
        return loaded
    }
}
