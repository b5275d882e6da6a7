import SwiftProtobuf

/// Registration of the packed message types meshd emits, so `Any` payloads render in JSON
/// (config dumps) instead of failing on an unknown type URL.
public enum EnvoyTypes {
    /// The message types that travel inside `Any`.
    public static let packed: [any SwiftProtobuf.Message.Type] = [
        Envoy_Config_Listener_V3_Listener.self,
        Envoy_Config_Route_V3_RouteConfiguration.self,
        Envoy_Config_Cluster_V3_Cluster.self,
        Envoy_Config_Endpoint_V3_ClusterLoadAssignment.self,
        Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager.self,
        Envoy_Extensions_Filters_Http_Router_V3_Router.self,
        Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault.self,
        Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext.self,
        Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext.self,
        Envoy_Extensions_TransportSockets_Tls_V3_Secret.self,
        Envoy_Extensions_TransportSockets_RawBuffer_V3_RawBuffer.self,
        Envoy_Extensions_Filters_Http_Rbac_V3_RBAC.self,
        Envoy_Extensions_Filters_Network_Rbac_V3_RBAC.self,
        Envoy_Extensions_Filters_Http_JwtAuthn_V3_JwtAuthentication.self,
        Envoy_Extensions_Filters_Http_ExtAuthz_V3_ExtAuthz.self,
        Envoy_Extensions_Filters_Network_ExtAuthz_V3_ExtAuthz.self,
        Envoy_Extensions_Path_Match_UriTemplate_V3_UriTemplateMatchConfig.self,
        Envoy_Extensions_Filters_Http_Cors_V3_Cors.self,
        Envoy_Extensions_Filters_Http_Cors_V3_CorsPolicy.self,
        Envoy_Extensions_Upstreams_Http_V3_HttpProtocolOptions.self,
        Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy.self,
        Envoy_Extensions_AccessLoggers_File_V3_FileAccessLog.self,
        Envoy_Extensions_AccessLoggers_OpenTelemetry_V3_OpenTelemetryAccessLogConfig.self,
        Envoy_Extensions_AccessLoggers_Filters_Cel_V3_ExpressionFilter.self,
        Envoy_Config_Trace_V3_ZipkinConfig.self,
        Envoy_Config_Trace_V3_OpenTelemetryConfig.self,
        Envoy_Extensions_Filters_Listener_TlsInspector_V3_TlsInspector.self,
        Envoy_Extensions_Filters_Listener_HttpInspector_V3_HttpInspector.self,
        Envoy_Extensions_Filters_Listener_OriginalDst_V3_OriginalDst.self,
    ]

    /// Registers `packed` with SwiftProtobuf's `Any` registry; idempotent.
    public static func registerForJSON() {
        for type in packed { _ = Google_Protobuf_Any.register(messageType: type) }
    }
}
