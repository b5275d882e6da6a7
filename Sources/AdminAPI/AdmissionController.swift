import Hummingbird
import Logging
import MeshModel
import SidecarInjection
import Storage

/// The validating admission webhook (`POST /validate`, served over TLS on istiod's port 15017):
/// kube-apiserver asks it about every Istio object a `kubectl apply` creates or updates, and
/// meshd answers as its own apply would — refused with meshd's message and field path (a
/// negative or overflowing weight, an RE2 pattern RE2 refuses, Istio's cross-field rules), or
/// allowed with the apply answer's warnings (fields some kind of proxy does not honour,
/// dangling references), which kubectl prints. Nothing is written: the API server stores the
/// object, and the Kubernetes store records it.
///
/// Callers are not authenticated (the API server presents no credentials to webhooks); the
/// answer reveals nothing the object's own writer did not send.
public enum AdmissionController {
    /// The largest AdmissionReview read: an object and its old version near etcd's 1.5 MiB each.
    static let maxBodyBytes = 8 << 20

    /// The webhook's router: `/validate`, and `/inject` when given an injector.
    public static func make(_ dependencies: AdminDependencies, injector: SidecarInjector? = nil) -> Router<BasicRequestContext> {
        let writer = ConfigWriter(dependencies)
        let logger = dependencies.logger
        let router = Router(context: BasicRequestContext.self)
        router.get("/healthz") { _, _ -> Response in JSONResponse.make(.object(["status": "ok"])) }
        // Hummingbird matches `/validate/` (the other spelling istiod serves) here too.
        do {
            router.post("/validate") { request, _ -> Response in
                let review: AdmissionReview.Request
                switch await Self.review(of: request) {
                case .review(let read): review = read
                case .refused(let response): return response
                }
                let answer = await Self.answer(review, writer: writer)
                if answer["response"]?["allowed"] == .bool(false) {
                    logger.info(
                        "admission refused",
                        metadata: ["kind": "\(review.kind)", "message": "\(answer["response"]?["status"]?["message"]?.stringValue ?? "")"])
                }
                return JSONResponse.make(answer)
            }
        }
        if let injector { addInjection(to: router, injector: injector, logger: logger) }
        return router
    }

    /// A webhook call's body: its AdmissionReview, or the answer to a body that is none.
    enum ReviewBody {
        case review(AdmissionReview.Request)
        case refused(Response)
    }

    /// Reads the AdmissionReview of `request` (at most `maxBodyBytes`).
    static func review(of request: Request) async -> ReviewBody {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBodyBytes)
        } catch {
            return .refused(
                JSONResponse.make(
                    .object(["error": .string("the AdmissionReview is larger than \(maxBodyBytes) bytes")]), status: .contentTooLarge))
        }
        do {
            return .review(try AdmissionReview.request(try JSONValue.parse(json: String(buffer: buffer))))
        } catch {
            return .refused(JSONResponse.make(.object(["error": .string("not an AdmissionReview: \(error)")]), status: .badRequest))
        }
    }

    /// The answer to one review: only creates and updates of Istio kinds are checked.
    static func answer(_ review: AdmissionReview.Request, writer: ConfigWriter) async -> JSONValue {
        guard review.operation == "CREATE" || review.operation == "UPDATE", let object = review.object else {
            return AdmissionReview.response(uid: review.uid, allowed: true)
        }
        do {
            let document = try ConfigDocumentParser.document(from: withoutServerFields(object), label: review.kind)
            let warnings = try await writer.review([document])
            return AdmissionReview.response(uid: review.uid, allowed: true, warnings: warnings)
        } catch let error as MeshModelError {
            return refusal(review, AdminError(error))
        } catch let error as AdminError {
            return refusal(review, error)
        } catch let error as StorageError {
            return refusal(review, AdminError(error))
        } catch {
            return refusal(review, AdminError(code: "invalid", status: .unprocessableContent, message: "\(error)"))
        }
    }

    /// A refusal with meshd's `RESOURCE: FIELD: MESSAGE`. A failure of meshd itself (5xx) is
    /// answered 500 with no internal detail: the webhook's failure policy decides.
    private static func refusal(_ review: AdmissionReview.Request, _ error: AdminError) -> JSONValue {
        let code = Int(error.status.code)
        let message = code >= 500 && !error.messageIsPublic ? "meshd could not check the object; see meshd's log" : error.detail
        return AdmissionReview.response(uid: review.uid, allowed: false, code: code, message: message)
    }

    /// The object without what the API server adds (`resourceVersion` is Kubernetes' opaque
    /// token, not a meshd revision; `status` is not part of a resource).
    private static func withoutServerFields(_ object: JSONValue) -> JSONValue {
        guard case .object(var fields) = object else { return object }
        if case .object(var metadata)? = fields["metadata"] {
            metadata.removeValue(forKey: "resourceVersion")
            fields["metadata"] = .object(metadata)
        }
        return .object(fields)
    }
}
