"""The Kubernetes Gateway API in the mesh (GAMMA, issue 30) against a real meshd.

HTTPRoute / GRPCRoute whose parentRefs name the Service `reviews` (port 9080) route the mesh's
traffic for reviews.default.svc.cluster.local to their weighted backendRefs (the Services
reviews-v1 / reviews-v2, ServiceEntries with one endpoint each): grpcio's real xDS client follows
the canary 50/50 -> 0/100 -> 100/0 with 0 failed RPCs, written as a GRPCRoute and as an
HTTPRoute. status.parents[] carries Accepted / ResolvedRefs (NoMatchingParent, BackendNotFound,
RefNotPermitted until a ReferenceGrant in the backend's namespace permits it); the CRD schema
and its CEL rules refuse bad routes with the field path, storing nothing; a route using every
match, filter and timeout reaches a proxyless node and an Envoy sidecar as resources that
decode with xds-protos and pass PGV; meshctl lists the routes, shows status and history.
Each test body is bounded by conftest's MESHD_INTEROP_TEST_TIMEOUT and every wait here by its own.
"""

from __future__ import annotations

import yaml

import configs
import proto_check
import scenarios
from ads_client import weighted_clusters
from meshd_process import run_meshctl
from results import record_result
from test_envoy_sidecar import _validate
from test_history import history_rows
from test_nack import _wait

GATEWAY_API = "gateway.networking.k8s.io/v1"
CONTROLLER = "meshd.io/gateway-controller"
ACCEPTED = {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("True", "ResolvedRefs")}


def cluster_of(name: str, namespace: str = configs.NAMESPACE) -> str:
    return f"outbound|{configs.PORT}||{name}.{namespace}.svc.cluster.local"


def doc(kind: str, name: str, namespace: str, spec: dict, api: str = GATEWAY_API) -> str:
    return yaml.safe_dump({"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": namespace},
                           "spec": spec}, sort_keys=False)


def parent_ref(name: str = "reviews") -> dict:
    return {"group": "", "kind": "Service", "name": name, "port": configs.PORT}


def backend_refs(weights: dict) -> list:
    """{"reviews-v1": 50, "prod/ratings": 50}: Services on 9080, NAMESPACE/ when not the route's."""
    refs = []
    for target, weight in weights.items():
        namespace, _, name = target.rpartition("/")
        refs.append({"name": name, **({"namespace": namespace} if namespace else {}), "port": configs.PORT,
                     **({"weight": weight} if weight is not None else {})})
    return refs


def route(kind: str, weights: dict, name: str = "reviews", namespace: str = configs.NAMESPACE,
          parent: str = "reviews", api: str = GATEWAY_API) -> str:
    """An HTTPRoute / GRPCRoute attached to Service PARENT:9080 with one rule over `weights`
    (an HTTPRoute's matches PathPrefix "/", which routes gRPC too: it is HTTP/2)."""
    rule = {"backendRefs": backend_refs(weights)}
    if kind == "HTTPRoute":
        rule = {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], **rule}
    return doc(kind, name, namespace, {"parentRefs": [parent_ref(parent)], "rules": [rule]}, api)


def reference_grant(namespace: str, from_namespace: str, to_name: str | None = None,
                    api: str = "gateway.networking.k8s.io/v1beta1") -> str:
    to = {"group": "", "kind": "Service", **({"name": to_name} if to_name else {})}
    return doc("ReferenceGrant", "allow-routes", namespace, {
        "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": from_namespace}],
        "to": [to]}, api)


def services(v1_port: int = 9081, v2_port: int = 9082) -> str:
    """The parent Service `reviews` (no endpoints of its own: only a route reaches a backend) and
    the backend Services reviews-v1 / reviews-v2, each with one endpoint on loopback."""
    return configs.join(configs.service_entry(),
                        configs.namespaced_service("reviews-v1", configs.NAMESPACE, v1_port),
                        configs.namespaced_service("reviews-v2", configs.NAMESPACE, v2_port))


