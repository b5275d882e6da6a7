"""End-user authentication and external authorization against a real meshd: RequestAuthentication
(JWTs), AuthorizationPolicy on request principals / claims and CUSTOM (ext_authz), meshd's mesh
configuration (`--mesh-config`), on an Envoy sidecar and an Envoy gateway.

No Envoy runs here: an Envoy-like ADS client (ads_client) takes what meshd sends, every resource
goes through xds-protos and Envoy's PGV rules (proto_check; the ads_clients fixture re-checks
every response at teardown), and `jwt_sim.run_http_chain` answers requests with the decoded HTTP
filters as Envoy would (docs/research/istio-end-user-auth-facts.md 3.x, 4.x, 5.x). The JWKS comes
from a loopback server (jwks_server.JwksServer) that mints the tokens, rotates keys, goes down
and serves oversized bodies.

- the sidecar (app-1 of test_envoy_zero_trust: `web`, labels app=web) gets istiod's jwt_authn
  (one provider `origins-0`, the JWKS meshd fetched inlined, requires_any[origins-0,
  allow_missing]) on every inbound HTTP chain, and the RBAC metadata matchers of
  `requestPrincipals` / `request.auth.claims[...]`; valid / wrong issuer / expired / wrong
  audience / forged / missing tokens get Envoy's answers;
- a key rotation at the JWKS server reaches the sidecar at the next refresh (no apply); the old
  key's tokens are then refused;
- a JWKS endpoint going down keeps the last good keys (degradation `jwks` in /ready, lastError in
  /debug/jwks) and coming back clears it; a JWKS that cannot be had (503, closed port, oversized)
  is named in the apply answer and gives the unusable key set (tokens 401, no token passes);
- `--mesh-config`: an envoyExtAuthzHttp provider on a ServiceEntry, a CUSTOM policy on /admin*:
  the RBAC shadow + ext_authz pair before jwt_authn, the authorizer called exactly for the CUSTOM
  rule's requests; editing the file is applied without a restart, an invalid edit keeps the last
  good config (error in /debug/mesh, `mesh-config` in /ready), an unknown field at start refuses
  to start; an unknown provider denies what its rules select;
- an Envoy ingress gateway selected by `istio: ingressgateway` gets jwt_authn (clear_route_cache)
  and RBAC in every HCM, network RBAC on its TCP / passthrough chains.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import time

import pytest

import configs
import proto_check
from jwks_server import JwksServer, claims
from jwt_sim import AuthzDecision, Peer, Request, run_http_chain
from meshd_process import launcher, meshd_bin
from rbac_sim import RBAC_DENIED_BODY
from test_envoy_gateway import LABELS as GATEWAY_METADATA
from test_envoy_gateway import NODE as GATEWAY_NODE
from test_envoy_gateway import edge_routes, gateway
from test_envoy_sidecar import _validate
from test_envoy_zero_trust import LABELS, NODE, WORKLOAD, _apply, _inbound, _kind, _port, sidecar, values, walk

JWT_AUTHN = "envoy.filters.http.jwt_authn"
EXT_AUTHZ = "envoy.filters.http.ext_authz"
RBAC = "envoy.filters.http.rbac"
TAIL = ["envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.router"]
HCM_TYPE = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
JWT_TYPE = "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"
EXT_AUTHZ_TYPE = "envoy.extensions.filters.http.ext_authz.v3.ExtAuthz"
HTTP_RBAC_TYPE = "envoy.extensions.filters.http.rbac.v3.RBAC"
NETWORK_RBAC_TYPE = "envoy.extensions.filters.network.rbac.v3.RBAC"
NO_KEYS_KID = "meshd-no-keys-yet"
OPA_HOST = "opa.default.svc.cluster.local"
AUDIENCE = "web"
WAIT = 10.0  # bound of every wait for something meshd does asynchronously



# ------------------------------------------------------------------------------ YAML

def _doc(kind: str, name: str, namespace: str, spec: dict, api: str = "security.istio.io/v1") -> str:
    """One document; JSON is YAML, and needs no quoting rules."""
    return json.dumps({"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": namespace},
                       "spec": spec}) + "\n"


def request_authentication(name: str, *rules: dict, namespace: str = "default", selector: dict | None = None) -> str:
    spec = {"selector": {"matchLabels": LABELS if selector is None else selector}, "jwtRules": list(rules)}
    return _doc("RequestAuthentication", name, namespace, spec)


def jwt_rule(server: JwksServer, issuer: str | None = None, **extra) -> dict:
    return {"issuer": issuer or server.issuer, "jwksUri": server.url, **extra}


def authorization_policy(name: str, spec: dict, namespace: str = "default", selector: dict | None = None) -> str:
    return _doc("AuthorizationPolicy", name, namespace,
                {"selector": {"matchLabels": LABELS if selector is None else selector}, **spec})


REQUIRE_JWT = authorization_policy("require-jwt", {"action": "ALLOW", "rules": [
    {"from": [{"source": {"requestPrincipals": ["*"]}}]}]})
ADMINS_ONLY = authorization_policy("admins-only", {"action": "ALLOW", "rules": [
    {"when": [{"key": "request.auth.claims[groups]", "values": ["admin"]}]}]})


def opa_service_entry() -> str:
    return _doc("ServiceEntry", "opa", "default", {
        "hosts": [OPA_HOST], "location": "MESH_INTERNAL", "resolution": "STATIC",
        "ports": [{"number": 8181, "name": "http", "protocol": "HTTP"},
                  {"number": 9191, "name": "http-alt", "protocol": "HTTP"}],
        "endpoints": [{"address": "127.0.0.1"}]}, api=configs.API_VERSION)


def custom_policy(provider: str, name: str = "ext-authz") -> str:
    return authorization_policy(name, {"action": "CUSTOM", "provider": {"name": provider},
                                       "rules": [{"to": [{"operation": {"paths": ["/admin*"]}}]}]})


def mesh_config(port: int = 8181, extra: str = "") -> str:
    return f"""\
