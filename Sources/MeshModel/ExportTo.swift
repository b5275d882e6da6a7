/// Istio's `exportTo`: which namespaces see a VirtualService, DestinationRule or ServiceEntry.
///
/// Entries are `.` (the resource's own namespace), `*` (every namespace), namespace names, and —
/// for ServiceEntries only — `~` (no namespace). An empty list means `*`, Istio's default when
/// the mesh sets no other. Validation follows Istio's `validateExportTo`: no duplicates (`.`
/// counts as the own namespace's name), `*` only alone, `~` only alone and only on a
/// ServiceEntry; `.` may be combined with names.
public enum ExportTo {
    /// Whether a resource in `owner` exported to `exportTo` is visible to proxies in `viewer`.
    public static func admits(_ exportTo: [String], owner: String, viewer: String) -> Bool {
        if exportTo.isEmpty { return true }
        return exportTo.contains { entry in
            switch entry {
            case "*": true
            case ".": owner == viewer
            case "~": false
            default: entry == viewer
            }
        }
    }
}

extension FieldReader {
    /// The `exportTo` list of a resource in `namespace`, validated as Istio does; `allowNone`
    /// admits `~` (ServiceEntry only). Absent reads as empty (exported everywhere).
    func exportTo(namespace: String, allowNone: Bool) throws(MeshModelError) -> [String] {
        var entries: [String] = []
        var seen: Set<String> = []
        let readers = try list()
        for reader in readers {
            guard let entry = try reader.string() else { throw reader.error("expected a string") }
            let valid = entry == "." || entry == "*" || (entry == "~" && allowNone) || NameRules.isDNS1123Label(entry)
            guard valid else {
                throw reader.error(
                    allowNone
                        ? "must be \".\", \"*\", \"~\" or a namespace name"
                        : "must be \".\", \"*\" or a namespace name (\"~\" is only allowed on a ServiceEntry)")
            }
            // "." is the own namespace: listing both is a duplicate, as Istio says.
            guard seen.insert(entry == "." ? namespace : entry).inserted else {
                throw reader.error(
                    entry == "." || entry == namespace
                        ? "duplicate entry: \".\" and the resource's own namespace \(namespace)"
                        : "duplicate entry \"\(entry)\"")
            }
            entries.append(entry)
        }
        if entries.count > 1 {
            if entries.contains("*") { throw self.error("\"*\" exports everywhere and cannot be combined with other entries") }
            if entries.contains("~") { throw self.error("\"~\" exports to no namespace and cannot be combined with other entries") }
        }
        return entries
    }
}