def conditions(obj: dict) -> dict:
    """type -> condition of status.parents[0] (after checking the parent entry's shape)."""
    parents = (obj.get("status") or {}).get("parents") or []
    assert len(parents) == 1, f"expected one status.parents entry: {obj.get('status')}"
    assert parents[0]["controllerName"] == CONTROLLER, parents[0]
    assert {k: parents[0]["parentRef"].get(k) for k in ("group", "kind", "name")} == {
        k: v for k, v in parent_ref(parents[0]["parentRef"].get("name")).items() if k != "port"}, parents[0]
    by_type = {c["type"]: c for c in parents[0]["conditions"]}
    for c in by_type.values():
        assert c["status"] in ("True", "False") and c.get("lastTransitionTime") and c.get("reason"), c
    return by_type


def wait_status(meshd, kind: str, name: str, want: dict, namespace: str = configs.NAMESPACE,
                timeout: float = 10.0) -> dict:
    """Poll GET /api/v1/config/KIND/NS/NAME until status.parents[0] has `want`
    ({type: (status, reason)}); returns its conditions by type."""
    last = {}

    def matches():
        last["obj"] = meshd.get(kind, namespace, name)
        parents = (last["obj"].get("status") or {}).get("parents") or []
        got = {c["type"]: (c["status"], c["reason"]) for c in (parents[0]["conditions"] if parents else [])}
        return all(got.get(t) == v for t, v in want.items()) and conditions(last["obj"])

    try:
        return _wait(matches, timeout, f"{kind} {namespace}/{name} status {want}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last status: {(last.get('obj') or {}).get('status')}\n{meshd.tail(30)}") from None


# ------------------------------------------------------------------ the canary with grpcio


def run_canary(kind: str, meshd, backends, xds_clients, node_id) -> None:
    ports = {n: b.port for n, b in backends.items()}
    applied = meshd.apply(configs.join(services(ports["v1"], ports["v2"]),
                                       route(kind, {"reviews-v1": 50, "reviews-v2": 50})))
    assert applied["warnings"] == [], applied
    meshd.wait_pushed(applied["revision"])
    wait_status(meshd, kind, "reviews", ACCEPTED)

    proxy = node_id("grpc")
    client = xds_clients(meshd.xds_address, proxy)
    scenarios.warm_up(client)
    meshd.wait_synced(proxy)
    tag = kind.lower()
    record_result(tag, "50/50 " + scenarios.fmt(scenarios.even_split(client, 1000)))

    client.start_loop("load")
    for label, weights, expect in (("to-v2", {"reviews-v1": 0, "reviews-v2": 100}, "v2"),
                                   ("rollback", {"reviews-v1": 100, "reviews-v2": 0}, "v1")):
        before = meshd.acked_versions(meshd.proxy_status(proxy))

        def apply(weights=weights):
            result = meshd.apply(route(kind, weights))
            assert [r["action"] for r in result["results"]] == ["configured"], result

        moved = scenarios.shift(client, apply, lambda before=before: meshd.wait_synced(proxy, changed_from=before),
                                expect=expect, label=label)
        record_result(tag, f"{label}: " + scenarios.fmt(moved["during"]) + f" sync={moved['during']['sync_seconds']}s")
        record_result(tag, f"{label}: " + scenarios.fmt(moved["after"]))
    scenarios.assert_no_failures(client.stop_loop(), "load after rollback")


def test_grpcroute_canary_grpcio(meshd, backends, xds_clients, node_id):
    run_canary("GRPCRoute", meshd, backends, xds_clients, node_id)


def test_httproute_canary_grpcio(meshd, backends, xds_clients, node_id):
    run_canary("HTTPRoute", meshd, backends, xds_clients, node_id)


# ------------------------------------------------------------------ upstream mesh conformance, with grpcio
# Gateway API v1.6.1 conformance/tests/mesh: MeshGRPCRouteWeight, MeshHTTPRouteWeight and
# MeshTrafficSplit, with the mesh's echo Services as reviews-v1 / reviews-v2 and grpcio's xDS
# client as the mesh client.

WEIGHT_RPCS = 500          # upstream weight.TestWeightedDistribution: totalRequests
WEIGHT_TOLERANCE = 0.05    # upstream: tolerancePercentage, of the share of all requests
WEIGHT_RETRIES = 10        # upstream: weight.MaxTestRetries attempts at the distribution
WEIGHTS = {"reviews-v1": 70, "reviews-v2": 30, "reviews-v3": 0}   # reviews-v3: no such Service