rootNamespace: istio-system
trustDomain: cluster.local
enableTracing: true
extensionProviders:
- name: opa
  envoyExtAuthzHttp:
    service: {OPA_HOST}
    port: {port}
    pathPrefix: /check
    timeout: 2s
    includeRequestHeadersInCheck: [x-user]
    headersToUpstreamOnAllow: ["x-authz-*"]
{extra}"""


def write_atomically(path, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------ helpers

@pytest.fixture
def jwks_servers():
    """Factory of started JwksServers, stopped at teardown."""
    made: list[JwksServer] = []

    def make() -> JwksServer:
        server = JwksServer().start()
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            server.stop()


def _type(any_msg) -> str:
    return any_msg.type_url.rsplit("/", 1)[-1]


def hcms(listener) -> list:
    """(chain name, HttpConnectionManager) of every HTTP chain of a listener."""
    out = []
    for chain in listener.filter_chains:
        for f in chain.filters:
            if _type(f.typed_config) == HCM_TYPE:
                out.append((chain.name, proto_check.unpack(f.typed_config)))
    return out


def inbound_filters(listener) -> list:
    """The http_filters of virtualInbound's HTTP chains, shown to be the same on every one of
    them (istiod puts the same filters into every inbound HCM); those of the 8080 chain."""
    found = hcms(listener)
    assert len(found) >= 3, [name for name, _ in found]  # passthrough, 8080, 7070 (detected)
    first = [f.SerializeToString(deterministic=True) for f in found[0][1].http_filters]
    for name, hcm in found:
        assert [f.SerializeToString(deterministic=True) for f in hcm.http_filters] == first, f"{name} differs"
    chain = next(c for c in listener.filter_chains if _port(c) == 8080 and _kind(c) == "http")
    return list(proto_check.unpack(chain.filters[-1].typed_config).http_filters)


def names(filters) -> list[str]:
    return [f.name for f in filters]


def config_of(filters, name: str, type_name: str):
    """The decoded config of the filter `name`; it passes the oracle (no unknown field, PGV)."""
    (f,) = [f for f in filters if f.name == name]
    assert _type(f.typed_config) == type_name, f
    msg = proto_check.unpack(f.typed_config)
    assert proto_check.find_problems(msg) == [], proto_check.find_problems(msg)
    return msg


def kids(provider) -> list[str]:
    return [k.get("kid") for k in json.loads(provider.local_jwks.inline_string)["keys"]]


def provider_for(jwt_config, issuer: str):
    (p,) = [p for p in jwt_config.providers.values() if p.issuer == issuer]
    return p


def jwt_of(listener):
    return config_of(inbound_filters(listener), JWT_AUTHN, JWT_TYPE)


def sidecar_with_keys(meshd, ads_clients, issuer: str, expected: list[str]):
    """A fresh sidecar, once its jwt_authn provider for `issuer` holds the key IDs `expected`.

    meshd fetches before answering the apply, so the first LDS after it already holds them
    (test_the_keys_fetched_at_apply_are_kept asserts that strictly); the bounded wait here only
    keeps the other tests independent of it."""
    client = sidecar(meshd, ads_clients)
    client.wait_for(lambda c: lds_has(c, lambda l: sorted(kids(provider_for(jwt_of(l), issuer))) == sorted(expected)),
                    WAIT, f"the sidecar's jwt_authn to hold {expected} for {issuer}")
    client.wait_quiet(0.3)
    _validate(client.state)
    return client


def lds_has(client, predicate):
    """Evaluated under the client's lock: predicate(virtualInbound) once it is there."""
    listener = client.state["LDS"].get("virtualInbound")
    return listener is not None and predicate(listener.message)


