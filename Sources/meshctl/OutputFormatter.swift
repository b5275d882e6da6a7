import ArgumentParser
import MeshModel

/// How `get` (and `proxy-status`) print what meshd returns.
enum OutputFormat: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// Aligned columns for people.
    case table
    /// The resources as YAML; a list is a multi-document stream, ready to re-apply.
    case yaml
    /// The resources as pretty-printed JSON with sorted keys.
    case json
}

/// Renders config resources (the admin API's JSON shape) in one `OutputFormat`.
struct OutputFormatter: Sendable {
    /// The format every render call uses.
    let format: OutputFormat

    /// Renders one resource fetched by name. The text ends with a newline.
    func render(resource: JSONValue) throws -> String {
        switch format {
        case .table: return Self.table(for: [resource])
        case .yaml: return try resource.yamlDocument()
        case .json: return resource.prettyJSON() + "\n"
        }
    }

    /// Renders a listing. JSON wraps the items in a kubectl-style `List` so it can be re-applied
    /// (`POST /api/v1/apply` accepts `kind: List`); YAML uses `---` between documents. An empty
    /// listing renders as the empty string for table and YAML.
    func render(list: [JSONValue]) throws -> String {
        switch format {
        case .table:
            return list.isEmpty ? "" : Self.table(for: list)
        case .yaml:
            return try JSONValue.yamlStream(list)
        case .json:
            let wrapper = JSONValue.object([
                "apiVersion": .string("v1"),
                "kind": .string("List"),
                "items": .array(list),
            ])
            return wrapper.prettyJSON() + "\n"
        }
    }

    /// NAMESPACE NAME REVISION, where REVISION is `metadata.resourceVersion` (the store revision
    /// of the resource's last change). When a resource fails today's validation (meshd reports it
    /// in `status.validationMessages` and leaves it out of pushes) a STATUS column marks it, so an
    /// operator sees it in the listing.
    private static func table(for resources: [JSONValue]) -> String {
        let marks = resources.map(invalidMark)
        let anyInvalid = marks.contains { $0 != nil }
        var table = TextTable(header: ["NAMESPACE", "NAME", "REVISION"] + (anyInvalid ? ["STATUS"] : []))
        for (resource, mark) in zip(resources, marks) {
            let metadata = resource["metadata"]
            table.append(
                [
                    metadata?["namespace"]?.stringValue ?? "",
                    metadata?["name"]?.stringValue ?? "<unnamed>",
                    metadata?["resourceVersion"]?.displayText ?? "<none>",
                ] + (anyInvalid ? [mark ?? "OK"] : []))
        }
        return table.render()
    }

    /// `INVALID, not pushed: FIELD: MESSAGE` for a resource meshd reports as failing validation.
    private static func invalidMark(_ resource: JSONValue) -> String? {
        guard let message = resource["status"]?["validationMessages"]?.arrayValue?.first else { return nil }
        let field = message["field"]?.stringValue ?? "spec"
        return "INVALID, not pushed: \(field): \(message["message"]?.stringValue ?? "")"
    }
}