def distribution_errors(window: dict, want: dict) -> list:
    """Upstream's check on one batch: {"v1": 0.7, "v2": 0.3}: exactly the backends with a weight
    > 0 answered, and each answered a share within WEIGHT_TOLERANCE of its weight."""
    errors, total = [], window["total"]
    active = {b for b, w in want.items() if w > 0}
    if set(window["counts"]) != active:
        errors.append(f"expected {sorted(active)} to receive traffic, got {window['counts']}")
    for backend, share in want.items():
        got = window["counts"].get(backend, 0) / total
        if abs(got - share) > WEIGHT_TOLERANCE:
            errors.append(f"{backend}: share {got:.3f} not within {share}+/-{WEIGHT_TOLERANCE}")
    return errors


def run_weighted(kind: str, meshd, backends, xds_clients, node_id) -> None:
    """A KIND attached to Service reviews:9080 with one rule and no matches (as upstream's
    grpcroute-weight.yaml / httproute-weight.yaml), backendRefs reviews-v1 70, reviews-v2 30,
    reviews-v3 0; 500 RPCs through grpcio's xDS client: every one succeeds, only v1 and v2
    answer, v1 70%+/-5 and v2 30%+/-5. As upstream, the first request must succeed before the
    distribution is measured, and a batch out of tolerance is retried (up to MaxTestRetries);
    a failed RPC or an answer from another backend is never retried away."""
    ports = {n: b.port for n, b in backends.items()}
    spec = {"parentRefs": [parent_ref()], "rules": [{"backendRefs": backend_refs(WEIGHTS)}]}
    applied = meshd.apply(configs.join(services(ports["v1"], ports["v2"]), doc(kind, "reviews", configs.NAMESPACE, spec)))
    meshd.wait_pushed(applied["revision"])
    status = wait_status(meshd, kind, "reviews", {"Accepted": ("True", "Accepted")})
    tag = f"Mesh{'GRPC' if kind == 'GRPCRoute' else 'HTTP'}RouteWeight"
    record_result(tag, f"apply warnings {applied['warnings']}; ResolvedRefs "
                       f"{status['ResolvedRefs']['status']}/{status['ResolvedRefs']['reason']}"
                  if "ResolvedRefs" in status else f"apply warnings {applied['warnings']}")

    proxy = node_id("grpc")
    client = xds_clients(meshd.xds_address, proxy)
    scenarios.warm_up(client)
    meshd.wait_synced(proxy)
    settled = scenarios.settle(client, ("v1", "v2"), f"{kind}-70-30")
    want = {"v1": 0.7, "v2": 0.3}
    attempts = []
    for attempt in range(1, WEIGHT_RETRIES + 1):
        window = client.run(WEIGHT_RPCS, name=f"{kind}-70-30-{attempt}")
        scenarios.assert_no_failures(window, f"{kind} 70/30/0, attempt {attempt}")
        assert window["total"] == WEIGHT_RPCS, window
        assert set(window["counts"]) <= {"v1", "v2"}, f"{kind} 70/30/0: answers from outside v1/v2: {window['counts']}"
        errors = distribution_errors(window, want)
        attempts.append(f"{window['counts']} in {window['seconds']}s")
        if not errors:
            break
        record_result(tag, f"attempt {attempt} out of tolerance: {errors}")
    record_result(tag, f"settled after {settled['rpcs']} RPCs {settled['counts']}; attempts: {attempts}")
    assert not errors, f"{kind} 70/30/0: no batch of {WEIGHT_RPCS} within tolerance in {len(attempts)} attempts: {attempts}"


def test_MeshGRPCRouteWeight_grpcio(meshd, backends, xds_clients, node_id):
    run_weighted("GRPCRoute", meshd, backends, xds_clients, node_id)


def test_MeshHTTPRouteWeight_grpcio(meshd, backends, xds_clients, node_id):
    """The same split written as an HTTPRoute: gRPC is HTTP/2, and a rule with no matches
    (upstream's httproute-weight.yaml has none) matches every path."""
    run_weighted("HTTPRoute", meshd, backends, xds_clients, node_id)