def wait_until(probe, timeout: float = WAIT, what: str = "condition", step: float = 0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def debug_jwks(meshd) -> dict:
    r = meshd.request("GET", "/debug/jwks")
    assert r.status == 200, r
    return {e["uri"]: e for e in r.json()}


def ready(meshd) -> tuple[int, dict]:
    r = meshd.request("GET", "/ready")
    return r.status, r.json()


def degradation_ids(meshd) -> list[str]:
    return [d["id"] for d in ready(meshd)[1].get("degradations", [])]


def debug_mesh(meshd) -> dict:
    r = meshd.request("GET", "/debug/mesh")
    assert r.status == 200, r
    return r.json()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def bearer(token: str) -> dict:
    return {"authorization": f"Bearer {token}"}


def outcome(filters, token: str | None = None, path: str = "/", **kw):
    headers = bearer(token) if token else {}
    headers.update(kw.pop("headers", {}))
    return run_http_chain(filters, Request(path=path, headers=headers), Peer(), **kw)


def answer(filters, token: str | None = None, path: str = "/", **kw) -> tuple:
    """(status, the filter that answered, body): `router` / 200 when the request got through."""
    o = outcome(filters, token, path, **kw)
    return o.status, o.decided_by.rsplit(".", 1)[-1] if o.decided_by.endswith("router") else o.decided_by, o.body


SERVED = (200, "router", "")
NOT_RBAC = (403, "envoy.filters.http.rbac.allow", RBAC_DENIED_BODY)


def check_istiod_requirement(jwt_config) -> None:
    """Fact 3.3, one provider: one rule, prefix "/", requires_any[origins-0, allow_missing];
    bypass_cors_preflight; nothing of what istiod never sets."""
    assert list(jwt_config.providers) == ["origins-0"], list(jwt_config.providers)
    (rule,) = jwt_config.rules
    assert rule.match.WhichOneof("path_specifier") == "prefix" and rule.match.prefix == "/", rule
    children = rule.requires.requires_any.requirements
    assert [c.WhichOneof("requires_type") for c in children] == ["provider_name", "allow_missing"], rule
    assert children[0].provider_name == "origins-0"
    assert jwt_config.bypass_cors_preflight is True
    assert not jwt_config.requirement_map and not jwt_config.HasField("filter_state_rules")


def check_provider(p, issuer: str, audiences: list[str], clear_route_cache: bool = False) -> None:
    """Fact 3.2: what istiod sets on each provider, local (inline) JWKS."""
    assert p.issuer == issuer and list(p.audiences) == audiences, p
    assert p.payload_in_metadata == "payload", p
    assert list(p.normalize_payload_in_metadata.space_delimited_claims) == ["permission", "scope"], p
    assert p.WhichOneof("jwks_source_specifier") == "local_jwks", p
    assert p.local_jwks.WhichOneof("specifier") == "inline_string", p
    assert p.forward is False and not p.from_headers and not p.from_params and not p.from_cookies, p
    assert p.clear_route_cache is clear_route_cache, p


def jwt_principal_paths(rbac) -> list[tuple]:
    """(filter, path) of every metadata matcher in an RBAC filter's rules."""
    return sorted((m.filter, tuple(s.key for s in m.path)) for m in values(rbac.rules, "metadata"))


# ------------------------------------------------------------------------------ 1. the sidecar

def test_jwks_uri_keys_verify_tokens_on_the_sidecar(meshd, ads_clients, jwks_servers):
    server = jwks_servers()
    answer_ = _apply(meshd, WORKLOAD, request_authentication("jwt", jwt_rule(server, audiences=[AUDIENCE])))
    assert not [w for w in answer_["warnings"] if "jwksUri" in w], answer_["warnings"]
    assert server.count() >= 1, "meshd fetched the JWKS before answering"
    listener = _inbound(sidecar_with_keys(meshd, ads_clients, server.issuer, ["rsa-1", "ec-1"]))
    status = debug_jwks(meshd)[server.url]
    assert status["hasKeys"] is True and sorted(status["keyIDs"]) == ["ec-1", "rsa-1"], status
    assert status["consecutiveFailures"] == 0 and not status.get("lastError"), status
    filters = inbound_filters(listener)
    assert names(filters) == [JWT_AUTHN, *TAIL], names(filters)
    jwt = config_of(filters, JWT_AUTHN, JWT_TYPE)
    check_istiod_requirement(jwt)
    provider = jwt.providers["origins-0"]
    check_provider(provider, server.issuer, [AUDIENCE])
    assert json.loads(provider.local_jwks.inline_string) == server.jwks(), "the JWKS as the server serves it"
    assert JWT_TYPE in {n[1:] for n, _ in walk(listener) if n.startswith("@")}, "the oracle's walk reached jwt_authn"
    # the TCP chains have no HTTP filter to put it in: nothing but tcp_proxy
    assert all(len(c.filters) == 1 for c in listener.filter_chains if _kind(c) == "tcp")

    mint = server.mint
    good = mint(claims(server.issuer, subject="alice", audience=AUDIENCE, groups=["admin"]))
    table = {
        "valid RS256": (good, SERVED),
        "valid ES256": (mint(claims(server.issuer, audience=AUDIENCE), key=server.key("ec")), SERVED),
        "no token": (None, SERVED),
        "wrong issuer": (mint(claims("https://evil.example", audience=AUDIENCE)),
                         (401, JWT_AUTHN, "Jwt issuer is not configured")),
        "expired": (mint(claims(server.issuer, audience=AUDIENCE, lifetime=-3600)), (401, JWT_AUTHN, "Jwt is expired")),
        "wrong audience": (mint(claims(server.issuer, audience="elsewhere")),
                           (403, JWT_AUTHN, "Audiences in Jwt are not allowed")),
        "forged (published kid, other key)": (mint(claims(server.issuer, audience=AUDIENCE), key=server.new_key("rsa"),
                                                    kid="rsa-1"), (401, JWT_AUTHN, "Jwt verification fails")),
    }
    got = {case: answer(filters, token) for case, (token, _) in table.items()}
    assert got == {case: want for case, (_, want) in table.items()}, got
    served = outcome(filters, good)
    assert served.metadata[JWT_AUTHN]["payload"]["sub"] == "alice", served.metadata
    assert "authorization" not in served.request_headers, "forwardOriginalToken false: the token is removed"

    # requestPrincipals ["*"]: a request without a token passes jwt_authn and is refused by RBAC
    _apply(meshd, REQUIRE_JWT)
    listener = _inbound(sidecar(meshd, ads_clients))
    filters = inbound_filters(listener)
    assert names(filters) == [JWT_AUTHN, f"{RBAC}.allow", *TAIL], names(filters)
    assert config_of(filters, JWT_AUTHN, JWT_TYPE) == jwt, "the jwt_authn config did not change"
    rbac = config_of(filters, f"{RBAC}.allow", HTTP_RBAC_TYPE)
    assert list(rbac.rules.policies) == ["ns[default]-policy[require-jwt]-rule[0]"], rbac
    assert jwt_principal_paths(rbac) == [(JWT_AUTHN, ("payload", "iss")), (JWT_AUTHN, ("payload", "sub"))], rbac
    assert [m.value.string_match.safe_regex.regex for m in values(rbac.rules, "metadata")] == [".+", ".+"], rbac
    assert {
        "valid": answer(filters, good),
        "no token": answer(filters),
        "Basic credentials (no bearer token)": answer(filters, headers={"authorization": "Basic YWxpY2U6cHc="}),
        "expired": answer(filters, table["expired"][0]),
    } == {"valid": SERVED, "no token": NOT_RBAC, "Basic credentials (no bearer token)": NOT_RBAC,
          "expired": (401, JWT_AUTHN, "Jwt is expired")}
    # on TCP the rule cannot be checked: the ALLOW filter is left empty (nothing allowed), as istiod
    for chain in (c for c in listener.filter_chains[1:] if _kind(c) == "tcp"):
        (network,) = [f for f in chain.filters if f.name == "envoy.filters.network.rbac.allow"]
        assert dict(proto_check.unpack(network.typed_config).rules.policies) == {}, chain.name

    # a claim condition: groups contains admin (a list claim or a single value)
    meshd.delete(REQUIRE_JWT)
    _apply(meshd, ADMINS_ONLY)
    filters = inbound_filters(_inbound(sidecar(meshd, ads_clients)))
    rbac = config_of(filters, f"{RBAC}.allow", HTTP_RBAC_TYPE)
    assert list(rbac.rules.policies) == ["ns[default]-policy[admins-only]-rule[0]"], rbac
    (matcher,) = values(rbac.rules, "metadata")
    assert (matcher.filter, [s.key for s in matcher.path]) == (JWT_AUTHN, ["payload", "groups"]), matcher
    assert [v.WhichOneof("match_pattern") for v in matcher.value.or_match.value_matchers] == ["list_match", "string_match"]

    def groups(value) -> str:
        return mint(claims(server.issuer, audience=AUDIENCE, groups=value))

    assert {
        "groups [admin]": answer(filters, good),
        "groups [dev, admin]": answer(filters, groups(["dev", "admin"])),
        "groups 'admin'": answer(filters, groups("admin")),
        "groups [dev]": answer(filters, groups(["dev"])),
        "no groups claim": answer(filters, mint(claims(server.issuer, audience=AUDIENCE))),
        "no token": answer(filters),
    } == {"groups [admin]": SERVED, "groups [dev, admin]": SERVED, "groups 'admin'": SERVED,
          "groups [dev]": NOT_RBAC, "no groups claim": NOT_RBAC, "no token": NOT_RBAC}


# ------------------------------------------------------------------------------ 2. rotation

def test_a_key_rotation_reaches_the_sidecar_without_an_apply(meshd_factory, ads_clients, jwks_servers):
    server = jwks_servers()
    meshd = meshd_factory(extra_args=["--jwks-refresh-interval", "1s"])
    _apply(meshd, WORKLOAD, request_authentication("jwt", jwt_rule(server)))
    client = sidecar_with_keys(meshd, ads_clients, server.issuer, ["rsa-1", "ec-1"])
    old_key = server.key("rsa")
    old_token = server.mint(claims(server.issuer), key=old_key)
    assert answer(inbound_filters(_inbound(client)), old_token) == SERVED
    revision, lds_version = meshd.push_status()["revision"], client.versions["LDS"]

    new_key = server.rotate("rsa")  # rsa-2 in place of rsa-1
    started = time.monotonic()
    client.wait_for(lambda c: lds_has(c, lambda l: new_key.kid in kids(jwt_of(l).providers["origins-0"])),
                    WAIT, f"an LDS whose jwt_authn holds {new_key.kid}")
    took = time.monotonic() - started
    client.wait_quiet(0.3)
    _validate(client.state)
    listener = _inbound(client)
    assert sorted(kids(jwt_of(listener).providers["origins-0"])) == ["ec-1", new_key.kid]
    assert client.versions["LDS"] != lds_version and meshd.push_status()["revision"] == revision, "pushed, no apply"
    filters = inbound_filters(listener)  # every inbound HCM has the new keys
    assert {
        "new key": answer(filters, server.mint(claims(server.issuer), key=new_key)),
        "old key (retired)": answer(filters, old_token),
        "EC key (kept)": answer(filters, server.mint(claims(server.issuer), key=server.key("ec"))),
    } == {"new key": SERVED, "old key (retired)": (401, JWT_AUTHN, "Jwks doesn't have key to match kid or alg from Jwt"),
          "EC key (kept)": SERVED}
    assert sorted(debug_jwks(meshd)[server.url]["keyIDs"]) == ["ec-1", new_key.kid]
    assert took < 5, f"the rotation took {took:.1f}s to reach the sidecar with a 1 s refresh interval"


# ------------------------------------------------------------------------------ 3. failures

def test_a_jwks_endpoint_going_down_keeps_the_last_good_keys(meshd_factory, ads_clients, jwks_servers):
    server = jwks_servers()
    meshd = meshd_factory(extra_args=["--jwks-refresh-interval", "1s"])
    _apply(meshd, WORKLOAD, request_authentication("jwt", jwt_rule(server, timeout="1s")))
    client = sidecar_with_keys(meshd, ads_clients, server.issuer, ["rsa-1", "ec-1"])
    before = jwt_of(_inbound(client))
    token = server.mint(claims(server.issuer))
    wait_until(lambda: debug_jwks(meshd).get(server.url, {}).get("hasKeys"), WAIT, "the keys in /debug/jwks")
    assert ready(meshd)[0] == 200 and degradation_ids(meshd) == []

    server.go_down()  # connections refused
    wait_until(lambda: "jwks" in degradation_ids(meshd), WAIT, "the jwks degradation in /ready")
    status, body = ready(meshd)
    assert status == 200 and body["status"] == "degraded", body
    (degraded,) = [d for d in body["degradations"] if d["id"] == "jwks"]
    assert server.url in degraded["message"], degraded
    entry = debug_jwks(meshd)[server.url]
    assert entry["lastError"] and entry["consecutiveFailures"] >= 1, entry
    assert entry["hasKeys"] is True and sorted(entry["keyIDs"]) == ["ec-1", "rsa-1"], entry
    time.sleep(0.5)
    after = jwt_of(_inbound(client))
    assert after == before, "the sidecar keeps the last good keys"
    assert answer(inbound_filters(_inbound(client)), token) == SERVED

    server.come_back()
    wait_until(lambda: "jwks" not in degradation_ids(meshd), WAIT, "the jwks degradation to clear")
    entry = debug_jwks(meshd)[server.url]
    assert not entry.get("lastError") and entry["consecutiveFailures"] == 0 and entry["hasKeys"], entry
    status, body = ready(meshd)
    assert (status, body["status"], body["degradations"]) == (200, "ready", []), body
    assert jwt_of(_inbound(client)) == before


def _no_keys_yet(meshd, ads_clients, issuer: str, uri: str, answer_: dict) -> list:
    """The apply answer names the failed fetch and the key-less issuer; the sidecar's provider for
    `issuer` holds only the unusable set; returns the inbound filters."""
    warnings = answer_["warnings"]
    assert any(f"spec.jwtRules[0].jwksUri: fetching {uri} failed: " in w for w in warnings), warnings
    assert any(f"meshd holds no keys from {uri} yet" in w for w in warnings), warnings
    entry = wait_until(lambda: debug_jwks(meshd).get(uri, {}).get("lastError") and debug_jwks(meshd)[uri], WAIT,
                       f"{uri}'s failure in /debug/jwks")
    assert entry["hasKeys"] is False and entry["keyIDs"] == [] and entry["consecutiveFailures"] >= 1, entry
    wait_until(lambda: "jwks" in degradation_ids(meshd), WAIT, "the jwks degradation in /ready")
    listener = _inbound(sidecar(meshd, ads_clients))
    filters = inbound_filters(listener)
    assert kids(provider_for(config_of(filters, JWT_AUTHN, JWT_TYPE), issuer)) == [NO_KEYS_KID]
    return filters


def test_a_jwks_uri_answering_503_gives_the_unusable_key_set(meshd_factory, ads_clients, jwks_servers):
    server = jwks_servers()
    server.go_down("503")
    meshd = meshd_factory(extra_args=["--jwks-refresh-interval", "1s"])
    answer_ = meshd.apply(configs.join(WORKLOAD, request_authentication("jwt", jwt_rule(server))))
    meshd.wait_pushed(answer_["revision"])
    filters = _no_keys_yet(meshd, ads_clients, server.issuer, server.url, answer_)
    assert any("HTTP 503" in w for w in answer_["warnings"]), answer_["warnings"]
    assert {
        "token": answer(filters, server.mint(claims(server.issuer))),
        "token without kid": answer(filters, server.mint(claims(server.issuer), kid=None)),
        "no token": answer(filters),
    } == {"token": (401, JWT_AUTHN, "Jwks doesn't have key to match kid or alg from Jwt"),
          "token without kid": (401, JWT_AUTHN, "Jwt verification fails"), "no token": SERVED}

    # the first success is pushed: the real keys, tokens verify
    client = ads_clients(meshd.xds_address, NODE, user_agent_name="envoy", client_features=[], metadata={"LABELS": LABELS})
    server.come_back()
    client.wait_for(lambda c: lds_has(c, lambda l: "rsa-1" in kids(jwt_of(l).providers["origins-0"])), WAIT,
                    "the fetched keys after the endpoint recovered")
    assert answer(inbound_filters(_inbound(client)), server.mint(claims(server.issuer))) == SERVED
    wait_until(lambda: "jwks" not in degradation_ids(meshd), WAIT, "the jwks degradation to clear")


def test_a_jwks_uri_on_a_closed_port_is_named_in_the_apply_answer(meshd, ads_clients):
    issuer, uri = "https://down.example", f"http://127.0.0.1:{closed_port()}/jwks.json"
    rule = {"issuer": issuer, "jwksUri": uri, "timeout": "2s"}
    answer_ = meshd.apply(configs.join(WORKLOAD, request_authentication("down", rule)))
    meshd.wait_pushed(answer_["revision"])
    filters = _no_keys_yet(meshd, ads_clients, issuer, uri, answer_)
    signer = JwksServer()  # not started: only its key signs
    assert answer(filters, signer.mint(claims(issuer))) == (401, JWT_AUTHN, "Jwks doesn't have key to match kid or alg from Jwt")
    assert answer(filters) == SERVED


def test_the_keys_fetched_at_apply_are_kept(meshd, ads_clients, jwks_servers):
    """What the apply fetched is what the apply's push carries: held at once (/debug/jwks), in
    the first LDS a sidecar gets, fetched once. A slow server (1.2 s, within the rule's 5 s
    timeout) shows the drop every time; fast ones about one apply in four."""
    _apply(meshd, WORKLOAD)
    slow = jwks_servers()
    slow.slow(1.2)
    cases = [slow] + [jwks_servers() for _ in range(5)]
    got, want = {}, {}
    for i, server in enumerate(cases):
        answer_ = _apply(meshd, request_authentication(f"jwt-{i}", jwt_rule(server), selector={"app": f"w{i}"}))
        entry = debug_jwks(meshd).get(server.url, {})
        client = ads_clients(meshd.xds_address, f"sidecar~10.0.0.{20 + i}~w{i}.default~default.svc.cluster.local",
                             user_agent_name="envoy", client_features=[], metadata={"LABELS": {"app": f"w{i}"}})
        client.wait_for(lambda c: "virtualInbound" in c.state["LDS"], WAIT, "virtualInbound")
        (_, hcm), *_ = hcms(client.state["LDS"]["virtualInbound"].message)  # the port-less HTTP chain
        first = kids(provider_for(config_of(hcm.http_filters, JWT_AUTHN, JWT_TYPE), server.issuer))
        got[server.url] = ([w for w in answer_["warnings"] if "jwksUri" in w], entry.get("hasKeys"), sorted(first))
        want[server.url] = ([], True, ["ec-1", "rsa-1"])
    time.sleep(1.5)
    assert got == want, got
    assert {s.url: s.count() for s in cases} == {s.url: 1 for s in cases}, "fetched once per apply"


def test_an_issuer_without_jwks_uri_is_found_by_openid_discovery(meshd, ads_clients, jwks_servers):
    """A rule with only `issuer` (istiod's OpenID discovery): meshd reads the issuer's
    /.well-known/openid-configuration, then its jwks_uri, and inlines those keys."""
    server = jwks_servers()
    answer_ = _apply(meshd, WORKLOAD, request_authentication("discovered", {"issuer": server.issuer}))
    assert [w for w in answer_["warnings"] if "jwks" in w.lower()] == [], answer_["warnings"]
    assert server.count(server.discovery_url[len(server.issuer):]) == 1 and server.count() == 1
    client = sidecar_with_keys(meshd, ads_clients, server.issuer, ["ec-1", "rsa-1"])
    assert answer(inbound_filters(_inbound(client)), server.mint(claims(server.issuer))) == SERVED
    assert server.issuer + "/.well-known/openid-configuration" in debug_jwks(meshd)


def test_an_oversized_jwks_is_refused_and_named(meshd, ads_clients, jwks_servers):
    good, big = jwks_servers(), jwks_servers()
    _apply(meshd, WORKLOAD, request_authentication("jwt", jwt_rule(good)))
    sidecar_with_keys(meshd, ads_clients, good.issuer, ["rsa-1", "ec-1"])
    big.serve_oversized(600_000)
    answer_ = meshd.apply(request_authentication("big", jwt_rule(big, issuer="https://big.example")))
    meshd.wait_pushed(answer_["revision"])
    assert any(f"fetching {big.url} failed: " in w and "524288-byte limit" in w for w in answer_["warnings"]), answer_["warnings"]
    filters = _no_keys_yet(meshd, ads_clients, "https://big.example", big.url, answer_)
    assert "524288-byte limit" in debug_jwks(meshd)[big.url]["lastError"]
    jwt = config_of(filters, JWT_AUTHN, JWT_TYPE)
    # two providers sorted by issuer (http://127... < https://big...): the good one keeps its keys
    assert [(n, p.issuer) for n, p in sorted(jwt.providers.items())] == [("origins-0", good.issuer),
                                                                         ("origins-1", "https://big.example")]
    assert sorted(kids(jwt.providers["origins-0"])) == ["ec-1", "rsa-1"]
    assert len(jwt.providers["origins-1"].local_jwks.inline_string) < 4096, "the oversized body is not inlined"
    assert {
        "good issuer": answer(filters, good.mint(claims(good.issuer))),
        "big issuer": answer(filters, big.mint(claims("https://big.example"))),
        "no token": answer(filters),
    } == {"good issuer": SERVED, "big issuer": (401, JWT_AUTHN, "Jwks doesn't have key to match kid or alg from Jwt"),
          "no token": SERVED}


# ------------------------------------------------------------------------------ 4. mesh config, CUSTOM

ADMIN_TABLE = {  # path -> whether the CUSTOM rule (paths: /admin*) sends it to the authorizer
    "/admin": True, "/admin/users": True, "/administrator": True, "/admin?x=1": True,
    "/": False, "/public": False, "/api/admin": False, "/ADMIN": False,
}


def _ext_authz_cluster(listener) -> str:
    return config_of(inbound_filters(listener), EXT_AUTHZ, EXT_AUTHZ_TYPE).http_service.server_uri.cluster


def test_mesh_config_ext_authz_provider_and_its_reload(meshd_factory, ads_clients, jwks_servers, tmp_path):
    path = tmp_path / "mesh.yaml"
    path.write_text(mesh_config(8181))
    meshd = meshd_factory(extra_args=["--mesh-config", str(path)])
    mesh = debug_mesh(meshd)
    assert mesh["path"] == str(path) and mesh["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), mesh
    assert mesh["effective"] == {"rootNamespace": "istio-system", "trustDomain": "cluster.local", "extensionProviders": [
        {"name": "opa", "kind": "envoyExtAuthzHttp", "service": OPA_HOST, "port": 8181}]}, mesh
    assert mesh["notHonoured"] == ["enableTracing"] and not mesh.get("error"), mesh
    generation = mesh["generation"]

    signer = jwks_servers()
    inline = request_authentication("jwt", {"issuer": signer.issuer, "jwks": signer.jwks_json()})
    _apply(meshd, WORKLOAD, opa_service_entry(), custom_policy("opa"), inline)
    client = sidecar(meshd, ads_clients)
    listener = _inbound(client)
    filters = inbound_filters(listener)
    # CUSTOM pair, then jwt_authn (fact 3.1): the authorizer sees the raw request
    assert names(filters) == [RBAC, EXT_AUTHZ, JWT_AUTHN, *TAIL], names(filters)
    shadow = config_of(filters, RBAC, HTTP_RBAC_TYPE)
    assert not shadow.HasField("rules") and shadow.shadow_rules_stat_prefix == "istio_ext_authz_", shadow
    assert type(shadow.shadow_rules).Action.Name(shadow.shadow_rules.action) == "DENY"
    assert list(shadow.shadow_rules.policies) == ["istio-ext-authz-opa-ns[default]-policy[ext-authz]-rule[0]"], shadow
    ext = config_of(filters, EXT_AUTHZ, EXT_AUTHZ_TYPE)
    uri = ext.http_service.server_uri
    assert (uri.uri, uri.cluster, uri.timeout.seconds) == (f"http://{OPA_HOST}", f"outbound|8181||{OPA_HOST}", 2), ext
    assert ext.http_service.path_prefix == "/check", ext
    enabled = ext.filter_enabled_metadata
    assert (enabled.filter, [s.key for s in enabled.path], enabled.value.string_match.prefix) == (
        RBAC, ["istio_ext_authz_shadow_effective_policy_id"], "istio-ext-authz-opa"), ext
    assert [(p.exact, p.ignore_case) for p in ext.allowed_headers.patterns] == [("x-user", True)], ext
    assert [(p.prefix, p.ignore_case) for p in ext.http_service.authorization_response.allowed_upstream_headers.patterns] == [
        ("x-authz-", True)], ext
    assert type(ext).DESCRIPTOR.fields_by_name["transport_api_version"].enum_type.values_by_number[
        ext.transport_api_version].name == "V3"
    assert ext.failure_mode_allow is False and not ext.HasField("status_on_error"), ext
    assert f"outbound|8181||{OPA_HOST}" in client.state["CDS"], "the authorizer's cluster is sent"
    walked = {n[1:] for n, _ in walk(listener) if n.startswith("@")}
    assert {EXT_AUTHZ_TYPE, JWT_TYPE, HTTP_RBAC_TYPE} <= walked, walked
    # TCP chains: an HTTP provider cannot check them; meshd denies what the rule selects there
    # (docs/end-user-auth.md "TCP ports"; istiod lets them through) - the path dropped: everything
    for chain in (c for c in listener.filter_chains[1:] if _kind(c) == "tcp"):
        assert [f.name for f in chain.filters] == ["envoy.filters.network.rbac.custom-deny.opa",
                                                   "envoy.filters.network.tcp_proxy"], chain.name
        deny = proto_check.unpack(chain.filters[0].typed_config)
        assert deny.stat_prefix == "tcp." and type(deny.rules).Action.Name(deny.rules.action) == "DENY", deny
        (policy,) = deny.rules.policies.values()
        assert [p.WhichOneof("rule") for p in policy.permissions] == ["any"], deny

    calls: list = []

    def authorizer(cluster, headers):
        calls.append((cluster, headers.get(":path")))
        return AuthzDecision.allow({"x-authz-user": "alice"})

    got = {}
    for p in ADMIN_TABLE:
        calls.clear()
        o = outcome(filters, path=p, authorizer=authorizer)
        got[p] = (calls == [(f"outbound|8181||{OPA_HOST}", p)], o.status, o.request_headers.get("x-authz-user"))
    assert got == {p: (called, 200, "alice" if called else None) for p, called in ADMIN_TABLE.items()}, got
    # the authorizer's verdict stands; it runs before jwt_authn (an expired token is its to see)
    expired = signer.mint(claims(signer.issuer, lifetime=-3600))
    assert answer(filters, path="/admin", authorizer=lambda c, h: AuthzDecision.deny(403, "no")) == (403, EXT_AUTHZ, "no")
    assert answer(filters, path="/public", authorizer=lambda c, h: AuthzDecision.deny(403, "no")) == SERVED
    assert answer(filters, expired, "/admin", authorizer=lambda c, h: AuthzDecision.deny(403, "no")) == (403, EXT_AUTHZ, "no")
    assert answer(filters, expired, "/admin", authorizer=authorizer) == (401, JWT_AUTHN, "Jwt is expired")
    assert answer(filters, path="/admin", authorizer=lambda c, h: AuthzDecision.error()) == (403, EXT_AUTHZ, "")

    # the file changes: the provider's port -> a new LDS with the new cluster, no restart
    pid, revision = meshd.proc.pid, meshd.push_status()["revision"]
    write_atomically(path, mesh_config(9191))
    client.wait_for(lambda c: lds_has(c, lambda l: _ext_authz_cluster(l) == f"outbound|9191||{OPA_HOST}"), WAIT,
                    "an LDS with the provider's new port")
    client.wait_quiet(0.3)
    _validate(client.state)
    mesh = wait_until(lambda: (m := debug_mesh(meshd))["generation"] > generation and m, WAIT, "a new mesh generation")
    assert mesh["effective"]["extensionProviders"][0]["port"] == 9191 and not mesh.get("error"), mesh
    assert mesh["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), mesh
    assert meshd.proc.pid == pid and meshd.running and meshd.push_status()["revision"] == revision
    calls.clear()
    assert answer(inbound_filters(_inbound(client)), path="/admin/x", authorizer=authorizer) == SERVED
    assert calls == [(f"outbound|9191||{OPA_HOST}", "/admin/x")], calls

    # an invalid edit (an unknown field): the last good config stays, and says so
    generation, sha, lds = mesh["generation"], mesh["sha256"], client.state["LDS"]["virtualInbound"].value
    responses = len(client.responses)
    write_atomically(path, mesh_config(8181, extra="bogusField: 1\n"))
    mesh = wait_until(lambda: (m := debug_mesh(meshd)).get("error") and m, WAIT, "the mesh config error")
    assert "bogusField" in mesh["error"], mesh
    assert (mesh["generation"], mesh["sha256"]) == (generation, sha), mesh
    assert mesh["effective"]["extensionProviders"][0]["port"] == 9191, mesh
    status, body = ready(meshd)
    assert status == 200 and "mesh-config" in [d["id"] for d in body["degradations"]], body
    time.sleep(1.5)  # a second poll of the file: still nothing pushed
    assert len(client.responses) == responses, client.describe(5)
    assert client.state["LDS"]["virtualInbound"].value == lds

    # fixed again: applied, the degradation gone
    write_atomically(path, mesh_config(8181))
    client.wait_for(lambda c: lds_has(c, lambda l: _ext_authz_cluster(l) == f"outbound|8181||{OPA_HOST}"), WAIT,
                    "an LDS with the provider's port back at 8181")
    mesh = wait_until(lambda: (m := debug_mesh(meshd))["generation"] > generation and m, WAIT, "a new mesh generation")
    assert not mesh.get("error"), mesh
    assert "mesh-config" not in degradation_ids(meshd)


def test_meshd_refuses_to_start_with_an_unknown_mesh_config_field(tmp_path):
    path = tmp_path / "mesh.yaml"
    path.write_text(mesh_config(8181, extra="defaultConfig: {discoveryAddress: x:15012}\nbogusField: 1\n"))
    argv = [*launcher(meshd_bin()), "--data-dir", str(tmp_path / "data"), "--grpc-port", "0", "--admin-port", "0",
            "--tls-port", "0", "--renew-port", "0", "--listen-address", "127.0.0.1", "--mesh-config", str(path)]
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:  # it started: the kill is subprocess.run's
        raise AssertionError(f"meshd started with an unknown mesh config field: {exc.stderr!r}") from exc
    assert p.returncode != 0, (p.returncode, p.stderr)
    assert "bogusField" in p.stderr and str(path) in p.stderr, p.stderr
    assert "xds_address=" not in p.stderr + p.stdout, "nothing was served"


def test_a_custom_policy_naming_an_unknown_provider_denies_its_requests(meshd_factory, ads_clients, tmp_path):
    path = tmp_path / "mesh.yaml"
    path.write_text(mesh_config(8181))
    meshd = meshd_factory(extra_args=["--mesh-config", str(path)])
    answer_ = _apply(meshd, WORKLOAD, opa_service_entry(), custom_policy("nope"))
    assert any(w.startswith("AuthorizationPolicy default/ext-authz: spec.provider.name: ") and '"nope"' in w
               for w in answer_["warnings"]), answer_["warnings"]
    filters = inbound_filters(_inbound(sidecar(meshd, ads_clients)))
    assert names(filters) == [f"{RBAC}.custom-deny.nope", *TAIL], names(filters)
    deny = config_of(filters, f"{RBAC}.custom-deny.nope", HTTP_RBAC_TYPE)
    assert type(deny.rules).Action.Name(deny.rules.action) == "DENY" and not deny.HasField("shadow_rules"), deny
    assert list(deny.rules.policies) == [
        "istio-ext-authz-nope-ns[default]-policy[ext-authz]-rule[0]-deny-due-to-bad-CUSTOM-action"], deny
    got = {p: answer(filters, path=p)[:2] for p in ADMIN_TABLE}
    assert got == {p: (403, f"{RBAC}.custom-deny.nope") if selected else SERVED[:2]
                   for p, selected in ADMIN_TABLE.items()}, got


# ------------------------------------------------------------------------------ 5. the gateway

def test_an_envoy_gateway_verifies_tokens_and_requires_them(meshd, ads_clients, jwks_servers):
    server = jwks_servers()
    edge = {"istio": "ingressgateway"}
    ra = request_authentication("edge-jwt", jwt_rule(server), namespace="istio-system", selector=edge)
    require = authorization_policy("edge-require-jwt", {"action": "ALLOW", "rules": [
        {"from": [{"source": {"requestPrincipals": ["*"]}}]}]}, namespace="istio-system", selector=edge)
    answer_ = meshd.apply(configs.join(configs.canary(9081, 9082), configs.envoy_mesh(), gateway(), edge_routes(50, 50),
                                       ra, require))
    meshd.wait_pushed(answer_["revision"])
    assert not [w for w in answer_["warnings"] if "jwksUri" in w or "not honoured by Envoy gateways" in w], answer_["warnings"]

    client = ads_clients(meshd.xds_address, GATEWAY_NODE, user_agent_name="envoy", client_features=[],
                         metadata=GATEWAY_METADATA)

    def keys_at_80(c):
        listener = c.state["LDS"].get("0.0.0.0_80")
        return listener is not None and "rsa-1" in kids(config_of(hcms(listener.message)[0][1].http_filters, JWT_AUTHN,
                                                                       JWT_TYPE).providers["origins-0"])

    client.wait_for(keys_at_80, WAIT, "the gateway's jwt_authn with the fetched keys")
    client.wait_quiet(0.5)
    _validate(client.state)
    listeners = {n: r.message for n, r in client.state["LDS"].items()}
    served = {(n, name): hcm for n in ("0.0.0.0_80", "0.0.0.0_443") for name, hcm in hcms(listeners[n])}
    assert sorted(served) == [("0.0.0.0_443", "https.443.https.ingress.istio-system"),
                              ("0.0.0.0_443", "https.443.mtls.ingress.istio-system"), ("0.0.0.0_80", "0.0.0.0_80")]
    first = None
    for key, hcm in served.items():
        filters = list(hcm.http_filters)
        assert names(filters) == [JWT_AUTHN, f"{RBAC}.allow", *TAIL], (key, names(filters))
        jwt = config_of(filters, JWT_AUTHN, JWT_TYPE)
        check_istiod_requirement(jwt)
        check_provider(jwt.providers["origins-0"], server.issuer, [], clear_route_cache=True)
        assert sorted(kids(jwt.providers["origins-0"])) == ["ec-1", "rsa-1"]
        rbac = config_of(filters, f"{RBAC}.allow", HTTP_RBAC_TYPE)
        assert list(rbac.rules.policies) == ["ns[istio-system]-policy[edge-require-jwt]-rule[0]"], rbac
        assert jwt_principal_paths(rbac) == [(JWT_AUTHN, ("payload", "iss")), (JWT_AUTHN, ("payload", "sub"))]
        filters_bytes = [f.SerializeToString(deterministic=True) for f in filters]
        assert first in (None, filters_bytes), f"{key}: the same filters on every gateway HCM"
        first = filters_bytes
    # TCP and TLS passthrough servers: network RBAC, the JWT rule dropped (nothing allowed), as istiod
    for name in ("0.0.0.0_3306", "0.0.0.0_9443"):
        for chain in listeners[name].filter_chains:
            assert [f.name for f in chain.filters] == ["envoy.filters.network.rbac.allow", "envoy.filters.network.tcp_proxy"]
            network = chain.filters[0]
            assert _type(network.typed_config) == NETWORK_RBAC_TYPE
            assert dict(proto_check.unpack(network.typed_config).rules.policies) == {}, (name, chain.name)

    filters = list(served["0.0.0.0_80", "0.0.0.0_80"].http_filters)
    request = dict(authority="reviews.example.com")
    good = server.mint(claims(server.issuer, subject="bob"))

    def at_edge(token=None):
        o = run_http_chain(filters, Request(headers=bearer(token) if token else {}, **request),
                           Peer(source_ip="203.0.113.7", destination_ip="10.0.0.9", destination_port=80))
        return o.status, o.decided_by, o.body

    assert {
        "valid": at_edge(good),
        "missing": at_edge(),
        "wrong issuer": at_edge(server.mint(claims("https://evil.example"))),
    } == {"valid": (200, "envoy.filters.http.router", ""), "missing": NOT_RBAC,
          "wrong issuer": (401, JWT_AUTHN, "Jwt issuer is not configured")}

    # the policies select the gateway only: app-1's sidecar (app: productpage) gets none of them
    app = ads_clients(meshd.xds_address, NODE, user_agent_name="envoy", client_features=[],
                      metadata={"LABELS": {"app": "productpage"}})
    app.wait_quiet(0.3)
    for _, hcm in hcms(app.state["LDS"]["virtualInbound"].message):
        assert names(hcm.http_filters) == TAIL, names(hcm.http_filters)
