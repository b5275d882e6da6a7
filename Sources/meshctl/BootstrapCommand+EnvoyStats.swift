import MeshModel

/// The statistics half of the Envoy bootstrap: Prometheus' scrape listener on 15090 (as
/// istio-agent's bootstrap has it) and the tag extraction that keeps a cluster's whole name.
///
/// Envoy's default `envoy.cluster_name` extractor ends the name at its first dot, so
/// `cluster.outbound|9080|v1|reviews.default.svc.cluster.local.upstream_rq_xx` would be tagged
/// `outbound|9080|v1|reviews` and the rest folded into the metric's name. meshd reads observed
/// traffic by `envoy_cluster_name` = `outbound|PORT|SUBSET|HOST` (docs/observed-traffic.md), so
/// the bootstrap replaces the default tags with its own list, keeping Envoy's tag names.
extension BootstrapCommand {
    /// Istio's port for Envoy's Prometheus statistics.
    static let prometheusStatsPort = 15090
    static let prometheusStatsCluster = "prometheus_stats"

    /// The tags and the regex each is cut out of a statistic's name with (RE2). The first
    /// capture group is removed from the name, the second is the tag's value.
    static let statsTags: [(name: String, regex: String)] = [
        // A mesh cluster: `outbound|PORT|SUBSET|HOST` with the host's every label (hosts are
        // DNS names: no `_`, which every statistic after the name has in its first word);
        // any other cluster (`inbound|9080||`, `BlackHoleCluster`) up to the first dot.
        ("envoy.cluster_name", #"^cluster\.((outbound\|[0-9]+\|[^|]*\|[-*a-z0-9.]+|[^.]+)\.)"#),
        ("envoy.response_code", #"_rq(_(\d{3}))$"#),
        // Only the digit is cut out: `upstream_rq_2xx` becomes `upstream_rq_xx`, class "2".
        ("envoy.response_code_class", #"_rq_((\d))xx$"#),
        ("envoy.http_conn_manager_prefix", #"^http\.((.*?)\.)"#),
        ("envoy.listener_address", #"^listener\.(((?:[_.[:digit:]]*|[_\[\]aAbBcCdDeEfF[:digit:]]*))\.)"#),
    ]

    /// `stats_config`: the tags above instead of Envoy's defaults (they cannot be redefined
    /// while the defaults are on).
    static var statsConfig: JSONValue {
        .object([
            "use_all_default_tags": .bool(false),
            "stats_tags": .array(statsTags.map { .object(["tag_name": .string($0.name), "regex": .string($0.regex)]) }),
        ])
    }

    /// `0.0.0.0:15090`, answering `/stats/prometheus` from the admin port, which stays on loopback.
    static var prometheusStatsListener: JSONValue {
        .object([
            "name": .string("prometheus_stats"),
            "address": .object([
                "socket_address": .object(["address": .string("0.0.0.0"), "port_value": .number(Double(prometheusStatsPort))])
            ]),
            "filter_chains": .array([
                .object([
                    "filters": .array([
                        .object([
                            "name": .string("envoy.filters.network.http_connection_manager"),
                            "typed_config": .object([
                                "@type": .string(
                                    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"),
                                "stat_prefix": .string("stats"),
                                "route_config": .object([
                                    "virtual_hosts": .array([
                                        .object([
                                            "name": .string("backend"), "domains": .array([.string("*")]),
                                            "routes": .array([
                                                .object([
                                                    "match": .object(["prefix": .string("/stats/prometheus")]),
                                                    "route": .object(["cluster": .string(prometheusStatsCluster)]),
                                                ])
                                            ]),
                                        ])
                                    ])
                                ]),
                                "http_filters": .array([
                                    .object([
                                        "name": .string("envoy.filters.http.router"),
                                        "typed_config": .object([
                                            "@type": .string("type.googleapis.com/envoy.extensions.filters.http.router.v3.Router")
                                        ]),
                                    ])
                                ]),
                            ]),
                        ])
                    ])
                ])
            ]),
        ])
    }

    /// The admin port, as the scrape listener's upstream.
    static var prometheusStatsClusterConfig: JSONValue {
        .object([
            "name": .string(prometheusStatsCluster),
            "type": .string("STATIC"),
            "connect_timeout": .string("0.250s"),
            "load_assignment": .object([
                "cluster_name": .string(prometheusStatsCluster),
                "endpoints": .array([
                    .object([
                        "lb_endpoints": .array([
                            .object([
                                "endpoint": .object([
                                    "address": .object([
                                        "socket_address": .object([
                                            "address": .string("127.0.0.1"), "port_value": .number(Double(Envoy.adminPort)),
                                        ])
                                    ])
                                ])
                            ])
                        ])
                    ])
                ]),
            ]),
        ])
    }
}