def test_MeshTrafficSplit_grpcio(meshd, backends, xds_clients, node_id):
    """Upstream MeshTrafficSplit (an HTTPRoute splitting /v1 -> echo-v1, /v2 -> echo-v2), as a
    GRPCRoute splitting by method: {service: meshd.test.Echo, method: Who} -> reviews-v1 and
    {service: meshd.test.Echo, method: Where} -> reviews-v2. backend.py registers Who and
    answers every other method path the same way (its _AnyMethod handler), so both methods
    are served by both backends and only the route decides who answers. Each kind of RPC must
    reach only its backend, with 0 failures."""
    import backend as echo

    ports = {n: b.port for n, b in backends.items()}
    methods = {"v1": echo.FULL_METHOD, "v2": f"/{echo.SERVICE}/Where"}
    rules = [{"matches": [{"method": {"service": echo.SERVICE, "method": path.rsplit("/", 1)[1]}}],
              "backendRefs": backend_refs({f"reviews-{version}": None})} for version, path in methods.items()]
    applied = meshd.apply(configs.join(services(ports["v1"], ports["v2"]), doc(
        "GRPCRoute", "reviews", configs.NAMESPACE, {"parentRefs": [parent_ref()], "rules": rules})))
    assert applied["warnings"] == [], applied
    meshd.wait_pushed(applied["revision"])
    wait_status(meshd, "GRPCRoute", "reviews", ACCEPTED)

    proxy = node_id("grpc")
    client = xds_clients(meshd.xds_address, proxy)
    scenarios.warm_up(client)
    meshd.wait_synced(proxy)
    for version, method in methods.items():
        window = client.run(200, name=f"split-{version}", method=method)
        record_result("MeshTrafficSplit", f"{method}: " + scenarios.fmt(window))
        scenarios.assert_no_failures(window, f"{method} (expected on {version})")
        assert window["counts"] == {version: 200}, f"{method}: expected only {version}, got {window['counts']}"
        assert backends[version].calls >= 200, (version, backends[version].calls)


# ------------------------------------------------------------------ status


def test_route_status_conditions(meshd, ads_clients, node_id):
    meshd.wait_pushed(meshd.apply(configs.join(
        services(), configs.namespaced_service("productpage", configs.NAMESPACE, 9083),
        configs.namespaced_service("ratings", "prod", 9084)))["revision"])
    applied = meshd.apply(configs.join(
        route("HTTPRoute", {"reviews-v1": 50, "reviews-v2": 50}, name="good"),
        route("HTTPRoute", {"reviews-v1": None}, name="orphan", parent="ghost", api="gateway.networking.k8s.io/v1beta1"),
        route("GRPCRoute", {"reviews-v1": 50, "reviews-v3": 50}, name="missing"),
        route("HTTPRoute", {"prod/ratings": None}, name="cross", parent="productpage")))
    for warning in ("GRPCRoute default/missing: spec.rules[0].backendRefs[1]: backend(reviews-v3.default.svc.cluster.local) not found",
                    'backendRef prod/ratings not accessible to a HTTPRoute in namespace "default"'):
        assert any(warning in w for w in applied["warnings"]), (warning, applied["warnings"])

    good = wait_status(meshd, "HTTPRoute", "good", ACCEPTED)
    assert (good["Accepted"]["message"], good["ResolvedRefs"]["message"]) == ("Route was valid", "All references resolved"), good
    orphan = wait_status(meshd, "HTTPRoute", "orphan", {"Accepted": ("False", "NoMatchingParent")})
    assert orphan["Accepted"]["message"] == 'parent service: "ghost" not found', orphan
    missing = wait_status(meshd, "GRPCRoute", "missing", {"Accepted": ("True", "Accepted"),
                                                          "ResolvedRefs": ("False", "BackendNotFound")})
    assert missing["ResolvedRefs"]["message"] == "backend(reviews-v3.default.svc.cluster.local) not found", missing
    not_permitted = {"ResolvedRefs": ("False", "RefNotPermitted")}
    cross = wait_status(meshd, "HTTPRoute", "cross", not_permitted)
    assert cross["ResolvedRefs"]["message"] == (
        'backendRef prod/ratings not accessible to a HTTPRoute in namespace "default" (missing a ReferenceGrant?)'), cross

    # What the mesh's clients get for productpage follows the grant: no ratings cluster without it.
    client = ads_clients(meshd.xds_address, node_id("grpc"))
    listener, ratings = f"productpage.{configs.NAMESPACE}.svc.cluster.local:{configs.PORT}", cluster_of("ratings", "prod")

    def routed_to_ratings(expected: bool):
        """With the grant the rule routes to ratings; without, its only backend is invalid: it answers 500."""
        def shaped(c):
            if listener not in c.state["RDS"]:
                return False
            rc = c.state["RDS"][listener].message
            answers = {r.direct_response.status for vh in rc.virtual_hosts for r in vh.routes if r.HasField("direct_response")}
            return (ratings in weighted_clusters(rc)) == expected and (500 in answers) != expected
        client.wait_for(shaped, 10, f"route config {listener} {'routing to' if expected else 'answering 500, not'} {ratings}")

    routed_to_ratings(False)
    meshd.wait_pushed(meshd.apply(reference_grant("prod", configs.NAMESPACE, "ratings"))["revision"])
    wait_status(meshd, "HTTPRoute", "cross", ACCEPTED)
    routed_to_ratings(True)
    client.wait_for(lambda c: ratings in c.state["CDS"], 10, f"cluster {ratings}")

    assert meshd.delete_resource("ReferenceGrant", "prod", "allow-routes").status == 200
    wait_status(meshd, "HTTPRoute", "cross", not_permitted)
    routed_to_ratings(False)


