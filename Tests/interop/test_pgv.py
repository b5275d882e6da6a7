"""Self-tests of the PGV oracle (pgv_check.py through proto_check.find_problems), no meshd needed.

Hand-made resources that break one of Envoy's protoc-gen-validate rules each are reported with
the path of the field and the rule; valid resources pass. So the oracle demonstrably can fail.
"""

from __future__ import annotations

import warnings

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.config.route.v3 import route_components_pb2, route_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from google.protobuf import any_pb2, descriptor_pool
from validate import validate_pb2

import pgv_check
import proto_check
from fake_ads import api_listener, canary_resources

ROUTE = "envoy.config.route.v3.RouteConfiguration"
HCM = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
# The types meshd emits (top-level resources and what it packs in Any); every type reachable
# from them must have a working validator.
EMITTED = (
    "envoy.config.listener.v3.Listener", ROUTE, "envoy.config.cluster.v3.Cluster",
    "envoy.config.endpoint.v3.ClusterLoadAssignment", HCM, "envoy.extensions.filters.http.router.v3.Router",
    "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
    "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
    "envoy.extensions.transport_sockets.tls.v3.Secret", "envoy.extensions.filters.http.rbac.v3.RBAC",
    "envoy.service.discovery.v3.DiscoveryResponse", "envoy.service.discovery.v3.DeltaDiscoveryResponse",
)


def _any(msg) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(msg)
    return packed


def _route_config() -> route_pb2.RouteConfiguration:
    rc = route_pb2.RouteConfiguration(name="9080")
    vh = rc.virtual_hosts.add(name="reviews:9080", domains=["reviews", "reviews:9080"])
    route = vh.routes.add()
    route.match.prefix = "/"
    route.route.cluster = "outbound|9080||reviews"
    return rc


def _cluster() -> cluster_pb2.Cluster:
    cluster = cluster_pb2.Cluster(name="outbound|9080||reviews", type=cluster_pb2.Cluster.EDS)
    cluster.connect_timeout.seconds = 10
    cluster.eds_cluster_config.eds_config.ads.SetInParent()
    return cluster


def _only(problems: list[str], path: str, *words: str) -> None:
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}: PGV: "), problems
    for word in words:
        assert word in problems[0], problems


def test_valid_resources_pass():
    for by_name in canary_resources({"v1": 1, "v2": 2}, {"v1": 50, "v2": 50}).values():
        for msg in by_name.values():
            assert proto_check.find_problems(msg) == []
    assert proto_check.find_problems(_route_config()) == []
    assert proto_check.find_problems(_cluster()) == []


def test_empty_cluster_name():
    cluster = _cluster()
    cluster.name = ""
    _only(proto_check.find_problems(cluster), "envoy.config.cluster.v3.Cluster.name",
          "length is less than 1", "value ''")


def test_invalid_header_name_in_header_matcher():
    rc = _route_config()
    rc.virtual_hosts[0].routes[0].match.headers.add(name="end-user\njason", present_match=True)
    _only(proto_check.find_problems(rc), f"{ROUTE}.virtual_hosts[0].routes[0].match.headers[0].name",
          "pattern does not match", r"'end-user\njason'")


def test_repeated_item_rules_name_the_index():
    rc = _route_config()
    rc.virtual_hosts[0].routes[0].request_headers_to_remove.extend(["x-ok", "x-also-ok", ""])
    _only(proto_check.find_problems(rc), f"{ROUTE}.virtual_hosts[0].routes[0].request_headers_to_remove[2]",
          "length is less than 1")
    listener = listener_pb2.Listener(name="l")
    listener.filter_chains.add().filter_chain_match.source_ports.extend([80, 0])
    _only(proto_check.find_problems(listener),
          "envoy.config.listener.v3.Listener.filter_chains[0].filter_chain_match.source_ports[1]", "value 0")


def test_duration_out_of_range():
    cluster = _cluster()
    cluster.connect_timeout.seconds = 0  # gt: 0s
    _only(proto_check.find_problems(cluster), "envoy.config.cluster.v3.Cluster.connect_timeout", "greater than 0")
    cluster = _cluster()
    cluster.dns_refresh_rate.nanos = 500_000  # gt: 1ms
    _only(proto_check.find_problems(cluster), "envoy.config.cluster.v3.Cluster.dns_refresh_rate", "greater than 0.001")


def test_numeric_ranges_on_scalars_and_wrappers():
    cla = endpoint_pb2.ClusterLoadAssignment(cluster_name="outbound|9080||reviews")
    locality = cla.endpoints.add()
    locality.load_balancing_weight.value = 0  # UInt32Value, gte: 1
    socket = locality.lb_endpoints.add().endpoint.address.socket_address
    socket.address, socket.port_value = "10.0.0.1", 70000  # lte: 65535
    problems = proto_check.find_problems(cla)
    assert len(problems) == 2, problems
    base = "envoy.config.endpoint.v3.ClusterLoadAssignment.endpoints[0]"
    assert any(p.startswith(f"{base}.load_balancing_weight.value: PGV: ") for p in problems), problems
    assert any(p.startswith(f"{base}.lb_endpoints[0].endpoint.address.socket_address.port_value: PGV: ")
               and "70000" in p for p in problems), problems


