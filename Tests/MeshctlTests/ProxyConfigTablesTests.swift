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
        #expect(secrets.contains(["ROOTCA", "SDS", "sds-grpc", "-", "-", "-", "outbound|9080||reviews"]))
        #expect(secrets.contains(["default", "SDS", "sds-grpc", "-", "-", "-", "outbound|9080||reviews"]))
    }

    /// A gateway's credentials come from meshd over ADS: served or not, with the certificate's
    /// serial and expiry read from the dump (whose key meshd redacts).
    @Test func credentialsServedByMeshdShowSerialAndExpiry() throws {
        let listener = try json(
            """
            {"name": "0.0.0.0_443", "filter_chains": [{"transport_socket": {"typed_config": {"common_tls_context": {
              "tls_certificate_sds_secret_configs": [{"name": "kubernetes://gw-cred", "sds_config": {"ads": {}}}],
              "combined_validation_context": {"validation_context_sds_secret_config": {"name": "kubernetes://gw-cred-cacert", "sds_config": {"ads": {}}}}}}}}]}
            """)
        let served = try json(
            """
            {"name": "kubernetes://gw-cred", "tls_certificate": {"certificate_chain": {"inline_bytes": "\(Self.certificateBase64)"},
              "private_key": {"inline_bytes": "W3JlZGFjdGVkXQ=="}}}
            """)
        let references = ProxyConfigTables.secretReferences(in: [
            "LDS": [listener], "SDS": [.object(["name": "kubernetes://gw-cred", "resource": served])],
        ])
        let secrets = rows(ProxyConfigTables.secrets(references))
        #expect(secrets.contains(["kubernetes://gw-cred", "SDS", "ADS", "served", "0a1b", "2036-12-04T00:22:56Z", "0.0.0.0_443"]))
        #expect(secrets.contains(["kubernetes://gw-cred-cacert", "SDS", "ADS", "not served", "-", "-", "0.0.0.0_443"]))
    }

    /// A self-signed certificate, serial 0a1b, expiring 2036-12-04T00:22:56Z (base64 of its PEM).
    static let certificateBase64 =
        "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJmakNDQVNXZ0F3SUJBZ0lDQ2hzd0NnWUlLb1pJemowRUF3SXdIakVjTUJvR0ExVUVBd3dUY21WMmFXVjMKY3k1bGVHRnRjR3hsTG1OdmJUQWVGdzB5TmpFeU1EY3dNREl5TlRaYUZ3MHpOakV5TURRd01ESXlOVFphTUI0eApIREFhQmdOVkJBTU1FM0psZG1sbGQzTXVaWGhoYlhCc1pTNWpiMjB3V1RBVEJnY3Foa2pPUFFJQkJnZ3Foa2pPClBRTUJCd05DQUFSMkRFSkd3S1BIWVBLRW9IVldMYU5IWTdMazA0NThvTkFlNnJaTjk2UjRwb3E2cjliUDR3SGcKUVByTnA0QlgzenN3N3A2NSs4T0tlSVZTL3NYRUdOMldvMU13VVRBZEJnTlZIUTRFRmdRVUNEanJyQnNQRyt2cgp3cnI3L1paOG56V0dNbGt3SHdZRFZSMGpCQmd3Rm9BVUNEanJyQnNQRyt2cndycjcvWlo4bnpXR01sa3dEd1lEClZSMFRBUUgvQkFVd0F3RUIvekFLQmdncWhrak9QUVFEQWdOSEFEQkVBaUFwejB0cGlWN2swV0I5SjA4ZzcrMUMKQnlTV3o1SVpBNWl1VllQakd5Z0ZmUUlnT2ludGFlYVN3N2lnczlVWnJtNWxhQ3Q1SGlIdnUyYUVjWXNtRzhkUQpoWGs9Ci0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"
}
