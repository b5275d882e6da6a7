import ArgumentParser
import Foundation
import MeshInstall
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
    /// Whether tables name each resource's namespace (kubectl does with `-A` only).
    var showNamespace = true
    /// The moment AGE is measured from.
    var now = Date()

    /// Renders one resource fetched by name. The text ends with a newline.
    func render(resource: JSONValue) throws -> String {
        switch format {
        case .table: return table(for: [resource])
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
            return list.isEmpty ? "" : table(for: list)
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

    /// kubectl's columns: NAMESPACE (across namespaces only), NAME, the kind's CRD printer
    /// columns (`PrinterColumn`), then REVISION (`metadata.resourceVersion`, the store revision
    /// of the resource's last change) before AGE. When a resource fails today's validation
    /// (meshd reports it in `status.validationMessages` and leaves it out of pushes) a STATUS
    /// column marks it, so an operator sees it in the listing.
    private func table(for resources: [JSONValue]) -> String {
        let marks = resources.map(Self.invalidMark)
        let anyInvalid = marks.contains { $0 != nil }
        let kind = resources.first?["kind"]?.stringValue.flatMap(ConfigKind.init(rawValue:))
        var columns = kind.map(PrinterColumn.of) ?? []
        let age =
            columns.first { $0.type == "date" && $0.jsonPath == ".metadata.creationTimestamp" }
            ?? PrinterColumn(name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp")
        columns.removeAll { $0 == age }
        let header =
            (showNamespace ? ["NAMESPACE"] : []) + ["NAME"] + columns.map { $0.name.uppercased() } + ["REVISION", "AGE"]
            + (anyInvalid ? ["STATUS"] : [])
        var table = TextTable(header: header)
        for (resource, mark) in zip(resources, marks) {
            let metadata = resource["metadata"]
            table.append(
                (showNamespace ? [metadata?["namespace"]?.stringValue ?? ""] : [])
                    + [metadata?["name"]?.stringValue ?? "<unnamed>"]
                    + columns.map { $0.value(in: resource, now: now) }
                    + [metadata?["resourceVersion"]?.displayText ?? "<none>", age.value(in: resource, now: now)]
                    + (anyInvalid ? [mark ?? "OK"] : []))
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
