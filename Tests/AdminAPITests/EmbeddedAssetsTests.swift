import Foundation
import Testing

@testable import AdminAPI

/// The compiled-in copy of Sources/AdminAPI/Assets must match the files: a stale
/// Generated/EmbeddedAssets+Files.swift would serve yesterday's dashboard or OpenAPI document.
@Suite struct EmbeddedAssetsTests {
    static let assets = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/AdminAPI/Assets")

    static func filesOnDisk() throws -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(at: assets, includingPropertiesForKeys: [.isRegularFileKey])
        while let url = enumerator?.nextObject() as? URL {
            guard try url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true,
                !url.lastPathComponent.hasPrefix(".")
            else { continue }
            let relative = String(url.standardizedFileURL.path.dropFirst(assets.standardizedFileURL.path.count + 1))
            files[relative] = try Data(contentsOf: url)
        }
        return files
    }

    @Test func embeddedCopyMatchesTheAssetsDirectory() throws {
        let files = try Self.filesOnDisk()
        #expect(EmbeddedAssets.paths == files.keys.sorted(), "run scripts/embed-assets.sh")
        for (path, bytes) in files {
            #expect(EmbeddedAssets.asset(path)?.bytes == bytes, "\(path) is stale: run scripts/embed-assets.sh")
        }
    }
}
