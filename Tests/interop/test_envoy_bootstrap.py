"""`meshctl bootstrap --envoy`: the printed bootstrap is one Envoy loads.

Decoded as envoy.config.bootstrap.v3.Bootstrap with the official protos (json_format rejects
unknown fields) and checked against Envoy's PGV rules recursively, Any payloads included.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml
from envoy.config.bootstrap.v3 import bootstrap_pb2
from google.protobuf import json_format

from meshd_process import meshctl_bin
from proto_check import find_problems, load_all_protos, unpack

NODE = "sidecar~10.1.2.3~reviews-v1-7f9d.bookinfo~bookinfo.svc.cluster.local"


def meshctl(*args, check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run([meshctl_bin(), "--server", "http://127.0.0.1:15014", *args],
                       capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise AssertionError(f"meshctl {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


def decode(text: str, yaml_input: bool = False) -> bootstrap_pb2.Bootstrap:
    load_all_protos()  # so the Any payloads (UpstreamTlsContext, HttpProtocolOptions) resolve
    bootstrap = bootstrap_pb2.Bootstrap()
    if yaml_input:
        json_format.ParseDict(yaml.safe_load(text), bootstrap)
    else:
        json_format.Parse(text, bootstrap)
    problems = find_problems(bootstrap)
    assert problems == [], "\n".join(problems)
    return bootstrap


def clusters(bootstrap) -> dict:
    return {c.name: c for c in bootstrap.static_resources.clusters}


def test_envoy_bootstrap_decodes_and_passes_envoys_rules():
    b = decode(meshctl("bootstrap", "--envoy", "--node-id", NODE, "--labels", "app=reviews,version=v1",
                       "--xds-address", "meshd.mesh-system.svc:15013").stdout)
    assert b.node.id == NODE
    assert b.node.cluster == "reviews.bookinfo"
    meta = json_format.MessageToDict(b.node.metadata)
    assert meta["NAMESPACE"] == "bookinfo" and meta["INSTANCE_IPS"] == "10.1.2.3"
    assert meta["LABELS"] == {"app": "reviews", "version": "v1"}
    assert meta["CLUSTER_ID"] and meta["POD_NAME"] == "reviews-v1-7f9d"

    ads = b.dynamic_resources.ads_config
    assert ads.api_type == ads.DELTA_GRPC and ads.grpc_services[0].envoy_grpc.cluster_name == "xds-grpc"
    for source in (b.dynamic_resources.cds_config, b.dynamic_resources.lds_config):
        assert source.HasField("ads") and source.resource_api_version == 2  # V3

    xds, sds = clusters(b)["xds-grpc"], clusters(b)["sds-grpc"]
    address = xds.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address
    assert (address.address, address.port_value) == ("meshd.mesh-system.svc", 15013)
    assert xds.type == xds.STRICT_DNS
    tls = unpack(xds.transport_socket.typed_config)
    assert tls.sni == "meshd.mesh-system.svc"
    common = tls.common_tls_context
    assert [c.name for c in common.tls_certificate_sds_secret_configs] == ["default"]
    assert common.combined_validation_context.validation_context_sds_secret_config.name == "ROOTCA"
    for config in (common.tls_certificate_sds_secret_configs[0], common.combined_validation_context.validation_context_sds_secret_config):
        assert config.sds_config.api_config_source.grpc_services[0].envoy_grpc.cluster_name == "sds-grpc"
    assert sds.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.pipe.path == \
        "/var/run/secrets/workload-spiffe-uds/socket"
    http2 = unpack(sds.typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"])
    assert http2.explicit_http_config.HasField("http2_protocol_options")

    assert (b.admin.address.socket_address.address, b.admin.address.socket_address.port_value) == ("127.0.0.1", 15000)
    static = json_format.MessageToDict(b.layered_runtime.layers[0].static_layer)
    # meshd accepts regexes up to RE2 program size 32768 (MeshModel.RegexSyntax.maxProgramSize).
    assert static["re2.max_program_size.error_level"] >= 32768


def test_plaintext_yaml_and_socket_options():
    out = meshctl("bootstrap", "--envoy", "--node-id", NODE, "--plaintext", "--sds-socket", "/run/agent/sds.sock",
                  "--xds-address", "10.0.0.9:15010", "-o", "yaml").stdout
    b = decode(out, yaml_input=True)
    xds = clusters(b)["xds-grpc"]
    assert not xds.HasField("transport_socket")
    assert xds.type == xds.STATIC
    assert xds.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value == 15010
    assert clusters(b)["sds-grpc"].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.pipe.path == "/run/agent/sds.sock"


def test_default_xds_address_is_the_server_host_on_the_mtls_port():
    b = decode(meshctl("bootstrap", "--envoy", "--node-id", NODE).stdout)
    address = clusters(b)["xds-grpc"].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address
    assert (address.address, address.port_value) == ("127.0.0.1", 15013)


@pytest.mark.parametrize("node_id, why", [
    ("proxyless~client-1", "4"),
    ("ingress~10.0.0.1~gw.default~default.svc.cluster.local", "'sidecar' or 'router'"),
    ("sidecar~not-an-ip~app.default~default.svc.cluster.local", "IP address"),
    ("sidecar~10.0.0.1~app.other~default.svc.cluster.local", "POD.default"),
    ("sidecar~10.0.0.1~app.default~default.cluster.local", "NAMESPACE.svc.DOMAIN"),
])
def test_a_node_id_not_shaped_like_an_envoy_id_is_refused(node_id, why):
    p = meshctl("bootstrap", "--envoy", "--node-id", node_id, check=False)
    assert p.returncode != 0 and p.stdout == ""
    assert "is not an Envoy proxy id" in p.stderr and why in p.stderr, p.stderr


def test_a_gateway_bootstrap_has_no_traffic_capture():
    """router~ ids are gateways: the same ADS and SDS plumbing, the labels its Gateways select,
    and no INTERCEPTION_MODE (a gateway's listeners bind their ports)."""
    node = "router~10.0.0.9~ingress-1.istio-system~istio-system.svc.cluster.local"
    b = decode(meshctl("bootstrap", "--envoy", "--node-id", node, "--labels", "istio=ingressgateway").stdout)
    assert b.node.id == node
    assert "INTERCEPTION_MODE" not in b.node.metadata.fields
    assert b.node.metadata.fields["LABELS"].struct_value.fields["istio"].string_value == "ingressgateway"
    assert {"xds-grpc", "sds-grpc"} <= set(clusters(b))


def test_namespace_must_agree_with_the_node_id():
    p = meshctl("bootstrap", "--envoy", "--node-id", NODE, "--namespace", "default", check=False)
    assert p.returncode != 0 and "differs from the node id's namespace bookinfo" in p.stderr, p.stderr


# --namespace and --labels are for gRPC bootstraps too (node metadata for server policies, issue 13).
@pytest.mark.parametrize("flag", [["--plaintext"], ["--sds-socket", "/x"], ["--cluster-id", "c"], ["--server-name", "meshd"]])
def test_envoy_flags_without_envoy_are_refused_not_ignored(flag):
    p = meshctl("bootstrap", *flag, check=False)
    assert p.returncode != 0 and f"{flag[0]} is for --envoy bootstraps" in p.stderr, p.stderr


def envoy_prometheus_name(stat: str, tags: list) -> tuple[str, dict]:
    """What Envoy's /stats/prometheus makes of `stat` under `stats_tags` (use_all_default_tags
    false): each specifier in turn searches the name still left, takes group 2 (else 1) as the
    tag's value and cuts group 1 out; the rest becomes the metric name, dots as underscores."""
    import re
    labels = {}
    for tag in tags:
        match = re.search(tag.regex, stat)
        if not match:
            continue
        labels[tag.tag_name.replace(".", "_")] = match.group(2) if match.re.groups >= 2 else match.group(1)
        stat = stat[:match.start(1)] + stat[match.end(1):]
    return "envoy_" + stat.replace(".", "_"), labels


def test_stats_tags_keep_the_whole_cluster_name_meshd_reads():
    """Envoy's default extractor ends a cluster name at its first dot; meshd's observed traffic
    reads `envoy_cluster_name` = `outbound|PORT|SUBSET|HOST`, so the bootstrap's own tags must
    keep the host whole. No Envoy binary exists here: its extraction algorithm is applied to
    the bootstrap's regexes (the ones Python's `re` reads; listener_address uses a POSIX class)."""
    b = decode(meshctl("bootstrap", "--envoy", "--node-id", NODE, "--xds-address", "10.0.0.1:15013").stdout)
    assert b.stats_config.use_all_default_tags.value is False
    tags = [t for t in b.stats_config.stats_tags if t.tag_name != "envoy.listener_address"]
    host = "reviews.default.svc.cluster.local"
    cases = {
        f"cluster.outbound|9080|v1|{host}.upstream_rq_2xx":
            ("envoy_cluster_upstream_rq_xx", {"envoy_cluster_name": f"outbound|9080|v1|{host}", "envoy_response_code_class": "2"}),
        f"cluster.outbound|9080||{host}.upstream_rq_503":
            ("envoy_cluster_upstream_rq", {"envoy_cluster_name": f"outbound|9080||{host}", "envoy_response_code": "503"}),
        f"cluster.outbound|9080|v2|{host}.upstream_rq_time":
            ("envoy_cluster_upstream_rq_time", {"envoy_cluster_name": f"outbound|9080|v2|{host}"}),
        "cluster.outbound|443||api.example.com.circuit_breakers.default.rq_open":
            ("envoy_cluster_circuit_breakers_default_rq_open", {"envoy_cluster_name": "outbound|443||api.example.com"}),
        "cluster.inbound|9080||.upstream_cx_total": ("envoy_cluster_upstream_cx_total", {"envoy_cluster_name": "inbound|9080||"}),
        "cluster.BlackHoleCluster.upstream_cx_none_healthy":
            ("envoy_cluster_upstream_cx_none_healthy", {"envoy_cluster_name": "BlackHoleCluster"}),
        "http.stats.downstream_rq_2xx":
            ("envoy_http_downstream_rq_xx", {"envoy_http_conn_manager_prefix": "stats", "envoy_response_code_class": "2"}),
    }
    for stat, want in cases.items():
        assert envoy_prometheus_name(stat, tags) == want, stat


def test_prometheus_scrapes_envoy_on_15090_through_the_admin_port():
    b = decode(meshctl("bootstrap", "--envoy", "--node-id", NODE, "--xds-address", "10.0.0.1:15013").stdout)
    [listener] = b.static_resources.listeners
    assert (listener.address.socket_address.address, listener.address.socket_address.port_value) == ("0.0.0.0", 15090)
    manager = unpack(listener.filter_chains[0].filters[0].typed_config)
    [route] = manager.route_config.virtual_hosts[0].routes
    assert route.match.prefix == "/stats/prometheus" and route.route.cluster == "prometheus_stats"
    admin = clusters(b)["prometheus_stats"].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address
    assert (admin.address, admin.port_value) == ("127.0.0.1", 15000)
