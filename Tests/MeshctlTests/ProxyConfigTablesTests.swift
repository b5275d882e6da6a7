import Foundation
import MeshModel
import Testing

@testable import meshctl

/// The proxy-config tables over Envoy-shaped resources (as the config dump renders them).
@Suite struct ProxyConfigTablesTests {
    private func json(_ text: String) throws -> JSONValue {
        try JSONValue.parse(Data(text.utf8), what: "test")
    }

    private func rows(_ table: TextTable) -> [[String]] {
        table.render().split(separator: "\n").map { line in
            line.components(separatedBy: "   ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
    }

    @Test func clustersSplitIstioNamesAndReadTheirTypeAndRule() throws {
        let clusters =
            try json(
                """
                [{"name": "outbound|9080|v1|reviews.default.svc.cluster.local", "type": "EDS",
                  "metadata": {"filter_metadata": {"istio": {"config": "/apis/networking.istio.io/v1/namespaces/default/destination-rule/reviews"}}}},
                 {"name": "inbound|9080||", "type": "STATIC"},
                 {"name": "PassthroughCluster", "type": "ORIGINAL_DST"},
                 {"name": "BlackHoleCluster"}]
                """
            ).arrayValue ?? []
        let table = rows(ProxyConfigTables.clusters(clusters))
        #expect(table.contains(["reviews.default.svc.cluster.local", "9080", "v1", "outbound", "EDS", "reviews.default"]))
        #expect(table.contains(["-", "9080", "-", "inbound", "STATIC", "-"]))
        #expect(table.contains(["PassthroughCluster", "-", "-", "-", "ORIGINAL_DST", "-"]))
        #expect(table.contains(["BlackHoleCluster", "-", "-", "-", "STATIC", "-"]))
    }

    @Test func listenersHaveARowPerFilterChain() throws {
        let listeners =
            try json(
                """
                [{"name": "virtualOutbound", "address": {"socket_address": {"address": "0.0.0.0", "port_value": 15001}},
                  "use_original_dst": true,
                  "filter_chains": [{"filter_chain_match": {"destination_port": 443, "server_names": ["a.example"], "transport_protocol": "tls"},
                                     "filters": [{"name": "envoy.filters.network.tcp_proxy",
                                                  "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", "cluster": "outbound|443||a.example"}}]}],
                  "default_filter_chain": {"filters": [{"name": "envoy.filters.network.tcp_proxy",
                                                        "typed_config": {"cluster": "PassthroughCluster"}}]}},
                 {"name": "0.0.0.0_9080", "address": {"socket_address": {"address": "0.0.0.0", "port_value": 9080}},
                  "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                                                  "typed_config": {"rds": {"route_config_name": "9080"}}}]}]}]
                """
            ).arrayValue ?? []
        let table = rows(ProxyConfigTables.listeners(listeners))
        #expect(table.contains(["virtualOutbound", "0.0.0.0", "15001", "Port: 443; SNI: a.example; Trans: tls", "Cluster: outbound|443||a.example"]))
        #expect(table.contains(["virtualOutbound", "0.0.0.0", "15001", "ALL (default chain)", "Cluster: PassthroughCluster"]))
        #expect(table.contains(["0.0.0.0_9080", "0.0.0.0", "9080", "ALL", "Route: 9080"]))
    }

    @Test func routesEndpointsAndSecretReferences() throws {
        let route = try json(
            """
            {"name": "9080", "virtual_hosts": [{"name": "reviews.default.svc.cluster.local:9080",
              "domains": ["reviews.default.svc.cluster.local", "reviews", "reviews:9080"],
              "routes": [{"match": {"prefix": "/"}, "metadata": {"filter_metadata": {"istio": {"config": "/apis/networking.istio.io/v1/namespaces/default/virtual-service/reviews"}}}}]}]}
            """)
        #expect(
            rows(ProxyConfigTables.routes([route], listeners: [])).contains(
                ["9080", "reviews.default.svc.cluster.local:9080", "reviews.default.svc.cluster.local + 2 more", "/*", "reviews.default"]))

        let assignment = try json(
            """
            {"cluster_name": "outbound|9080|v1|reviews", "endpoints": [{"lb_endpoints": [
              {"endpoint": {"address": {"socket_address": {"address": "10.0.0.1", "port_value": 9080}}}},
              {"endpoint": {"address": {"socket_address": {"address": "10.0.0.2", "port_value": 9080}}}, "health_status": "DRAINING"}]}]}
            """)
        let endpoints = rows(ProxyConfigTables.endpoints([assignment]))
        #expect(endpoints.contains(["10.0.0.2:9080", "DRAINING", "N/A (in proxy)", "outbound|9080|v1|reviews"]))

        let cluster = try json(
            """
            {"name": "outbound|9080||reviews", "transport_socket": {"typed_config": {"common_tls_context": {
              "tls_certificate_sds_secret_configs": [{"name": "default", "sds_config": {"api_config_source": {"grpc_services": [{"envoy_grpc": {"cluster_name": "sds-grpc"}}]}}}],
              "combined_validation_context": {"validation_context_sds_secret_config": {"name": "ROOTCA", "sds_config": {"api_config_source": {"grpc_services": [{"envoy_grpc": {"cluster_name": "sds-grpc"}}]}}}}}}}}
            """)
        let secrets = rows(ProxyConfigTables.secrets(ProxyConfigTables.secretReferences(in: ["CDS": [cluster]])))
        #expect(secrets.contains(["ROOTCA", "SDS", "sds-grpc", "outbound|9080||reviews"]))
        #expect(secrets.contains(["default", "SDS", "sds-grpc", "outbound|9080||reviews"]))
    }
}
