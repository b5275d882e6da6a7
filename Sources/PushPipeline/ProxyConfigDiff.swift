import MeshModel
import SwiftProtobuf
import Translator

/// One proxy's xDS resources before and after a change, as a unified diff an operator reads:
/// one file per changed resource, `a/Cluster/NAME` → `b/Cluster/NAME` (`/dev/null` for an added
/// or removed one), each resource rendered as canonical JSON (Envoy's proto JSON with proto
/// field names, keys sorted, one value per line), so a weight change is one changed line.
///
/// Rendering needs the Envoy message types registered for JSON (`EnvoyTypes.registerForJSON()`,
/// done by meshd at start) to show what is inside `Any` fields; a resource that cannot be
/// rendered shows why in place of its text instead of failing the whole diff.
public enum ProxyConfigDiff {
    /// The diff of every change of `affected`, in its order.
    public static func render(_ affected: ChangeImpact.Affected) -> String {
        var out = ""
        for change in affected.changes {
            let path = "\(change.typeName)/\(change.name)"
            let old = change.change == .added ? "" : json(affected.before.of(change.typeURL)[change.name])
            let new = change.change == .removed ? "" : json(affected.after.of(change.typeURL)[change.name])
            out += UnifiedDiff.render(
                old: old, new: new,
                oldName: change.change == .added ? "/dev/null" : "a/" + path,
                newName: change.change == .removed ? "/dev/null" : "b/" + path)
        }
        return out
    }

    /// A resource as canonical, indented JSON ending in a newline; empty for none.
    public static func json(_ resource: XDSResource?) -> String {
        guard let resource else { return "" }
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        do {
            return try JSONValue.parse(json: SecretRedaction.displayable(resource).jsonString(options: options)).canonicalJSON(indent: 2) + "\n"
        } catch {
            return "(\(resource.name) cannot be shown as JSON: \(error))\n"
        }
    }
}