# ------------------------------------------------------------------ validation


def test_route_validation_errors(meshd):
    def spec(kind: str = "HTTPRoute", **rule) -> str:
        return doc(kind, "bad", configs.NAMESPACE, {"parentRefs": [parent_ref()], "rules": [rule]})

    prefix = [{"path": {"type": "PathPrefix", "value": "/"}}]
    one_backend = backend_refs({"reviews-v1": None})
    cases = [
        (spec(backendRefs=[{"name": "reviews-v1"}]),
         "spec.rules[0].backendRefs[0]", "Invalid value: Must have port for Service reference"),
        (spec(matchs=prefix, backendRefs=one_backend), "spec.rules[0].matchs", 'unknown field "matchs"'),
        (spec(matches=[{"path": {"type": "PathPrefix", "value": "/a//b"}}], backendRefs=one_backend),
         "spec.rules[0].matches[0].path", "must not contain '//'"),
        (spec(matches=prefix, backendRefs=one_backend, filters=[
            {"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]),
         "spec.rules[0]", "RequestRedirect filter must not be used together with backendRefs"),
        (spec("GRPCRoute", matches=[{"method": {"type": "Exact"}}], backendRefs=one_backend),
         "spec.rules[0].matches[0].method", "One or both of 'service' or 'method' must be specified"),
    ]
    for text, field, message in cases:
        r = meshd.apply_raw(text)
        assert r.status == 422, (text, r)
        error = r.json()["error"]
        assert error["code"] == "invalid" and error["field"] == field and message in error["message"], (text, error)
        assert error.get("resource", "").endswith("default/bad"), error

    # A refused multi-document apply stores nothing, not even its valid documents.
    r = meshd.apply_raw(configs.join(services(), route("GRPCRoute", {"reviews-v1": 100}, name="fine"), cases[0][0]))
    assert r.status == 422 and r.json()["error"]["field"] == "spec.rules[0].backendRefs[0]", r
    for kind, name in (("GRPCRoute", "fine"), ("HTTPRoute", "bad"), ("ServiceEntry", "reviews-v1")):
        assert meshd.get_raw(kind, configs.NAMESPACE, name).status == 404, (kind, name)
    assert meshd.get("HTTPRoute")["items"] == [] and meshd.get("GRPCRoute")["items"] == []


# ------------------------------------------------------------------ xDS through xds-protos + PGV

RICH_ROUTE = {
    "parentRefs": [parent_ref()],
    "rules": [
        {"matches": [{"path": {"type": "Exact", "value": "/exact"}, "method": "GET",
                      "headers": [{"name": "x-user", "value": "jason"},
                                  {"type": "RegularExpression", "name": "x-re", "value": "a.*b"}],
                      "queryParams": [{"name": "q", "value": "1"},
                                      {"type": "RegularExpression", "name": "r", "value": "[0-9]+"}]},
                     {"path": {"type": "RegularExpression", "value": "/re/[a-z]+"}}],
         "filters": [
             {"type": "RequestHeaderModifier", "requestHeaderModifier": {
                 "set": [{"name": "x-set", "value": "a"}], "add": [{"name": "x-add", "value": "b"}],
                 "remove": ["x-remove"]}},
             {"type": "ResponseHeaderModifier", "responseHeaderModifier": {
                 "add": [{"name": "x-resp", "value": "c"}], "remove": ["server"]}},
             {"type": "RequestMirror", "requestMirror": {"backendRef": backend_refs({"reviews-v2": None})[0]}}],
         "backendRefs": backend_refs({"reviews-v1": None}),
         "timeouts": {"request": "10s", "backendRequest": "5s"}},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/old"}}],
         "filters": [{"type": "URLRewrite", "urlRewrite": {
             "hostname": "new.example.com", "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}}}],
         "backendRefs": backend_refs({"reviews-v1": None})},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/full"}}],
         "filters": [{"type": "URLRewrite", "urlRewrite": {
             "path": {"type": "ReplaceFullPath", "replaceFullPath": "/replaced"}}}],
         "backendRefs": backend_refs({"reviews-v2": None})},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/moved"}}],
         "filters": [{"type": "RequestRedirect", "requestRedirect": {
             "scheme": "https", "statusCode": 301, "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/here"}}}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
         "backendRefs": [{**ref, "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {
             "set": [{"name": "x-backend", "value": ref["name"]}]}}]}
             for ref in backend_refs({"reviews-v1": 80, "reviews-v2": 20})],
         "timeouts": {"request": "3s"}},
    ],
}


