import EnvoyAPI
import MeshModel
import SwiftProtobuf

/// A VirtualService rule's `fault` as the route's configuration of Envoy's fault filter, which
/// Envoy and gRPC clients both honour (gRPC: delay, and abort with HTTP or gRPC status).
enum RouteFault {
    /// The fault filter's name in the HttpConnectionManager and in `typed_per_filter_config`.
    static let filterName = "envoy.filters.http.fault"

    /// The route's fault configuration.
    static func config(_ fault: HTTPFaultInjection) -> Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault {
        var config = Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault()
        if let delay = fault.delay, let fixed = IstioDuration.parse(delay.fixedDelay) {
            var injected = Envoy_Extensions_Filters_Common_Fault_V3_FaultDelay()
            injected.fixedDelay = RoutePolicy.protobufDuration(fixed)
            injected.percentage = fraction(delay.percentage)
            config.delay = injected
        }
        if let abort = fault.abort {
            var injected = Envoy_Extensions_Filters_Http_Fault_V3_FaultAbort()
            switch abort.status {
            case .http(let status): injected.httpStatus = status
            case .grpc(let code): injected.grpcStatus = code
            }
            injected.percentage = fraction(abort.percentage)
            config.abort = injected
        }
        return config
    }

    /// A percentage (0–100, fractions allowed) as parts per million, as Istio sends it.
    static func fraction(_ percent: Double) -> Envoy_Type_V3_FractionalPercent {
        var fraction = Envoy_Type_V3_FractionalPercent()
        fraction.denominator = .million
        // Validation bounds percent to 0–100, so this is at most 1,000,000.
        fraction.numerator = UInt32(max(0, min(100, percent)) * 10_000)
        return fraction
    }
}
