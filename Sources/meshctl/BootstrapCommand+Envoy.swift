import Foundation
import MeshCommon
import MeshModel

/// `meshctl bootstrap --envoy`: the bootstrap an Envoy sidecar starts from, in the shape
/// istio-agent writes (node metadata, ADS to the control plane, the `sds-grpc` cluster on the
/// agent's socket, Prometheus' listener on 15090), so everything else it needs comes over xDS
/// and SDS.
extension BootstrapCommand {
    /// What the Envoy bootstrap is made from; all validated before generation.
    struct EnvoyBootstrapInput: Sendable {
        var node: EnvoyNodeID
        var labels: [String: String]
        var clusterID: String
        /// meshd's xDS host and port (15013 for mTLS, 15010 plaintext).
        var xdsHost: String
        var xdsPort: Int
        /// Plaintext xDS on a trusted network; else mTLS with the agent's certificate.
        var plaintext: Bool
        /// The name meshd's serving certificate is checked against (a DNS SAN).
        var serverName: String
        /// mesh-agent's SDS socket.
        var sdsSocket: String
    }

    /// The ports and names istio-agent's bootstrap uses, kept so operators' habits carry over.
    enum Envoy {
        static let adminPort = 15000
        static let plaintextXDSPort = MeshDefaults.xdsPort
        static let mutualTLSXDSPort = MeshDefaults.mutualTLSPort
        static let xdsCluster = "xds-grpc"
        static let sdsCluster = "sds-grpc"
        /// Istio's default socket path; the bootstrap names whatever `--sds-socket` says.
        static let defaultSDSSocket = "/var/run/secrets/workload-spiffe-uds/socket"
        /// RE2 program-size limit. meshd accepts regexes whose program is at most 32768
        /// (MeshModel.RegexSyntax.maxProgramSize; MeshctlTests checks they agree); Envoy's
        /// default error level is 100, which would reject most of them at load time.
        static let regexProgramSizeLimit = 32_768
        /// Reported as ISTIO_VERSION: meshd reads no version from the node; tools that print it
        /// see who wrote the bootstrap.
        static let versionTag = "meshd-\(MeshctlCommand.version)"
    }

    /// A complete Envoy v3 bootstrap (JSON value) for `input`. Pure.
    static func envoyBootstrap(_ input: EnvoyBootstrapInput) -> JSONValue {
        .object([
            "node": envoyNode(input),
            "admin": .object([
                "access_log": .array([]),
                "address": socketAddress("127.0.0.1", Envoy.adminPort),
            ]),
            "dynamic_resources": .object([
                "ads_config": .object([
                    "api_type": .string("DELTA_GRPC"),
                    "transport_api_version": .string("V3"),
                    "set_node_on_first_message_only": .bool(true),
                    "grpc_services": .array([.object(["envoy_grpc": .object(["cluster_name": .string(Envoy.xdsCluster)])])]),
                ]),
                "cds_config": adsConfigSource,
                "lds_config": adsConfigSource,
            ]),
            "static_resources": .object([
                "listeners": .array([prometheusStatsListener]),
                "clusters": .array([xdsCluster(input), sdsCluster(input.sdsSocket), prometheusStatsClusterConfig]),
            ]),
            "stats_config": statsConfig,
            "layered_runtime": .object([
                "layers": .array([
                    .object([
                        "name": .string("global config"),
                        "static_layer": .object([
                            "re2.max_program_size.error_level": .number(Double(Envoy.regexProgramSizeLimit))
                        ]),
                    ]),
                    .object(["name": .string("admin"), "admin_layer": .object([:])]),
                ])
            ]),
        ])
    }

    /// id, cluster (`APP.NAMESPACE`, as istio-agent names it) and the metadata meshd reads:
    /// NAMESPACE, LABELS, INSTANCE_IPS, CLUSTER_ID; plus POD_NAME, INTERCEPTION_MODE and
    /// ISTIO_VERSION, which Istio's tools display.
    static func envoyNode(_ input: EnvoyBootstrapInput) -> JSONValue {
        var metadata: [String: JSONValue] = [
            "NAMESPACE": .string(input.node.namespace),
            "LABELS": .object(input.labels.mapValues { .string($0) }),
            "INSTANCE_IPS": .string(input.node.ip),
            "POD_NAME": .string(input.node.podName),
            "ISTIO_VERSION": .string(Envoy.versionTag),
        ]
        if !input.clusterID.isEmpty { metadata["CLUSTER_ID"] = .string(input.clusterID) }
        // A sidecar's traffic is captured by iptables; a gateway's listeners bind their ports.
        if !input.node.isGateway { metadata["INTERCEPTION_MODE"] = .string("REDIRECT") }
        let workload = input.labels["app"] ?? input.labels["app.kubernetes.io/name"] ?? input.node.podName
        return .object([
            "id": .string(input.node.raw),
            "cluster": .string("\(workload).\(input.node.namespace)"),
            "metadata": .object(metadata),
        ])
    }