def test_route_config_passes_pgv(meshd, ads_clients, node_id):
    applied = meshd.apply(configs.join(services(), doc("HTTPRoute", "reviews", configs.NAMESPACE, RICH_ROUTE)))
    meshd.wait_pushed(applied["revision"])
    wait_status(meshd, "HTTPRoute", "reviews", ACCEPTED)

    proxyless = ads_clients(meshd.xds_address, node_id("grpc"))
    sidecar = ads_clients(meshd.xds_address, configs.ENVOY_NODE, user_agent_name="envoy", client_features=[])
    split = {cluster_of("reviews-v1"): 80, cluster_of("reviews-v2"): 20}
    for client, route_name, vh_name in ((proxyless, configs.LISTENER, None), (sidecar, str(configs.PORT), configs.LISTENER)):
        client.wait_quiet(0.5)
        received = [(t, n) for t in ("LDS", "RDS", "CDS") for n in client.state[t]]
        assert {"LDS", "RDS", "CDS"} <= {t for t, _ in received}, received
        problems = [f"{t} {n}: {p}" for t, n in received for p in proto_check.find_problems(client.state[t][n].message)]
        assert problems == [] and client.problems() == [], problems + client.problems()
        rc = client.state["RDS"][route_name].message
        vhosts = [vh for vh in rc.virtual_hosts if vh_name is None or vh.name == vh_name]
        assert len(vhosts) == 1, [vh.name for vh in rc.virtual_hosts]
        vh = vhosts[0]
        # The walk reached what the route asked for: the weighted split with per-backend headers, ...
        weighted = next(r for r in vh.routes if r.route.HasField("weighted_clusters"))
        assert {c.name: c.weight.value for c in weighted.route.weighted_clusters.clusters} == split, weighted
        assert all(c.request_headers_to_add for c in weighted.route.weighted_clusters.clusters), weighted
        assert {cluster_of("reviews-v1"), cluster_of("reviews-v2")} <= set(client.state["CDS"])
        # ... regex, header and query matches, the mirror and the timeouts.
        kinds = {r.match.WhichOneof("path_specifier") for r in vh.routes}
        assert {"path", "prefix", "safe_regex"} <= kinds, [str(r.match) for r in vh.routes]
        exact = next(r for r in vh.routes if r.match.path == "/exact")
        assert exact.match.headers and exact.match.query_parameters, exact.match
        assert exact.route.request_mirror_policies[0].cluster == cluster_of("reviews-v2"), exact.route
        # As istiod: backendRequest (5s) is the route's timeout when set, else request (3s on "/").
        assert (exact.route.timeout.seconds, weighted.route.timeout.seconds) == (5, 3), (exact.route, weighted.route)
        record_result("gateway-api-pgv", f"{client.node_id}: {len(received)} resources, routes {sorted(kinds)}, "
                                         f"{len(vh.routes)} routes in {vh.name}")
    # The sidecar also gets the rewrite and the redirect, and Envoy's cross-resource rules hold.
    routes = sidecar.state["RDS"][str(configs.PORT)].message
    vh = next(v for v in routes.virtual_hosts if v.name == configs.LISTENER)
    redirects = [r.redirect for r in vh.routes if r.HasField("redirect")]
    assert redirects and all(r.scheme_redirect == "https" and r.response_code == r.MOVED_PERMANENTLY
                             and "/here" in (r.prefix_rewrite or r.regex_rewrite.substitution) for r in redirects), redirects
    rewrites = {r.match.path: r.route for r in vh.routes if r.HasField("route") and r.match.path in ("/old", "/full")}
    assert rewrites["/old"].host_rewrite_literal == "new.example.com", rewrites["/old"]
    assert "/new" in (rewrites["/old"].prefix_rewrite or rewrites["/old"].regex_rewrite.substitution), rewrites["/old"]
    assert rewrites["/full"].regex_rewrite.substitution == "/replaced", rewrites["/full"]
    _validate(sidecar.state)


