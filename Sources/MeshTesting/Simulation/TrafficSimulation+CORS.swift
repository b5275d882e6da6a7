import EnvoyAPI

/// Envoy's CORS filter, acting on the route's policy (`typed_per_filter_config`) when the
/// HttpConnectionManager lists the filter and the request carries an `Origin`.
extension TrafficSimulation {
    static let corsFilterName = "envoy.filters.http.cors"

    static func applyCORS(
        _ request: SimulatedRequest, route: Envoy_Config_Route_V3_Route, filters: [String],
        to result: inout SimulationResult
    ) {
        let headers = request.allHeaders
        guard filters.contains(corsFilterName), let any = route.typedPerFilterConfig[corsFilterName],
            let policy = try? Envoy_Extensions_Filters_Http_Cors_V3_CorsPolicy(serializedBytes: any.value),
            !policy.hasFilterEnabled || perMillion(policy.filterEnabled.defaultValue) > 0,
            let origin = headers["origin"], !origin.isEmpty
        else { return }
        let allowed = policy.allowOriginStringMatch.contains { matches($0, origin) }
        let preflight = request.method == "OPTIONS" && headers["access-control-request-method"] != nil
        var cors: [String: String] = allowed ? ["access-control-allow-origin": origin] : [:]
        if allowed, policy.hasAllowCredentials, policy.allowCredentials.value { cors["access-control-allow-credentials"] = "true" }
        if preflight {
            if allowed {
                for (name, value) in [
                    ("access-control-allow-methods", policy.allowMethods),
                    ("access-control-allow-headers", policy.allowHeaders),
                    ("access-control-max-age", policy.maxAge),
                ] where !value.isEmpty {
                    cors[name] = value
                }
                result.cors = .preflightAllowed(headers: cors)
            } else {
                // Unset means forward (Envoy's default).
                let forward = !policy.hasForwardNotMatchingPreflights || policy.forwardNotMatchingPreflights.value
                result.cors = .preflightDenied(forwarded: forward)
                if forward { return }
            }
            // Answered by the proxy: nothing is forwarded or mirrored.
            result.outcome = .directResponse(status: 200)
            result.forwarded = nil
            result.mirrors = []
            result.responseHeaders = cors
        } else if allowed {
            if !policy.exposeHeaders.isEmpty { cors["access-control-expose-headers"] = policy.exposeHeaders }
            result.cors = .allowed(headers: cors)
            if var response = result.responseHeaders {
                response.merge(cors) { $1 }
                result.responseHeaders = response
            }
        } else {
            result.cors = .denied
        }
    }
}
