import CertificateAuthority
import Hummingbird
import MeshCommon
import MeshModel

/// `/api/v1/tokens` (mint a workload token, as `meshctl token create` does) and
/// `/api/v1/ca/root` (the trust anchor operators distribute).
struct IdentityController: Sendable {
    let identity: AdminDependencies.Identity

    func register(on router: Router<AdminRequestContext>) {
        let identity = self.identity

        router.post("/api/v1/tokens") { request, _ -> Response in
            var request = request
            let body = try JSONValue.parse(json: try await request.text())
            try Self.checkFields(body)
            let namespace = try Self.name(body, "namespace")
            let account = try Self.name(body, "serviceAccount")
            // A `ttl` that is not a string is refused, not replaced by the default: a caller who
            // sent `"ttl": 3600` must not get a token valid for a day without being told.
            let ttlText = body["ttl"] == nil ? "24h" : body["ttl"]?.stringValue
            guard let ttlText, let ttl = DurationSyntax.parse(ttlText, units: .withDays), ttl > .zero, ttl <= .seconds(366 * 86_400) else {
                throw AdminError(
                    code: "invalid", status: .unprocessableContent,
                    message: "must be a positive duration up to 366 days, like 24h, 90m or 7d", field: "ttl")
            }
            let token = identity.tokens.issue(namespace: namespace, serviceAccount: account, ttl: ttl)
            return JSONResponse.make(
                .object([
                    "token": .string(token), "namespace": .string(namespace),
                    "serviceAccount": .string(account), "ttl": .string(ttlText),
                ]))
        }

        router.get("/api/v1/ca/root") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/x-pem-file"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: identity.ca.rootCertificatePEM)))
        }
    }

    /// The fields of `POST /api/v1/tokens`.
    static let tokenFields: Set<String> = ["namespace", "serviceAccount", "ttl"]

    /// The body must be an object with no field beyond `tokenFields`: an unknown one (a typo,
    /// or an `audience` meshd does not offer) would otherwise be ignored without a word.
    static func checkFields(_ body: JSONValue) throws {
        guard let fields = body.objectValue else {
            throw AdminError(code: "invalid", status: .unprocessableContent, message: "expected a JSON object", field: "body")
        }
        if let unknown = fields.keys.sorted().first(where: { !tokenFields.contains($0) }) {
            throw AdminError(
                code: "invalid", status: .unprocessableContent,
                message: "unknown field; a token request has \(tokenFields.sorted().joined(separator: ", "))", field: unknown)
        }
    }

    /// A DNS-1123 label field of the request body.
    static func name(_ body: JSONValue, _ field: String) throws -> String {
        guard let value = body[field]?.stringValue, !value.isEmpty, value.count <= 63,
            value.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" }), value.first != "-", value.last != "-"
        else {
            throw AdminError(
                code: "invalid", status: .unprocessableContent,
                message: "required: a DNS-1123 label (lowercase letters, digits, '-')", field: field)
        }
        return value
    }
}