# ------------------------------------------------------------------ meshctl


def test_meshctl_get_routes(meshd, tmp_path):
    meshd.apply(configs.join(services(), configs.namespaced_service("ratings", "prod", 9084)))
    f = tmp_path / "routes.yaml"
    f.write_text(configs.join(route("HTTPRoute", {"reviews-v1": 50, "reviews-v2": 50}),
                              route("GRPCRoute", {"reviews-v1": 100}, name="reviews-grpc"),
                              reference_grant("prod", configs.NAMESPACE, api=GATEWAY_API)))
    applied = run_meshctl(meshd.admin_url, "apply", "-f", f).stdout
    assert "reviews-grpc" in applied and "allow-routes" in applied, applied

    routes = ["NAME", "HOSTNAMES", "REVISION", "AGE"]
    for what, namespace, name, columns in (("httproutes", configs.NAMESPACE, "reviews", routes),
                                           ("grpcroutes", configs.NAMESPACE, "reviews-grpc", routes),
                                           ("referencegrants", "prod", "allow-routes", ["NAME", "REVISION", "AGE"])):
        lines = run_meshctl(meshd.admin_url, "get", what, "-n", namespace).stdout.strip().splitlines()
        assert lines and lines[0].split() == columns, (what, lines)
        assert [line.split()[0] for line in lines[1:]] == [name], (what, lines)

    wait_status(meshd, "GRPCRoute", "reviews-grpc", ACCEPTED)
    out = run_meshctl(meshd.admin_url, "get", "grpcroute", "reviews-grpc", "-o", "yaml").stdout
    docs = [d for d in yaml.safe_load_all(out) if d is not None]
    assert len(docs) == 1, out
    obj = docs[0]["items"][0] if "items" in docs[0] else docs[0]
    assert (obj["kind"], obj["metadata"]["name"]) == ("GRPCRoute", "reviews-grpc"), obj
    assert obj["spec"]["rules"][0]["backendRefs"] == backend_refs({"reviews-v1": 100}), obj["spec"]
    got = {t: (c["status"], c["reason"]) for t, c in conditions(obj).items()}
    assert got == ACCEPTED, obj["status"]

    # The routes' revision (the second: the Services were the first) names the three.
    rows = history_rows(meshd)
    assert [r[0] for r in rows] == ["2", "1"], rows
    for name in ("HTTPRoute default/reviews", "GRPCRoute default/reviews-grpc", "ReferenceGrant prod/allow-routes"):
        assert f"{name} created" in rows[0][-1], f"meshctl history does not name {name}: {rows}"
    out = run_meshctl(meshd.admin_url, "history", "grpcroute", "reviews-grpc").stdout
    assert [line.split()[0] for line in out.strip().splitlines()[1:]] == ["2"], out
