/// The one error type of MeshModel: what went wrong, in which resource, at which field.
///
/// Errors name the resource and the field path the way Istio does, so an operator can find the
/// offending line without reading meshd's code:
/// `VirtualService default/reviews: spec.http[0].route[1].weight: must not be negative`.
/// Mapping to HTTP or gRPC status happens only at the boundary (admin API, xDS), never here.
public struct MeshModelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The broad class of the failure; boundaries map it to a status code.
    public enum Code: String, Sendable {
        /// The body is not well-formed YAML or JSON, or a document is not a mapping.
        case malformed
        /// A document names a kind meshd does not serve.
        case unknownKind
        /// The document is well-formed but breaks a rule (type, range, required field, …).
        case invalid
    }

    /// The class of failure.
    public var code: Code
    /// The resource at fault: `"VirtualService default/reviews"`, or `"document 2"` when its kind
    /// or name is not known yet; `nil` when the whole body is at fault (a YAML syntax error).
    public var resource: String?
    /// The field path inside the resource, Istio style: `spec.http[0].route[1].weight`.
    public var field: String?
    /// What is wrong, in a few words: `must not be negative`.
    public var message: String

    /// Creates an error; `resource` and `field` are optional because not every failure has them.
    public init(code: Code, resource: String? = nil, field: String? = nil, message: String) {
        self.code = code
        self.resource = resource
        self.field = field
        self.message = message
    }

    /// `resource: field: message`, leaving out the parts that are `nil`.
    public var description: String {
        [resource, field, message].compactMap { $0 }.joined(separator: ": ")
    }
}
