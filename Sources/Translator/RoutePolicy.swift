import EnvoyAPI
import MeshModel
import SwiftProtobuf

/// The per-route policies of a VirtualService `http[]` rule: `timeout` and `retries`.
///
/// A timeout is set both as Envoy's route `timeout` and as `max_stream_duration`, the field gRPC
/// clients honour (as istiod does for proxyless gRPC). Retries become a `retry_policy`; when the
/// rule names no `retryOn`, Istio's default list is used, which gRPC clients read for the
/// status codes they understand (`unavailable`, `cancelled`, ...) and Envoy in full.
enum RoutePolicy {
    /// Istio's default `retryOn` for HTTP routes.
    static let defaultRetryOn = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"

    /// Applies `rule`'s timeout and retries to `action`.
    static func apply(_ rule: HTTPRoute, to action: inout Envoy_Config_Route_V3_RouteAction) {
        if let text = rule.timeout, let timeout = IstioDuration.parse(text) {
            action.timeout = protobufDuration(timeout)
            action.maxStreamDuration.maxStreamDuration = protobufDuration(timeout)
        }
        if let retries = rule.retries, retries.attempts > 0 {
            var policy = Envoy_Config_Route_V3_RetryPolicy()
            policy.retryOn = retries.retryOn ?? defaultRetryOn
            policy.numRetries = Google_Protobuf_UInt32Value(UInt32(clamping: retries.attempts))
            if let text = retries.perTryTimeout, let perTry = IstioDuration.parse(text) {
                policy.perTryTimeout = protobufDuration(perTry)
            }
            action.retryPolicy = policy
        }
    }

    static func protobufDuration(_ duration: Duration) -> Google_Protobuf_Duration {
        let (seconds, attoseconds) = duration.components
        return Google_Protobuf_Duration(seconds: seconds, nanos: Int32(attoseconds / 1_000_000_000))
    }

    /// A hash on request header `name`, the one hash key Envoy and gRPC share.
    static func headerHash(_ name: String) -> Envoy_Config_Route_V3_RouteAction.HashPolicy {
        var header = Envoy_Config_Route_V3_RouteAction.HashPolicy.Header()
        // Header names are matched lower-case by Envoy and gRPC alike.
        header.headerName = name.lowercased()
        var hash = Envoy_Config_Route_V3_RouteAction.HashPolicy()
        hash.header = header
        return hash
    }
}
