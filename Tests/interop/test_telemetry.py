"""The Telemetry API (telemetry.istio.io) against a real meshd: providers from `--mesh-config`,
Telemetry resources at mesh, namespace and workload level, on an Envoy sidecar and an Envoy
gateway; what proxyless gRPC clients and stock Envoy cannot honour is warned on apply.

No Envoy runs here: an Envoy-like ADS client takes what meshd sends, and every resource (every
Any inside included: file and OpenTelemetry access loggers, the CEL filter, Zipkin and
OpenTelemetry tracers, custom tags) decodes with xds-protos and passes Envoy's PGV rules
(proto_check; the ads_clients fixture re-checks every response at teardown).
"""

from __future__ import annotations

import json

import configs
import proto_check
from meshd_process import run_meshctl
from test_envoy_gateway import LABELS as GATEWAY_METADATA
from test_envoy_gateway import NODE as GATEWAY_NODE
from test_envoy_gateway import edge_routes, gateway
from test_envoy_zero_trust import WORKLOAD, _inbound, sidecar, walk

HCM = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
TCP_PROXY = "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
FILE_LOG = "envoy.extensions.access_loggers.file.v3.FileAccessLog"
OTEL_LOG = "envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig"
CEL = "envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter"
ZIPKIN = "envoy.config.trace.v3.ZipkinConfig"
OTEL_TRACE = "envoy.config.trace.v3.OpenTelemetryConfig"
OTEL_HOST = "otel.observability.svc.cluster.local"
ZIPKIN_HOST = "zipkin.observability.svc.cluster.local"

MESH_CONFIG = f"""\
rootNamespace: istio-system
trustDomain: cluster.local
extensionProviders:
- name: stdout
  envoyFileAccessLog: {{path: /dev/stdout, logFormat: {{labels: {{code: "%RESPONSE_CODE%", path: "%REQ(:PATH)%"}}}}}}
- name: otel-logs
  envoyOtelAls: {{service: {OTEL_HOST}, port: 4317, logFormat: {{text: "%REQ(:METHOD)% %RESPONSE_CODE%", labels: {{pod: "%ENVIRONMENT(POD_NAME)%"}}}}}}
- name: zipkin
  zipkin: {{service: {ZIPKIN_HOST}, port: 9411, maxTagLength: 128}}
- name: otel-traces
  opentelemetry: {{service: observability/{OTEL_HOST}, port: 4317, grpc: {{timeout: 2s}}}}
- name: otel-http
  opentelemetry: {{service: {OTEL_HOST}, port: 4317, http: {{path: /v1/traces}}}}
"""

COLLECTORS = f"""\
apiVersion: {configs.API_VERSION}
kind: ServiceEntry
metadata: {{name: otel, namespace: observability}}
spec:
  hosts: [{OTEL_HOST}]
  ports: [{{number: 4317, name: grpc, protocol: GRPC}}]
  resolution: STATIC
  endpoints: [{{address: 127.0.0.1}}]
---
apiVersion: {configs.API_VERSION}
kind: ServiceEntry
metadata: {{name: zipkin, namespace: observability}}
spec:
  hosts: [{ZIPKIN_HOST}]
  ports: [{{number: 9411, name: http, protocol: HTTP}}]
  resolution: STATIC
  endpoints: [{{address: 127.0.0.1}}]
"""


def telemetry(name: str, namespace: str, spec: dict, api: str = "telemetry.istio.io/v1") -> str:
    return json.dumps({"apiVersion": api, "kind": "Telemetry", "metadata": {"name": name, "namespace": namespace},
                       "spec": spec}) + "\n"


MESH_WIDE = telemetry("mesh-default", "istio-system", {
    "accessLogging": [{"providers": [{"name": "stdout"}], "filter": {"expression": "response.code >= 400"}}],
    "tracing": [{"providers": [{"name": "zipkin"}], "randomSamplingPercentage": 25.5, "customTags": {
        "team": {"literal": {"value": "web"}},
        "user": {"header": {"name": "x-user", "defaultValue": "anonymous"}},
        "pod": {"environment": {"name": "POD_NAME"}},
        "sni": {"formatter": {"value": "%REQUESTED_SERVER_NAME%"}}}}],
})
WEB = telemetry("web", "default", {
    "selector": {"matchLabels": {"app": "web"}},
    "accessLogging": [{"providers": [{"name": "otel-logs"}], "match": {"mode": "SERVER"}}],
    "tracing": [{"providers": [{"name": "otel-traces"}], "match": {"mode": "CLIENT"}, "randomSamplingPercentage": 100}],
    "metrics": [{"overrides": [{"match": {"metric": "REQUEST_COUNT"}, "tagOverrides": {"x": {"operation": "REMOVE"}}}]}],
}, api="telemetry.istio.io/v1alpha1")


