import EnvoyAPI
import MeshModel

/// A rule's `mirror`/`mirrors` as Envoy's `request_mirror_policies`: each destination's cluster
/// (`outbound|PORT|SUBSET|HOST`, resolved as route destinations are) with its share as the
/// runtime fraction's default. A mirror at 0% is left out, as Istio leaves it out; one whose
/// destination names no existing cluster is left out too (meshd never names a missing cluster;
/// the apply answer warns). gRPC clients ignore mirror policies.
enum RouteMirror {
    static func policies(
        _ mirrors: [HTTPMirrorPolicy], namespace: String, port: UInt32,
        view: ProxyView
    ) -> [Envoy_Config_Route_V3_RouteAction.RequestMirrorPolicy] {
        mirrors.compactMap { mirror in
            guard mirror.percentage > 0,
                case .success(let cluster) = DestinationResolver.cluster(
                    for: mirror.destination, namespace: namespace,
                    listenerPort: port, in: view)
            else { return nil }
            var policy = Envoy_Config_Route_V3_RouteAction.RequestMirrorPolicy()
            policy.cluster = cluster
            policy.runtimeFraction.defaultValue = RouteFault.fraction(mirror.percentage)
            // As Istio: a mirrored request is not traced as a sampled span of its own.
            policy.traceSampled = .init(false)
            return policy
        }
    }
}
