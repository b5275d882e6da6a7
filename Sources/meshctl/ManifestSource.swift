import Foundation

/// One file's worth of manifests to send to meshd, with the name it came from.
///
/// Each source is sent in its own request, as kubectl does: the admin API applies one request
/// all or nothing, so a bad file leaves the files before it applied and names itself in the error.
struct ManifestSource: Sendable {
    /// The path as given (or `-` for stdin), for error messages.
    let name: String
    /// The raw bytes, sent unchanged: meshd owns parsing and validation.
    let data: Data
    /// `application/json` or `application/yaml`, a hint for meshd.
    let contentType: String

    /// File extensions picked up when a directory is given, as kubectl does.
    static let manifestExtensions: Set<String> = ["yaml", "yml", "json"]

    /// Reads every `-f` argument in order: `-` is stdin (at most once), a directory contributes
    /// its manifest files sorted by name (not recursing), anything else is read as a file.
    /// Whitespace-only sources are dropped; throws when nothing is left.
    static func load(_ paths: [String]) throws -> [ManifestSource] {
        var sources: [ManifestSource] = []
        var readStdin = false
        for path in paths {
            if path == "-" {
                guard !readStdin else { throw MeshctlError(.input, "stdin ('-') given more than once") }
                readStdin = true
                let data = FileHandle.standardInput.readDataToEndOfFile()
                sources.append(ManifestSource(name: "stdin", data: data, contentType: sniffContentType(data)))
            } else {
                sources += try loadPath(path)
            }
        }
        let nonEmpty = sources.filter { !isBlank($0.data) }
        guard !nonEmpty.isEmpty else { throw MeshctlError(.input, "no objects passed: every input is empty") }
        return nonEmpty
    }

    private static func loadPath(_ path: String) throws -> [ManifestSource] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw MeshctlError(.input, "\(path): no such file or directory")
        }
        guard isDirectory.boolValue else { return [try loadFile(path)] }
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw MeshctlError(.input, "\(path): cannot list directory", cause: error)
        }
        let files =
            entries
            .filter { manifestExtensions.contains(URL(fileURLWithPath: $0).pathExtension.lowercased()) }
            .sorted()
            .map { (path as NSString).appendingPathComponent($0) }
        guard !files.isEmpty else {
            throw MeshctlError(.input, "\(path): no .yaml, .yml or .json files in directory")
        }
        return try files.map(loadFile)
    }

    private static func loadFile(_ path: String) throws -> ManifestSource {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw MeshctlError(.input, "\(path): cannot read file", cause: error)
        }
        let isJSON = URL(fileURLWithPath: path).pathExtension.lowercased() == "json"
        return ManifestSource(
            name: path, data: data,
            contentType: isJSON ? "application/json" : sniffContentType(data))
    }

    /// JSON documents start with `{` or `[`; anything else is treated as YAML (which is a
    /// superset of JSON, so a wrong guess still parses on the server).
    private static func sniffContentType(_ data: Data) -> String {
        let first = data.first { !(" \t\r\n" as String).utf8.contains($0) }
        return first == UInt8(ascii: "{") || first == UInt8(ascii: "[") ? "application/json" : "application/yaml"
    }

    private static func isBlank(_ data: Data) -> Bool {
        data.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
    }
}