def test_required_message_oneof_and_min_items():
    rc = _route_config()
    rc.virtual_hosts[0].routes[0].ClearField("match")  # message.required
    _only(proto_check.find_problems(rc), f"{ROUTE}.virtual_hosts[0].routes[0].match", "is required")
    rc = _route_config()
    rc.virtual_hosts[0].routes[0].route.ClearField("cluster")
    rc.virtual_hosts[0].routes[0].route.timeout.seconds = 5  # a RouteAction with no cluster_specifier
    _only(proto_check.find_problems(rc), f"{ROUTE}.virtual_hosts[0].routes[0].route",
          "oneof cluster_specifier is required")
    rc = _route_config()
    del rc.virtual_hosts[0].domains[:]  # min_items: 1
    _only(proto_check.find_problems(rc), f"{ROUTE}.virtual_hosts[0].domains", "at least 1")


def test_enum_and_map_key_rules():
    cluster = _cluster()
    cluster.lb_policy = 42  # defined_only (the walk reports the undefined value as well)
    problems = proto_check.find_problems(cluster)
    assert any(p.startswith("envoy.config.cluster.v3.Cluster.lb_policy: PGV: is not defined") for p in problems)
    cluster = _cluster()
    cluster.metadata.filter_metadata[""].SetInParent()  # keys: min_len 1
    _only(proto_check.find_problems(cluster), "envoy.config.cluster.v3.Cluster.metadata.filter_metadata['']",
          "length is less than 1")


def test_rules_inside_any_in_listener():
    listener = api_listener("reviews:9080")
    hcm = hcm_pb2.HttpConnectionManager()
    listener.api_listener.api_listener.Unpack(hcm)
    hcm.ClearField("rds")  # route_specifier is a required oneof
    hcm.stat_prefix = ""  # min_len: 1
    listener.api_listener.api_listener.CopyFrom(_any(hcm))
    problems = proto_check.find_problems(listener)
    where = f"envoy.config.listener.v3.Listener.api_listener.api_listener<{HCM}>"
    assert sorted(problems) == sorted([f"{where}: PGV: oneof route_specifier is required",
                                       f"{where}.stat_prefix: PGV: length is less than 1 (value '')"]), problems
    # The same HCM in a filter chain's typed_config, with a Filter without a name.
    chained = listener_pb2.Listener(name="0.0.0.0_9080")
    chained.address.socket_address.address, chained.address.socket_address.port_value = "0.0.0.0", 9080
    chained.filter_chains.add().filters.append(listener_components_pb2.Filter(typed_config=_any(hcm)))
    problems = proto_check.find_problems(chained)
    where = "envoy.config.listener.v3.Listener.filter_chains[0].filters[0]"
    assert sorted(problems) == sorted([f"{where}.name: PGV: length is less than 1 (value '')",
                                       f"{where}.typed_config<{HCM}>: PGV: oneof route_specifier is required",
                                       f"{where}.typed_config<{HCM}>.stat_prefix: PGV: length is less than 1 (value '')"
                                       ]), problems


def test_every_emitted_type_has_a_validator():
    proto_check.load_all_protos()
    pool = descriptor_pool.Default()
    seen: set[str] = set()
    pending = [pool.FindMessageTypeByName(name) for name in EMITTED]
    while pending:
        desc = pending.pop()
        if desc.full_name in seen:
            continue
        seen.add(desc.full_name)
        pending += [fd.message_type for fd in desc.fields if fd.message_type is not None]
        check = pgv_check._check_for(desc)
        assert callable(check), f"{desc.full_name}: {check}"
    assert len(seen) > 300


def test_patched_library_leaves_descriptor_options_alone():
    """The library renders well-known regexes by writing into the options; the patch copies them."""
    fd = route_components_pb2.HeaderMatcher.DESCRIPTOR.fields_by_name["name"]
    rules = fd.GetOptions().Extensions[validate_pb2.rules]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # protobuf 7: mutating GetOptions() results warns
        pgv_check.validator.string_template(rules, "p.name")
    assert rules.string.pattern == ""
    assert rules.string.well_known_regex == validate_pb2.HTTP_HEADER_NAME


@pytest.mark.parametrize("value,ok", [("x-user", True), (":authority", True), ("a b", True), ("a\r", False)])
def test_non_strict_header_name_is_header_string(value, ok):
    """strict: false turns HTTP_HEADER_NAME into 'no NUL, CR or LF' (PGV's semantics, as Envoy's)."""
    header = base_pb2.HeaderValue(key=value, value="v")
    assert (pgv_check.violations(header, "h") == []) == ok


def test_socket_address_needs_its_port_specifier():
    """A required oneof counts presence, not value: port_value 0 set explicitly is present."""
    endpoint = endpoint_components_pb2.Endpoint()
    endpoint.address.socket_address.address = "10.0.0.1"
    _only(proto_check.find_problems(endpoint), "envoy.config.endpoint.v3.Endpoint.address.socket_address",
          "oneof port_specifier is required")
    endpoint.address.socket_address.port_value = 0
    assert proto_check.find_problems(endpoint) == []


def test_a_type_without_rules_passes_without_running_the_library():
    """OpenTelemetry's KeyValueList (Telemetry's OTel access log attributes) has no PGV rules;
    the library's generated code fails on its `values` field, so it is not run for such types."""
    from envoy.extensions.access_loggers.open_telemetry.v3 import logs_service_pb2

    config = logs_service_pb2.OpenTelemetryAccessLogConfig()
    config.common_config.log_name = "otel_envoy_accesslog"
    config.common_config.grpc_service.envoy_grpc.cluster_name = "outbound|4317||otel"
    pair = config.attributes.values.add(key="pod")
    pair.value.string_value = "%ENVIRONMENT(POD_NAME)%"
    assert not pgv_check._has_rules(config.attributes.DESCRIPTOR)
    assert proto_check.find_problems(config) == []
    config.common_config.log_name = ""
    _only(proto_check.find_problems(config),
          "envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig.common_config.log_name",
          "length is less than 1")