    /// LDS and CDS over the ADS stream.
    private static var adsConfigSource: JSONValue {
        .object(["ads": .object([:]), "resource_api_version": .string("V3")])
    }

    /// A config source for a secret from mesh-agent over `sds-grpc`.
    private static func sdsSecret(_ name: String) -> JSONValue {
        .object([
            "name": .string(name),
            "sds_config": .object([
                "resource_api_version": .string("V3"),
                "api_config_source": .object([
                    "api_type": .string("GRPC"),
                    "transport_api_version": .string("V3"),
                    "set_node_on_first_message_only": .bool(true),
                    "grpc_services": .array([.object(["envoy_grpc": .object(["cluster_name": .string(Envoy.sdsCluster)])])]),
                ]),
            ]),
        ])
    }

    /// meshd's xDS port: HTTP/2 with keepalive; with mTLS, the client certificate (`default`)
    /// and the trust bundle (`ROOTCA`) come from mesh-agent over SDS, and meshd's certificate
    /// must name `serverName`.
    private static func xdsCluster(_ input: EnvoyBootstrapInput) -> JSONValue {
        var cluster: [String: JSONValue] = [
            "name": .string(Envoy.xdsCluster),
            // An IP is used as is; a name is resolved and re-resolved (meshd's Service).
            "type": .string(isIPAddress(input.xdsHost) ? "STATIC" : "STRICT_DNS"),
            "connect_timeout": .string("1s"),
            "lb_policy": .string("ROUND_ROBIN"),
            "load_assignment": loadAssignment(Envoy.xdsCluster, address: socketAddress(input.xdsHost, input.xdsPort)),
            "typed_extension_protocol_options": http2Options(keepalive: true),
            "upstream_connection_options": .object(["tcp_keepalive": .object(["keepalive_time": .number(300)])]),
        ]
        if !input.plaintext {
            cluster["transport_socket"] = .object([
                "name": .string("envoy.transport_sockets.tls"),
                "typed_config": .object([
                    "@type": .string("type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"),
                    "sni": .string(input.serverName),
                    "common_tls_context": .object([
                        "tls_certificate_sds_secret_configs": .array([sdsSecret("default")]),
                        "combined_validation_context": .object([
                            "default_validation_context": .object([
                                "match_typed_subject_alt_names": .array([
                                    .object([
                                        "san_type": .string(isIPAddress(input.serverName) ? "IP_ADDRESS" : "DNS"),
                                        "matcher": .object(["exact": .string(input.serverName)]),
                                    ])
                                ])
                            ]),
                            "validation_context_sds_secret_config": sdsSecret("ROOTCA"),
                        ]),
                    ]),
                ]),
            ])
        }
        return .object(cluster)
    }

    /// mesh-agent's SDS socket (a pipe address), HTTP/2.
    private static func sdsCluster(_ socket: String) -> JSONValue {
        .object([
            "name": .string(Envoy.sdsCluster),
            "type": .string("STATIC"),
            "connect_timeout": .string("1s"),
            "load_assignment": loadAssignment(Envoy.sdsCluster, address: .object(["pipe": .object(["path": .string(socket)])])),
            "typed_extension_protocol_options": http2Options(keepalive: false),
        ])
    }

    private static func http2Options(keepalive: Bool) -> JSONValue {
        var http2: [String: JSONValue] = [:]
        if keepalive {
            http2["connection_keepalive"] = .object(["interval": .string("30s"), "timeout": .string("10s")])
        }
        return .object([
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": .object([
                "@type": .string("type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"),
                "explicit_http_config": .object(["http2_protocol_options": .object(http2)]),
            ])
        ])
    }

    private static func loadAssignment(_ cluster: String, address: JSONValue) -> JSONValue {
        .object([
            "cluster_name": .string(cluster),
            "endpoints": .array([
                .object([
                    "lb_endpoints": .array([.object(["endpoint": .object(["address": address])])])
                ])
            ]),
        ])
    }

    private static func socketAddress(_ host: String, _ port: Int) -> JSONValue {
        .object(["socket_address": .object(["address": .string(host), "port_value": .number(Double(port))])])
    }

    private static func isIPAddress(_ host: String) -> Bool { EnvoyNodeID.isIPAddress(host) }
}
