import MeshModel

/// The unified YAML diff of two configurations, one file per changed resource named
/// `a/KIND/NAMESPACE/NAME.yaml` / `b/...` (`/dev/null` for a side where it is absent), as
/// `git diff` names files. Pure.
enum ConfigDiff {
    /// The diff of `keys` (in order) from `old` to `new`.
    static func render(_ keys: [ConfigKey], from old: [ConfigKey: ConfigResource], to new: [ConfigKey: ConfigResource]) throws -> String {
        var text = ""
        for key in keys {
            let path = "\(key.kind.rawValue)/\(key.namespace)/\(key.name).yaml"
            text += UnifiedDiff.render(
                old: try yaml(old[key]), new: try yaml(new[key]),
                oldName: old[key] == nil ? "/dev/null" : "a/" + path, newName: new[key] == nil ? "/dev/null" : "b/" + path)
        }
        return text
    }

    /// The resource as `meshctl get -o yaml` shows it, without a resourceVersion (it differs
    /// between any two revisions and says nothing about the content); "" when absent.
    private static func yaml(_ resource: ConfigResource?) throws -> String {
        try resource.map { try $0.toJSONValue(resourceVersion: nil).yamlDocument() } ?? ""
    }
}