def _type(any_msg) -> str:
    return any_msg.type_url.rsplit("/", 1)[-1]


def managers(listener) -> list:
    chains = list(listener.filter_chains) + ([listener.default_filter_chain] if listener.HasField("default_filter_chain") else [])
    return [proto_check.unpack(f.typed_config) for c in chains for f in c.filters if _type(f.typed_config) == HCM]


def tcp_proxies(listener) -> list:
    chains = list(listener.filter_chains) + ([listener.default_filter_chain] if listener.HasField("default_filter_chain") else [])
    return [proto_check.unpack(f.typed_config) for c in chains for f in c.filters if _type(f.typed_config) == TCP_PROXY]


def started(meshd_factory, tmp_path):
    path = tmp_path / "mesh.yaml"
    path.write_text(MESH_CONFIG)
    return meshd_factory(extra_args=["--mesh-config", str(path)])


def test_telemetry_becomes_access_logs_and_tracing_that_pass_pgv(meshd_factory, ads_clients, tmp_path):
    meshd = started(meshd_factory, tmp_path)
    answer = meshd.apply(configs.join(WORKLOAD, COLLECTORS, MESH_WIDE, WEB))
    meshd.wait_pushed(answer["revision"])
    warnings = answer["warnings"]
    # What no client can honour over xDS is named, per kind, with the field.
    assert any(w.startswith("Telemetry default/web: spec.metrics: not honoured by Envoy proxies: stock Envoy has no istio.stats")
               for w in warnings), warnings
    assert any(w.startswith("Telemetry default/web: spec.accessLogging: not honoured by proxyless gRPC clients")
               for w in warnings), warnings
    assert any(w.startswith("Telemetry istio-system/mesh-default: spec.tracing: not honoured by proxyless gRPC clients")
               for w in warnings), warnings

    client = sidecar(meshd, ads_clients)  # validates every resource: xds-protos decode + PGV
    outbound = client.state["LDS"]["0.0.0.0_80"].message
    inbound = _inbound(client)
    emitted = {n[1:] for listener in (outbound, inbound) for n, _ in walk(listener) if n.startswith("@")}
    assert {FILE_LOG, OTEL_LOG, CEL, ZIPKIN, OTEL_TRACE} <= emitted, emitted

    # Client side (outbound): the mesh-wide file log with its CEL filter; the workload's OTel tracer.
    for manager in managers(outbound):
        assert [log.name for log in manager.access_log] == ["envoy.access_loggers.file"]
        log = manager.access_log[0]
        assert proto_check.unpack(log.filter.extension_filter.typed_config).expression == "response.code >= 400"
        file_log = proto_check.unpack(log.typed_config)
        assert file_log.path == "/dev/stdout" and dict(file_log.log_format.json_format)["code"] == "%RESPONSE_CODE%"
        assert manager.tracing.provider.name == "envoy.tracers.opentelemetry"
        assert manager.tracing.random_sampling.value == 100
        otel = proto_check.unpack(manager.tracing.provider.typed_config)
        assert otel.grpc_service.envoy_grpc.cluster_name == f"outbound|4317||{OTEL_HOST}"
        assert otel.grpc_service.timeout.seconds == 2
    # Server side (virtualInbound): the workload's OTel log replaces the file log; Zipkin tracing
    # from the mesh-wide Telemetry, its tags sorted.
    http = managers(inbound)
    assert http, "virtualInbound has HTTP chains"
    for manager in http:
        assert [log.name for log in manager.access_log] == ["envoy.access_loggers.open_telemetry"]
        otel = proto_check.unpack(manager.access_log[0].typed_config)
        assert otel.common_config.grpc_service.envoy_grpc.cluster_name == f"outbound|4317||{OTEL_HOST}"
        assert otel.body.string_value == "%REQ(:METHOD)% %RESPONSE_CODE%"
        assert [(a.key, a.value.string_value) for a in otel.attributes.values] == [("pod", "%ENVIRONMENT(POD_NAME)%")]
        tracing = manager.tracing
        assert (tracing.random_sampling.value, tracing.client_sampling.value, tracing.overall_sampling.value) == (25.5, 100, 100)
        assert [t.tag for t in tracing.custom_tags] == ["pod", "sni", "team", "user"]
        assert tracing.max_path_tag_length.value == 128
        zipkin = proto_check.unpack(tracing.provider.typed_config)
        assert (zipkin.collector_cluster, zipkin.collector_endpoint) == (f"outbound|9411||{ZIPKIN_HOST}", "/api/v2/spans")
        assert zipkin.trace_id_128bit and zipkin.collector_hostname == ZIPKIN_HOST
    # TCP chains log too (tcp_proxy has no tracing).
    assert all(len(p.access_log) == 1 for p in tcp_proxies(inbound)), "every inbound tcp_proxy logs"
    assert tcp_proxies(client.state["LDS"]["virtualOutbound"].message)[0].access_log[0].name == "envoy.access_loggers.file"


