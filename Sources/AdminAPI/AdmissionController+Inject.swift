import Hummingbird
import Logging
import MeshModel
import SidecarInjection

/// The mutating webhook (`POST /inject`): kube-apiserver sends each pod it is about to create in
/// an injection-enabled namespace, and meshd answers with the JSONPatch that adds the sidecar
/// (docs/injection.md). Pods meshd leaves alone are allowed unchanged; a pod whose traffic or
/// resource annotations are malformed is refused, naming the annotation.
extension AdmissionController {
    /// Adds `/inject` to the webhook's router.
    static func addInjection(to router: Router<BasicRequestContext>, injector: SidecarInjector, logger: Logger) {
        router.post("/inject") { request, _ -> Response in
            switch await review(of: request) {
            case .review(let review): JSONResponse.make(injectionAnswer(review, injector: injector, logger: logger))
            case .refused(let response): response
            }
        }
    }

    /// The answer to one review: only pod creations are injected.
    static func injectionAnswer(_ review: AdmissionReview.Request, injector: SidecarInjector, logger: Logger) -> JSONValue {
        guard review.operation == "CREATE", review.kind.hasSuffix("Kind=Pod"), let pod = review.object else {
            return AdmissionReview.response(uid: review.uid, allowed: true)
        }
        let namespace = review.namespace ?? pod["metadata"]?["namespace"]?.stringValue
        let name = pod["metadata"]?["name"]?.stringValue ?? pod["metadata"]?["generateName"]?.stringValue ?? ""
        do {
            switch try injector.inject(pod: pod, namespace: namespace) {
            case .skipped(let reason):
                logger.debug("pod not injected", metadata: ["pod": "\(namespace ?? "")/\(name)", "reason": "\(reason)"])
                return AdmissionReview.response(uid: review.uid, allowed: true)
            case .injected(_, let patch, let warnings):
                logger.info("sidecar injected", metadata: ["pod": "\(namespace ?? "")/\(name)"])
                return AdmissionReview.response(uid: review.uid, allowed: true, warnings: warnings, patch: patch)
            }
        } catch {
            logger.info("pod refused", metadata: ["pod": "\(namespace ?? "")/\(name)", "message": "\(error.message)"])
            return AdmissionReview.response(uid: review.uid, allowed: false, code: 400, message: "sidecar injection: \(error.message)")
        }
    }
}
