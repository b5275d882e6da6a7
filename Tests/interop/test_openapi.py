"""The admin API against its OpenAPI document (Sources/AdminAPI/Assets/openapi.json), fuzzed with
schemathesis (issue 14 item 5): no 5xx, and every answer's status, content type, headers and
body as the document says.

One meshd for the module, seeded with a ServiceEntry, two WorkloadEntries, a DestinationRule and
a VirtualService, with a real grpcio xDS client connected, so the debug endpoints have something
to show. Then:

- `test_known_good_requests`: one hand-written request per existing operation (and a few
  errors) that must succeed or fail as stated, each answer validated against the document —
  fuzzing alone rarely reaches a 200 for a valid config or a connected proxy's config dump;
- `test_fuzz`: schemathesis generates requests for every operation (the document's examples,
  coverage cases, then positive and negative cases; `MAX_EXAMPLES` each, deterministic), with
  the admin token so token minting is fuzzed too; a request the document calls invalid must
  also be refused with a 4xx.

Bounded: `MAX_EXAMPLES` per operation and phase, derandomized; each operation is its own pytest
item under conftest's per-test timeout. Measured on 2 busy cores: about 1300 requests in 20-26 s
(the module, meshd start and client included: about 40 s).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import tempfile
import time
from pathlib import Path

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import configs
from ca_tools import make_ca
from client_runner import XdsClientProcess
from meshd_process import REPO_ROOT, Meshd
from prometheus_server import PrometheusServer
from results import record_result

HERE = Path(__file__).resolve().parent
SPEC = REPO_ROOT / "Sources" / "AdminAPI" / "Assets" / "openapi.json"


# Operations fuzzing cannot exercise meaningfully, and why.
NOT_FUZZED = {
    ("GET", "/api/v1/events"):
        "an endless text/event-stream: a plain request never completes; test_events_stream reads it with a bounded read",
}

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
# Beyond conformance: a request the document calls invalid must get a 4xx, so a field the
# handler ignores without a word is found (it found three, see OpenAPIFuzzRegressionTests).
FUZZ_CHECKS = [*CHECKS, negative_data_rejection]
# Per operation and phase; MESHD_OPENAPI_MAX_EXAMPLES (and MESHD_OPENAPI_SEED) for a longer hunt by hand.
MAX_EXAMPLES = int(os.environ.get("MESHD_OPENAPI_MAX_EXAMPLES", "50"))
CONFIG = SchemathesisConfig.from_dict({
    "seed": int(os.environ.get("MESHD_OPENAPI_SEED", "14")),
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none",
                   # Every request carries the admin token (below); a generated Authorization
                   # header would only repeat what test_known_good_requests checks.
                   "with-security-parameters": False},
})
DOCUMENT = schemathesis.openapi.from_path(SPEC, config=CONFIG)
FUZZED = DOCUMENT.exclude(
    func=lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in NOT_FUZZED)

CLIENT_NODE = "openapi-fuzz-client"

CANARY = """apiVersion: meshd.io/v1alpha1
kind: Canary
metadata: {name: reviews, namespace: default}
spec:
  host: reviews.default.svc.cluster.local
  from: v1
  to: v2
  steps: [20, 100]
  interval: 1h
  analysis: {minRequests: 1}
"""

# A Gateway API route, so config reads answer a route with its computed status.
ROUTE = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews-route, namespace: default}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]
  rules: [{backendRefs: [{name: reviews, port: 9080}, {name: missing, port: 9080}]}]
"""

# Requests sent by test_fuzz and their statuses, for the run's summary.
FUZZ_STATUSES: dict[int, int] = {}