def test_without_telemetry_the_mesh_access_log_file_applies_and_deleting_telemetry_removes_it(meshd_factory, ads_clients, tmp_path):
    path = tmp_path / "mesh.yaml"
    path.write_text(MESH_CONFIG + "accessLogFile: /dev/stderr\naccessLogEncoding: JSON\n")
    meshd = meshd_factory(extra_args=["--mesh-config", str(path)])
    answer = meshd.apply(configs.join(WORKLOAD, COLLECTORS))
    meshd.wait_pushed(answer["revision"])
    client = sidecar(meshd, ads_clients)
    for manager in managers(_inbound(client)):
        assert len(manager.access_log) == 1 and not manager.HasField("tracing")
        file_log = proto_check.unpack(manager.access_log[0].typed_config)
        assert file_log.path == "/dev/stderr" and "response_code" in dict(file_log.log_format.json_format)


def test_an_envoy_gateway_logs_and_traces_as_the_client_side(meshd_factory, ads_clients, tmp_path):
    meshd = started(meshd_factory, tmp_path)
    edge = telemetry("edge", "istio-system", {
        "selector": {"matchLabels": {"istio": "ingressgateway"}},
        "accessLogging": [{"providers": [{"name": "otel-logs"}]}],
        "tracing": [{"providers": [{"name": "otel-http"}], "randomSamplingPercentage": 5}]})
    answer = meshd.apply(configs.join(configs.canary(9081, 9082), configs.envoy_mesh(), COLLECTORS, gateway(),
                                      edge_routes(50, 50), edge))
    meshd.wait_pushed(answer["revision"])
    client = ads_clients(meshd.xds_address, GATEWAY_NODE, user_agent_name="envoy", client_features=[],
                         metadata=GATEWAY_METADATA)
    client.wait_quiet(0.3)
    for kind, resources in client.state.items():
        for name, resource in resources.items():
            assert proto_check.find_problems(resource.message) == [], f"{kind} {name}"
    listener = client.state["LDS"]["0.0.0.0_80"].message
    (manager,) = managers(listener)
    assert [log.name for log in manager.access_log] == ["envoy.access_loggers.open_telemetry"]
    assert manager.tracing.spawn_upstream_span.value is True and manager.tracing.random_sampling.value == 5
    otel = proto_check.unpack(manager.tracing.provider.typed_config)  # OTLP/HTTP: HttpUri's PGV rules hold
    uri = otel.http_service.http_uri
    assert (uri.uri, uri.cluster, uri.timeout.seconds) == (f"{OTEL_HOST}/v1/traces", f"outbound|4317||{OTEL_HOST}", 3)
    # The gateway's own stats listener logs nothing.
    assert all(not m.access_log for m in managers(client.state["LDS"]["0.0.0.0_15090"].message))


def test_bad_telemetry_is_refused_naming_the_field_and_meshctl_gets_the_kind(meshd_factory, tmp_path):
    meshd = started(meshd_factory, tmp_path)
    meshd.wait_pushed(meshd.apply(MESH_WIDE)["revision"])
    for name in ("telemetry", "telemetries", "telemetries.telemetry.istio.io"):
        listed = json.loads(run_meshctl(meshd.admin_url, "get", name, "-A", "-o", "json").stdout)
        items = listed["items"] if isinstance(listed, dict) and "items" in listed else listed
        assert [(i["apiVersion"], i["kind"], i["metadata"]["name"]) for i in items] == [
            ("telemetry.istio.io/v1", "Telemetry", "mesh-default")], listed
    bad = telemetry("bad", "default", {"accessLogging": [{"filter": {"expression": "response.code >= (400"}}]})
    result = meshd.apply_raw(bad)
    assert result.status == 422, result.text
    assert "spec.accessLogging[0].filter.expression" in result.text and "CEL" in result.text, result.text
    typo = telemetry("typo", "default", {"tracing": [{"randomSamplingPercentag": 5}]})
    result = meshd.apply_raw(typo)
    assert result.status == 422 and "spec.tracing[0].randomSamplingPercentag" in result.text, result.text
