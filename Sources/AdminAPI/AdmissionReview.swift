import Foundation
import MeshModel

/// An `admission.k8s.io/v1` AdmissionReview as kube-apiserver sends it to a validating webhook,
/// and the answer meshd gives. Pure: no I/O.
public enum AdmissionReview {
    /// What the API server asks about.
    public struct Request: Sendable, Hashable {
        /// Echoed in the answer, which the API server matches on it.
        public var uid: String
        /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
        public var operation: String
        /// The object as it would be stored (absent for DELETE).
        public var object: JSONValue?
        /// `GROUP/VERSION, Kind=KIND` of the request, for messages.
        public var kind: String
        /// The namespace of a namespaced object (a pod's, before it has a name).
        public var namespace: String? = nil
    }

    /// Why a body is not an AdmissionReview request.
    public struct Malformed: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Reads the request of an AdmissionReview body.
    /// - Throws: `Malformed` for anything but an `admission.k8s.io/v1` AdmissionReview with a
    ///   request carrying a uid and an operation.
    public static func request(_ body: JSONValue) throws(Malformed) -> Request {
        guard body["apiVersion"]?.stringValue == "admission.k8s.io/v1", body["kind"]?.stringValue == "AdmissionReview" else {
            throw Malformed(description: "expected an admission.k8s.io/v1 AdmissionReview")
        }
        guard let request = body["request"], let uid = request["uid"]?.stringValue, !uid.isEmpty,
            let operation = request["operation"]?.stringValue
        else { throw Malformed(description: "the AdmissionReview has no request with a uid and an operation") }
        let kind = request["kind"]
        let name = [kind?["group"]?.stringValue, kind?["version"]?.stringValue].compactMap { $0 }.joined(separator: "/")
        return Request(
            uid: uid, operation: operation, object: request["object"].flatMap { $0 == .null ? nil : $0 },
            kind: "\(name), Kind=\(kind?["kind"]?.stringValue ?? "")",
            namespace: request["namespace"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// The answer to request `uid`: allowed with `warnings` (and, from a mutating webhook, an
    /// RFC 6902 `patch`: `patchType: JSONPatch` and the patch's JSON base64-encoded, as the
    /// admission API wants), or refused with `message` and an HTTP status `code` (kubectl prints
    /// the message; kube-apiserver prefixes the webhook's name).
    public static func response(
        uid: String, allowed: Bool, code: Int = 400, message: String? = nil, warnings: [String] = [], patch: [JSONValue]? = nil
    ) -> JSONValue {
        var response: [String: JSONValue] = ["uid": .string(uid), "allowed": .bool(allowed)]
        if !allowed {
            response["status"] = .object([
                "status": "Failure", "code": .number(Double(code)), "reason": code == 400 ? "BadRequest" : "Invalid",
                "message": .string(message ?? "refused"),
            ])
        }
        if !warnings.isEmpty { response["warnings"] = .array(warnings.map { .string(Self.warning($0)) }) }
        if let patch {
            response["patchType"] = "JSONPatch"
            response["patch"] = .string(Data(JSONValue.array(patch).canonicalJSON().utf8).base64EncodedString())
        }
        return .object(["apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": .object(response)])
    }

    /// kube-apiserver drops warnings over 4 KiB in total and shortens long ones; meshd keeps each
    /// to one printable line of at most 512 characters so none is lost to that.
    static func warning(_ text: String) -> String {
        let line = String(String.UnicodeScalarView(text.unicodeScalars.map { (0x20..<0x7F).contains($0.value) ? $0 : " " }))
        return line.count > 512 ? String(line.prefix(509)) + "..." : line
    }
}