@pytest.fixture(scope="module")
def api(request):
    """A started meshd with seeded config and a connected grpcio client; closed after the module.
    meshd reads observed traffic from a real (empty) Prometheus, so /api/v1/traffic answers 200."""
    prometheus = PrometheusServer(name="prometheus[test_openapi]").start()
    meshd = Meshd(name="meshd[test_openapi]", extra_args=["--prometheus-url", prometheus.url])
    client = None
    try:
        meshd.start()
        revision = meshd.apply(configs.canary(9001, 9002))["revision"]
        meshd.wait_pushed(revision)
        # A canary for /api/v1/canaries: one-hour steps, so it stays at its first step.
        meshd.apply(CANARY)
        meshd.wait_pushed(meshd.apply(ROUTE)["revision"])
        deadline = time.monotonic() + 10
        while (meshd.request("GET", "/api/v1/canaries/default/reviews").json().get("status") or {}).get("phase") != "Progressing":
            assert time.monotonic() < deadline, f"the canary never started\n{meshd.tail()}"
            time.sleep(0.1)
        client = XdsClientProcess(meshd.xds_address, CLIENT_NODE)
        deadline = time.monotonic() + 30
        while meshd.proxy_status(CLIENT_NODE) is None:
            assert time.monotonic() < deadline, f"the grpcio client never connected\n{client.stderr_tail()}\n{meshd.tail()}"
            time.sleep(0.1)
        started = time.monotonic()
        yield meshd
        if FUZZ_STATUSES:
            statuses = ", ".join(f"{status}: {count}" for status, count in sorted(FUZZ_STATUSES.items()))
            record_result("test_openapi", f"{sum(FUZZ_STATUSES.values())} fuzzed requests in {time.monotonic() - started:.1f}s ({statuses})")
    finally:
        if client is not None:
            client.close()
        meshd.close()
        prometheus.stop()


def _auth(meshd: Meshd) -> dict:
    return {"Authorization": "Bearer " + meshd.admin_token()}


def test_document_is_valid_openapi_31():
    """The file parses, declares 3.1.x and passes the OpenAPI 3.1 meta-schema."""
    raw = json.loads(SPEC.read_text())
    assert raw["openapi"].startswith("3.1."), raw["openapi"]
    import jsonschema_rs
    from schemathesis.specs.openapi.definitions import OPENAPI_31
    errors = [str(e) for e in jsonschema_rs.Draft202012Validator(OPENAPI_31).iter_errors(raw)]
    assert not errors, "\n\n".join(errors[:5])
    for path, item in raw["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            assert "200" in statuses, f"{method.upper()} {path}: no 200"
            if not operation.get("security", None) == []:
                assert {"401", "403"} <= statuses, f"{method.upper()} {path}: authenticated but 401/403 undocumented"
            if "requestBody" in operation and path.startswith("/api/"):
                assert "415" in statuses and "413" in statuses, f"{method.upper()} {path}: has a body but no 413/415"


def test_served_document_is_the_file(api):
    r = api.request("GET", "/api/v1/openapi.json")
    assert r.status == 200, r
    assert r.headers.get("Content-Type") == "application/json", r.headers
    assert r.body == SPEC.read_bytes(), "meshd serves a different document: run scripts/embed-assets.sh and rebuild"
    again = api.request("GET", "/api/v1/openapi.json", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status == 304 and again.body == b"", again


def test_events_stream(api):
    """GET /api/v1/events with a bounded read: the headers say text/event-stream and the first
    event arrives; what is fuzzed for the other operations cannot complete on an endless stream."""
    host, port = api.admin_address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/api/v1/events")
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader("Content-Type", "").split(";")[0] == "text/event-stream"
        revision = api.apply(configs.virtual_service({"v1": 10, "v2": 90}))["revision"]
        deadline = time.monotonic() + 10
        seen = b""
        while f'"revision":{revision}'.encode() not in seen.replace(b" ", b""):
            assert time.monotonic() < deadline, f"no revision event for {revision} in {seen[-2000:]!r}"
            seen += resp.fp.read1(4096)
    finally:
        conn.close()


def _known_good(api) -> list[tuple[str, str, dict, int]]:
    """(method, path, Case kwargs, expected status): each existing operation's success, and the
    errors fuzzing would not reliably reach."""
    token = _auth(api)
    dr = {"apiVersion": configs.API_VERSION, "kind": "DestinationRule",
          "metadata": {"name": "openapi-extra", "namespace": "default"},
          "spec": {"host": "reviews.default.svc.cluster.local", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}}
    config_path = {"kind": "vs", "namespace": "default", "name": "reviews"}
    # A self-signed P-256 certificate and its key: a credential the secrets API accepts.
    gw_cert, gw_key = make_ca(Path(tempfile.mkdtemp(prefix="openapi-gw-")), "openapi-gw")
    secret_path = {"namespace": "istio-system", "name": "openapi-gw"}
    secret_body = {"type": "kubernetes.io/tls", "certificate": gw_cert.read_text(), "key": gw_key.read_text()}
    return [
        ("GET", "/healthz", {}, 200),
        ("GET", "/ready", {}, 200),
        ("GET", "/metrics", {}, 200),
        ("GET", "/api/v1/openapi.json", {}, 200),
        ("POST", "/api/v1/apply", {"body": dr, "media_type": "application/yaml"}, 200),
        ("POST", "/api/v1/apply", {"body": [dr], "media_type": "application/json"}, 200),
        ("POST", "/api/v1/apply", {"body": {**dr, "spec": {"host": 7}}, "media_type": "application/json"}, 422),
        ("POST", "/api/v1/apply", {"body": {**dr, "kind": "Gizmo"}, "media_type": "application/json"}, 400),
        ("GET", "/api/v1/config/{kind}", {"path_parameters": {"kind": "virtualservices"}}, 200),
        ("GET", "/api/v1/config/{kind}", {"path_parameters": {"kind": "gizmo"}}, 400),
        # A route, with the status its configuration computed (validated against RouteStatus).
        ("GET", "/api/v1/config/{kind}", {"path_parameters": {"kind": "httproutes"}}, 200),
        ("GET", "/api/v1/config/{kind}/{namespace}/{name}",
         {"path_parameters": {"kind": "HTTPRoute", "namespace": "default", "name": "reviews-route"}}, 200),
        ("GET", "/api/v1/config/{kind}/{namespace}/{name}", {"path_parameters": config_path}, 200),
        ("GET", "/api/v1/config/{kind}/{namespace}/{name}", {"path_parameters": {**config_path, "name": "nope"}}, 404),
        ("DELETE", "/api/v1/config/{kind}/{namespace}/{name}",
         {"path_parameters": {"kind": "destinationrules", "namespace": "default", "name": "openapi-extra"}}, 200),
        ("POST", "/api/v1/apply", {"body": {"kind": "List", "items": [dr]}, "media_type": "application/json"}, 200),
        ("POST", "/api/v1/delete", {"body": dr, "media_type": "application/yaml"}, 200),
        ("DELETE", "/api/v1/config/{kind}/{namespace}/{name}", {"path_parameters": {**config_path, "name": "nope"}}, 404),
        ("PUT", "/api/v1/registry/services/{namespace}/{name}",
         {"path_parameters": {"namespace": "default", "name": "openapi-svc"}, "body": {"ports": [{"number": 9080, "name": "grpc", "protocol": "GRPC"}]},
          "media_type": "application/json"}, 200),
        ("DELETE", "/api/v1/registry/services/{namespace}/{name}", {"path_parameters": {"namespace": "default", "name": "openapi-svc"}}, 200),
        ("PUT", "/api/v1/registry/workloads/{namespace}/{name}",
         {"path_parameters": {"namespace": "default", "name": "openapi-wl"},
          "body": {"address": "127.0.0.9", "ports": {"grpc": 9080}, "labels": {"app": "openapi"}, "health": "DRAINING"},
          "media_type": "application/json"}, 200),
        ("PUT", "/api/v1/registry/workloads/{namespace}/{name}",
         {"path_parameters": {"namespace": "default", "name": "openapi-wl"}, "body": {"health": "SICK"}, "media_type": "application/json"}, 422),
        ("DELETE", "/api/v1/registry/workloads/{namespace}/{name}", {"path_parameters": {"namespace": "default", "name": "openapi-wl"}}, 200),
        ("DELETE", "/api/v1/registry/workloads/{namespace}/{name}", {"path_parameters": {"namespace": "default", "name": "openapi-wl"}}, 404),
        ("POST", "/api/v1/tokens", {"body": {"namespace": "default", "serviceAccount": "reviews", "ttl": "1h"},
                                    "media_type": "application/json", "headers": token}, 200),
        ("POST", "/api/v1/tokens", {"body": {"namespace": "default", "serviceAccount": "reviews"}, "media_type": "application/json"}, 401),
        ("POST", "/api/v1/tokens", {"body": {"namespace": "Default", "serviceAccount": "reviews"}, "media_type": "application/json",
                                    "headers": token}, 422),
        ("PUT", "/api/v1/secrets/{namespace}/{name}",
         {"path_parameters": secret_path, "body": secret_body, "media_type": "application/json"}, 401),
        ("PUT", "/api/v1/secrets/{namespace}/{name}",
         {"path_parameters": secret_path, "body": secret_body, "media_type": "application/json", "headers": token}, 200),
        ("PUT", "/api/v1/secrets/{namespace}/{name}",
         {"path_parameters": secret_path, "body": {**secret_body, "key": "nope"}, "media_type": "application/json", "headers": token}, 422),
        ("GET", "/api/v1/secrets", {"query": {"namespace": "istio-system"}, "headers": token}, 200),
        ("GET", "/api/v1/secrets/{namespace}/{name}", {"path_parameters": secret_path, "headers": token}, 200),
        ("DELETE", "/api/v1/secrets/{namespace}/{name}", {"path_parameters": secret_path, "headers": token}, 200),
        ("DELETE", "/api/v1/secrets/{namespace}/{name}", {"path_parameters": secret_path, "headers": token}, 404),
        ("GET", "/api/v1/ca/root", {}, 200),
        ("GET", "/debug/syncz", {}, 200),
        ("GET", "/debug/config_dump", {"query": {"proxyID": CLIENT_NODE}}, 200),
        ("GET", "/debug/config_dump", {"query": {"proxyID": "nobody"}}, 404),
        ("GET", "/debug/authz", {"query": {"workload": "reviews-v1", "namespace": "default"}}, 200),
        ("GET", "/debug/authz", {"query": {"workload": "nobody"}}, 404),
        ("GET", "/debug/push_status", {}, 200),
        ("GET", "/debug/mesh", {}, 200),
        ("GET", "/debug/jwks", {}, 200),
        ("GET", "/debug/registryz", {}, 200),
        ("GET", "/debug/kubernetes", {}, 200),
        ("GET", "/debug/kubernetes", {"query": {"objects": "true"}}, 200),
        ("GET", "/debug/ledger", {}, 200),
        ("GET", "/debug/authz", {"query": {"workload": "reviews-v1", "namespce": "default"}}, 400),
        ("GET", "/api/v1/history", {"query": {"kind": "vs", "limit": "5"}}, 200),
        ("GET", "/api/v1/history", {"query": {"kind": "vs", "nmae": "reviews"}}, 400),
        ("GET", "/api/v1/history/diff", {"query": {"from": "1"}}, 200),
        ("GET", "/api/v1/history/diff", {"query": {"from": "999999"}}, 404),
        # The canary seeded by the fixture (1 h steps, so still running here: at its first step,
        # or paused by an earlier test's apply); the rollback below removes it.
        ("GET", "/api/v1/canaries", {"query": {"namespace": "default"}}, 200),
        ("GET", "/api/v1/canaries/{namespace}/{name}", {"path_parameters": {"namespace": "default", "name": "reviews"}}, 200),
        ("GET", "/api/v1/canaries/{namespace}/{name}", {"path_parameters": {"namespace": "default", "name": "nope"}}, 404),
        ("POST", "/api/v1/canaries/{namespace}/{name}/{operation}", {"path_parameters": {"namespace": "default", "name": "reviews", "operation": "promote"}, "body": {}, "media_type": "application/json", "query": {"dryRun": "true"}}, 200),
        ("POST", "/api/v1/canaries/{namespace}/{name}/{operation}", {"path_parameters": {"namespace": "default", "name": "reviews", "operation": "resume"}, "body": {"now": True}, "media_type": "application/json"}, 422),
        ("POST", "/api/v1/canaries/{namespace}/{name}/{operation}", {"path_parameters": {"namespace": "default", "name": "reviews", "operation": "explode"}, "body": {}, "media_type": "application/json"}, 404),
        ("POST", "/api/v1/canaries/{namespace}/{name}/{operation}", {"path_parameters": {"namespace": "default", "name": "reviews", "operation": "abort"}, "body": {}, "media_type": "application/json"}, 200),
        ("POST", "/api/v1/canaries/{namespace}/{name}/{operation}", {"path_parameters": {"namespace": "default", "name": "reviews", "operation": "abort"}, "body": {}, "media_type": "application/json"}, 409),
        ("POST", "/api/v1/rollback", {"body": {"toRevision": 1}, "media_type": "application/json"}, 200),
        ("POST", "/api/v1/rollback", {"body": {"toRevision": 1, "dryRun": True}, "media_type": "application/json"}, 422),
        ("POST", "/api/v1/rollback", {"body": {"toRevision": 1}, "media_type": "application/json", "query": {"dryRun": "true"}}, 200),
        ("POST", "/api/v1/apply", {"body": dr, "media_type": "application/yaml", "query": {"dryRun": "true"}}, 200),
        ("POST", "/api/v1/apply", {"body": dr, "media_type": "application/yaml", "query": {"dryrun": "true"}}, 400),
        ("GET", "/api/v1/analyze", {"query": {"namespace": "default"}}, 200),
        ("POST", "/api/v1/analyze", {"body": dr, "media_type": "application/yaml"}, 200),
        ("GET", "/api/v1/overview", {}, 200),
        ("GET", "/api/v1/traffic", {"query": {"host": "reviews", "window": "1m"}}, 200),
        ("GET", "/api/v1/traffic", {"query": {"window": "2s"}}, 400),
        ("GET", "/api/v1/traffic", {"query": {"host": "nobody"}}, 404),
        ("GET", "/ui/", {}, 200),
        ("GET", "/ui/{file}", {"path_parameters": {"file": "app.js"}}, 200),
        ("GET", "/ui/{file}", {"path_parameters": {"file": "nope.js"}}, 404),
        # The access policy's answers, on an operation each: a browser is never trusted by its
        # address (401 without the token), a foreign Host is refused (403), a body must be
        # declared YAML or JSON (415).
        ("GET", "/debug/syncz", {"headers": {"Sec-Fetch-Site": "same-origin"}}, 401),
        ("GET", "/api/v1/config/{kind}", {"path_parameters": {"kind": "vs"}, "headers": {"Host": "evil.example"}}, 403),
        ("POST", "/api/v1/apply", {"body": dr, "media_type": "application/json", "headers": {"Content-Type": "text/plain"}}, 415),
    ]


def test_known_good_requests(api):
    table = _known_good(api)
    succeeding = {(method, path) for method, path, _, expected in table if expected < 300}
    operations = {(m.upper(), p) for p, item in json.loads(SPEC.read_text())["paths"].items() for m in item}
    without = operations - NOT_FUZZED.keys() - succeeding
    assert not without, f"add a request that succeeds for each of: {sorted(without)}"
    failures = []
    for method, path, kwargs, expected in table:
        kwargs = dict(kwargs)
        case = DOCUMENT[path][method].Case(**kwargs)
        label = f"{method} {path} {kwargs}"
        try:
            response = case.call(base_url=api.admin_url, timeout=10)
        except Exception as exc:  # noqa: BLE001 - reported with the others
            failures.append(f"{label}: {exc!r}")
            continue
        if response.status_code != expected:
            failures.append(f"{label}: expected {expected}, got {response.status_code}: {response.text[:500]}")
            continue
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as exc:  # noqa: BLE001
            failures.append(f"{label}: {exc}")
    assert not failures, "\n\n".join(failures)


HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
HEADER_VALUE = re.compile(r"^[\t\x20-\x7e\x80-\xff]*$")


def _valid_http_headers(headers: dict | None) -> dict | None:
    """The generated headers that HTTP allows. Negative cases add headers whose names are not
    tokens (`87;`) or whose values hold control characters; NIO's HTTP/1 parser refuses such a
    request with a bare 400 before meshd sees it, as RFC 9112 requires, so they would test NIO's
    parser rather than the admin API."""
    if headers is None:
        return None
    return {k: v for k, v in headers.items() if HEADER_NAME.match(k) and HEADER_VALUE.match(str(v))}


@FUZZED.parametrize()
def test_fuzz(case, api):
    case.headers = _valid_http_headers(case.headers)
    response = case.call(base_url=api.admin_url, headers=_auth(api), timeout=10)
    FUZZ_STATUSES[response.status_code] = FUZZ_STATUSES.get(response.status_code, 0) + 1
    case.validate_response(response, checks=FUZZ_CHECKS, headers=_auth(api))
