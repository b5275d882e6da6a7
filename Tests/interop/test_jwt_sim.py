"""Self-test of jwt_sim / rbac_sim (needs no meshd): hand-built configs in istiod's shapes
(docs/research/istio-end-user-auth-facts.md 3.2, 3.3, 4.1, 4.2, 5.3) give Envoy's answers
(3.6, 3.7, 5.8).

The JwtAuthentication is istiod's: providers `origins-<i>` with `payload_in_metadata: payload`
and space-delimited `permission`/`scope`, one rule `prefix: /` requiring
`requires_any[origins-0, allow_missing]`, or for N > 1 providers the OR of each provider and
the AND of each provider-or-missing. RBAC ALLOW `requestPrincipals: ["*"]` is istiod's
and_ids(metadata iss `.+`, metadata sub `.+`); `request.auth.claims[...]` is the list-or-value
matcher. Every test runs in well under 5 s (checked) and each checks a verdict the simulation
could get wrong.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
from google.protobuf import any_pb2

from envoy.config.core.v3 import address_pb2, base_pb2, config_source_pb2
from envoy.config.rbac.v3 import rbac_pb2
from envoy.config.route.v3 import route_components_pb2 as route_pb2
from envoy.extensions.filters.http.ext_authz.v3 import ext_authz_pb2
from envoy.extensions.filters.http.jwt_authn.v3 import config_pb2 as jwt_pb2
from envoy.extensions.filters.http.rbac.v3 import rbac_pb2 as http_rbac_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.type.matcher.v3 import metadata_pb2, regex_pb2, string_pb2, value_pb2
from envoy.type.v3 import http_status_pb2
from jwks_server import JwksServer, claims
from jwt_sim import (JWT_AUTHN, AuthzDecision, JwtAuthn, Pass, Peer, Reject, Request, Status, run_http_chain)
from rbac_sim import RBACSim, Unsupported

ISS, ISS2, ISS3 = "https://issuer.example.com", "https://other.example.org", "https://stranger.example.net"
NOW = 1_900_000_000
TIME_LIMIT = 5.0


@pytest.fixture(autouse=True)
def _bounded():
    start = time.monotonic()
    yield
    assert time.monotonic() - start < TIME_LIMIT, "a jwt_sim unit test must take under 5 s"


@pytest.fixture(scope="module")
def keys():
    """Signing keys and their JWKS (the server is not started: only its keys are used)."""
    return JwksServer()


def token(keys, issuer=ISS, **kw) -> str:
    key, kid = kw.pop("key", None), kw.pop("kid", "default")
    lifetime = kw.pop("lifetime", 3600)
    extra = {} if kid == "default" else {"kid": kid}
    return keys.mint(claims(issuer, now=NOW, lifetime=lifetime, **kw), key=key, **extra)


def bearer(tok: str) -> dict:
    return {"authorization": f"Bearer {tok}"}


# ------------------------------------------------------------------------------ istiod's shapes

def provider(issuer: str, jwks: str, **fields) -> jwt_pb2.JwtProvider:
    """A JwtProvider as istiod fills it (fact 3.2), extra fields as given."""
    return jwt_pb2.JwtProvider(
        issuer=issuer, local_jwks=base_pb2.DataSource(inline_string=jwks), payload_in_metadata="payload",
        normalize_payload_in_metadata=jwt_pb2.JwtProvider.NormalizePayload(space_delimited_claims=["permission", "scope"]),
        **fields)


def _name(i: int) -> jwt_pb2.JwtRequirement:
    return jwt_pb2.JwtRequirement(provider_name=f"origins-{i}")


def _or_missing(i: int) -> jwt_pb2.JwtRequirement:
    return jwt_pb2.JwtRequirement(requires_any=jwt_pb2.JwtRequirementOrList(
        requirements=[_name(i), jwt_pb2.JwtRequirement(allow_missing={})]))


def istiod_requirement(n: int) -> jwt_pb2.JwtRequirement:
    """Fact 3.3: one provider: any[origins-0, allow_missing]; N > 1: any[each provider,
    all[any[each provider, allow_missing]]]."""
    if n == 1:
        return _or_missing(0)
    every = jwt_pb2.JwtRequirement(requires_all=jwt_pb2.JwtRequirementAndList(requirements=[_or_missing(i) for i in range(n)]))
    return jwt_pb2.JwtRequirement(requires_any=jwt_pb2.JwtRequirementOrList(requirements=[*map(_name, range(n)), every]))


def jwt_filter_config(*providers, requirement=None) -> jwt_pb2.JwtAuthentication:
    return jwt_pb2.JwtAuthentication(
        providers={f"origins-{i}": p for i, p in enumerate(providers)},
        rules=[jwt_pb2.RequirementRule(match=route_pb2.RouteMatch(prefix="/"),
                                       requires=requirement or istiod_requirement(len(providers)))],
        bypass_cors_preflight=True)


def regex(pattern: str) -> string_pb2.StringMatcher:
    return string_pb2.StringMatcher(safe_regex=regex_pb2.RegexMatcher(regex=pattern))


def jwt_metadata(*path: str, value: value_pb2.ValueMatcher) -> rbac_pb2.Principal:
    return rbac_pb2.Principal(metadata=metadata_pb2.MetadataMatcher(
        filter=JWT_AUTHN, path=[metadata_pb2.MetadataMatcher.PathSegment(key=k) for k in ("payload", *path)],
        value=value))


def and_ids(*ids) -> rbac_pb2.Principal:
    return rbac_pb2.Principal(and_ids=rbac_pb2.Principal.Set(ids=list(ids)))


def any_request_principal() -> rbac_pb2.Principal:
    """requestPrincipals: ["*"] (fact 4.1): iss `.+` and sub `.+`, plain string matchers."""
    return and_ids(jwt_metadata("iss", value=value_pb2.ValueMatcher(string_match=regex(".+"))),
                   jwt_metadata("sub", value=value_pb2.ValueMatcher(string_match=regex(".+"))))


def claim_values(claim: str, *values: str) -> rbac_pb2.Principal:
    """when request.auth.claims[claim] in values (fact 4.2): or_match[list_match{one_of: V}, V]."""
    singles = [value_pb2.ValueMatcher(string_match=string_pb2.StringMatcher(exact=v)) for v in values]
    v = singles[0] if len(singles) == 1 else value_pb2.ValueMatcher(or_match=value_pb2.OrMatcher(value_matchers=singles))
    list_or_value = value_pb2.ValueMatcher(or_match=value_pb2.OrMatcher(value_matchers=[
        value_pb2.ValueMatcher(list_match=value_pb2.ListMatcher(one_of=v)), v]))
    return jwt_metadata(claim, value=list_or_value)


def any_permission() -> rbac_pb2.Permission:
    return rbac_pb2.Permission(and_rules=rbac_pb2.Permission.Set(rules=[rbac_pb2.Permission(any=True)]))


def rbac(action: str, policies: dict) -> rbac_pb2.RBAC:
    """policies: name -> (permissions, principals)."""
    return rbac_pb2.RBAC(action=rbac_pb2.RBAC.Action.Value(action), policies={
        name: rbac_pb2.Policy(permissions=perms, principals=principals) for name, (perms, principals) in policies.items()})


def http_filter(name: str, msg) -> hcm_pb2.HttpFilter:
    packed = any_pb2.Any()
    packed.Pack(msg)
    return hcm_pb2.HttpFilter(name=name, typed_config=packed)


def chain(jwt_config=None, allow: rbac_pb2.RBAC | None = None, deny: rbac_pb2.RBAC | None = None, pairs=()) -> list:
    """An inbound HCM's filters in istiod's order (3.1): CUSTOM pairs, jwt_authn, RBAC deny/allow, router."""
    filters = list(pairs)
    if jwt_config is not None:
        filters.append(http_filter("envoy.filters.http.jwt_authn", jwt_config))
    if deny is not None:
        filters.append(http_filter("envoy.filters.http.rbac.deny", http_rbac_pb2.RBAC(rules=deny)))
    if allow is not None:
        filters.append(http_filter("envoy.filters.http.rbac.allow", http_rbac_pb2.RBAC(rules=allow)))
    return filters + [http_filter("envoy.filters.http.router", router_pb2.Router())]


def require_jwt() -> rbac_pb2.RBAC:
    return rbac("ALLOW", {"ns[default]-policy[require-jwt]-rule[0]": ([any_permission()], [and_ids(any_request_principal())])})


# ------------------------------------------------------------------------------ jwt_authn

def test_valid_token_is_served_with_payload_metadata(keys):
    config = jwt_filter_config(provider(ISS, keys.jwks_json()))
    tok = token(keys, sub="alice", scope="read write", groups=["admin"])
    result = JwtAuthn(config, now=NOW).check(Request(headers=bearer(tok)))
    assert isinstance(result, Pass), result
    payload = result.metadata["payload"]
    assert set(result.metadata) == {"payload"}
    assert payload["iss"] == ISS and payload["sub"] == "alice" and payload["groups"] == ["admin"]
    assert payload["scope"] == ["read", "write"], "space_delimited_claims are split into lists"
    assert "authorization" not in result.headers_after, "forward is false: the token header is removed"
    ec_token = token(keys, key=keys.key("ec"))
    assert isinstance(JwtAuthn(config, now=NOW).check(Request(headers=bearer(ec_token))), Pass), "ES256 verifies too"
    outcome = run_http_chain(chain(config, allow=require_jwt()), Request(headers=bearer(tok)), now=NOW)
    assert (outcome.status, outcome.passed) == (200, True), outcome.trace
    assert outcome.metadata[JWT_AUTHN]["payload"]["sub"] == "alice"


def test_wrong_issuer_is_401_jwt_issuer_is_not_configured(keys):
    config = jwt_filter_config(provider(ISS, keys.jwks_json()))
    result = JwtAuthn(config, now=NOW).check(Request(path="/a?b=c", headers=bearer(token(keys, ISS3))))
    assert result == Reject(401, "Jwt issuer is not configured",
                            {"www-authenticate": 'Bearer realm="http://web.default.svc.cluster.local/a?b=c", error="invalid_token"'})


def test_expiry_and_not_before_use_60s_clock_skew(keys):
    check = JwtAuthn(jwt_filter_config(provider(ISS, keys.jwks_json())), now=NOW).check
    assert isinstance(check(Request(headers=bearer(token(keys, lifetime=-59)))), Pass), "within the skew"
    assert check(Request(headers=bearer(token(keys, lifetime=-61)))) .body == "Jwt is expired"
    assert check(Request(headers=bearer(token(keys, lifetime=-61)))).status == 401
    assert check(Request(headers=bearer(token(keys, nbf=NOW + 120)))).body == "Jwt not yet valid"
    assert isinstance(check(Request(headers=bearer(token(keys, nbf=NOW + 30)))), Pass)


def test_bad_signature_and_unknown_kid_are_401(keys):
    check = JwtAuthn(jwt_filter_config(provider(ISS, keys.jwks_json())), now=NOW).check
    forged = token(keys, key=keys.new_key("rsa"), kid="rsa-1")  # the published kid, another key
    assert check(Request(headers=bearer(forged))) .body == "Jwt verification fails"
    unknown = token(keys, key=keys.new_key("rsa"))  # its own kid: no published key has it
    assert check(Request(headers=bearer(unknown))).body == "Jwks doesn't have key to match kid or alg from Jwt"
    head, payload, sig = token(keys).split(".")
    other = base64.urlsafe_b64encode(json.dumps({"iss": ISS, "sub": "mallory"}).encode()).rstrip(b"=").decode()
    assert check(Request(headers=bearer(f"{head}.{other}.{sig}"))).body == "Jwt verification fails"
    assert isinstance(check(Request(headers=bearer(token(keys, kid=None)))), Pass), "no kid: every key is tried"
    assert check(Request(headers=bearer("not-a-jwt"))).body == Status.BAD_FORMAT
    # istiod's PublicOnlyJwks (fact 3.5, 3.7): a key nobody can sign for; no usable key at all.
    public_only = json.dumps({"keys": [{**keys.new_key("rsa").public_jwk, "kid": "public-only"}]})
    assert JwtAuthn(jwt_filter_config(provider(ISS, public_only)), now=NOW).check(Request(headers=bearer(token(keys)))).status == 401
    broken = JwtAuthn(jwt_filter_config(provider(ISS, "not json")), now=NOW).check
    assert broken(Request(headers=bearer(token(keys)))).body == "Jwks doesn't have any valid public key"
    assert isinstance(broken(Request()), Pass), "no token: still passes (allow_missing)"
    assert all(r.status == 401 for r in (check(Request(headers=bearer(forged))), check(Request(headers=bearer("x.y")))))


def test_audiences(keys):
    with_aud = JwtAuthn(jwt_filter_config(provider(ISS, keys.jwks_json(), audiences=["web.default"])), now=NOW).check
    assert with_aud(Request(headers=bearer(token(keys, audience="other")))) == Reject(
        403, "Audiences in Jwt are not allowed",
        {"www-authenticate": 'Bearer realm="http://web.default.svc.cluster.local/", error="invalid_token"'})
    assert with_aud(Request(headers=bearer(token(keys)))).status == 403, "no aud at all is not allowed either"
    assert isinstance(with_aud(Request(headers=bearer(token(keys, audience=["x", "https://web.default/"])))), Pass)
    no_aud = JwtAuthn(jwt_filter_config(provider(ISS, keys.jwks_json())), now=NOW).check
    assert isinstance(no_aud(Request(headers=bearer(token(keys, audience="anything")))), Pass), "empty audiences: no check"


def test_no_token_passes_jwt_authn_but_request_principals_policy_denies(keys):
    config = jwt_filter_config(provider(ISS, keys.jwks_json()))
    result = JwtAuthn(config, now=NOW).check(Request())
    assert result == Pass({}, result.headers_after) and result.metadata == {}
    denied = run_http_chain(chain(config, allow=require_jwt()), Request(), now=NOW)
    assert (denied.status, denied.body, denied.decided_by) == (403, "RBAC: access denied", "envoy.filters.http.rbac.allow")
    served = run_http_chain(chain(config), Request(), now=NOW)
    assert (served.status, served.passed) == (200, True), "without an ALLOW policy a missing token is served"
    with_token = run_http_chain(chain(config, allow=require_jwt()), Request(headers=bearer(token(keys))), now=NOW)
    assert with_token.status == 200


def test_claim_condition_matches_a_value_or_a_list_containing_it(keys):
    config = jwt_filter_config(provider(ISS, keys.jwks_json()))
    allow = rbac("ALLOW", {"ns[default]-policy[admins]-rule[0]": (
        [any_permission()], [and_ids(any_request_principal(), claim_values("groups", "admin"))])})

    def status(**claims_) -> int:
        return run_http_chain(chain(config, allow=allow), Request(headers=bearer(token(keys, **claims_))), now=NOW).status

    assert status(groups=["dev", "admin"]) == 200
    assert status(groups="admin") == 200
    assert status(groups=["dev"]) == 403
    assert status() == 403, "no such claim: the metadata path is missing"
    assert status(groups=True) == 403 and status(groups=1) == 403, "string matchers never match bools or numbers"
    flagged = rbac("ALLOW", {"p": ([any_permission()], [claim_values("admin", "true")])})
    assert run_http_chain(chain(config, allow=flagged), Request(headers=bearer(token(keys, admin=True))), now=NOW).status == 403
    assert run_http_chain(chain(config, allow=flagged), Request(headers=bearer(token(keys, admin="true"))), now=NOW).status == 200


def test_basic_authorization_counts_as_missing_and_the_prefix_is_found_anywhere(keys):
    config = jwt_filter_config(provider(ISS, keys.jwks_json()))
    check = JwtAuthn(config, now=NOW).check
    basic = check(Request(headers={"authorization": "Basic dXNlcjpwYXNz"}))
    assert isinstance(basic, Pass) and basic.metadata == {}
    assert basic.headers_after["authorization"] == "Basic dXNlcjpwYXNz", "not a token: left alone"
    assert run_http_chain(chain(config, allow=require_jwt()), Request(headers={"authorization": "Basic x"}), now=NOW).status == 403
    tok = token(keys)
    anywhere = check(Request(headers={"authorization": f"Custom x, Bearer   {tok}, other"}))
    assert anywhere.metadata["payload"]["iss"] == ISS, "the prefix is looked for anywhere in the value"
    assert check(Request(headers={"authorization": "Bearer garbage"})).body == Status.BAD_FORMAT


def test_two_providers_sharing_the_default_location(keys):
    jwks = keys.jwks_json()
    config = jwt_filter_config(provider(ISS, jwks), provider(ISS2, jwks))
    check = JwtAuthn(config, now=NOW).check
    second = check(Request(headers=bearer(token(keys, ISS2))))
    assert isinstance(second, Pass) and second.metadata["payload"]["iss"] == ISS2
    assert isinstance(check(Request(headers=bearer(token(keys, ISS)))), Pass)
    assert isinstance(check(Request()), Pass)
    assert check(Request(headers=bearer(token(keys, ISS3)))).body == "Jwt issuer is not configured"
    assert check(Request(headers=bearer(token(keys, ISS2, lifetime=-600)))).body == "Jwt is expired"
    # Without the outer OR, origins-0 reads the ISS2 token too and reports a wrong issuer (3.3).
    and_only = jwt_filter_config(provider(ISS, jwks), provider(ISS2, jwks),
                                 requirement=istiod_requirement(2).requires_any.requirements[2])
    assert JwtAuthn(and_only, now=NOW).check(Request(headers=bearer(token(keys, ISS2)))).body == "Jwt issuer is not configured"


def test_the_or_stops_at_the_first_provider_that_accepts(keys):
    """Providers in their own headers: origins-0 accepting its token ends requires_any, so a bad
    token for origins-1 is never looked at; without origins-0's token it is, and fails."""
    jwks = keys.jwks_json()
    config = jwt_filter_config(provider(ISS, jwks, from_headers=[jwt_pb2.JwtHeader(name="x-a")]),
                               provider(ISS2, jwks, from_headers=[jwt_pb2.JwtHeader(name="x-b")]))
    check = JwtAuthn(config, now=NOW).check
    expired_b = token(keys, ISS2, lifetime=-600)
    first = check(Request(headers={"x-a": token(keys, ISS), "x-b": expired_b}))
    assert isinstance(first, Pass) and first.metadata["payload"]["iss"] == ISS
    assert first.headers_after["x-b"] == expired_b
    assert check(Request(headers={"x-b": expired_b})).body == "Jwt is expired"
    assert check(Request(headers={"x-b": token(keys, ISS2)})).metadata["payload"]["iss"] == ISS2


def test_token_locations(keys):
    jwks, tok = keys.jwks_json(), token(keys)
    custom = JwtAuthn(jwt_filter_config(provider(ISS, jwks, from_headers=[jwt_pb2.JwtHeader(name="x-jwt-assertion")],
                                                 from_params=["token"], from_cookies=["session"])), now=NOW).check
    assert "payload" in custom(Request(headers={"x-jwt-assertion": tok})).metadata
    assert "payload" in custom(Request(query={"token": tok})).metadata
    assert "payload" in custom(Request(cookies={"other": "1", "session": tok})).metadata
    assert custom(Request(headers=bearer(tok))).metadata == {}, "a configured location turns the default header off"
    assert custom(Request(query={"access_token": tok})).metadata == {}, "... and the default parameter"
    assert custom(Request(headers={"x-jwt-assertion": "junk"})).status == 401
    default = JwtAuthn(jwt_filter_config(provider(ISS, jwks)), now=NOW).check
    assert "payload" in default(Request(query={"access_token": tok})).metadata
    both = default(Request(headers=bearer(tok), query={"access_token": token(keys, ISS, lifetime=-600)}))
    assert both.body == "Jwt is expired", "every token found must verify"
    repeated = Request(headers={"authorization": [f"Bearer {tok}", f"Bearer {token(keys, ISS, lifetime=-600)}"]})
    assert default(repeated).body == "Jwt is expired", "fact 3.6: each repeated header gives a token"
    joined = JwtAuthn(jwt_filter_config(provider(ISS, jwks)), now=NOW, repeated_headers="joined").check(repeated)
    assert "payload" in joined.metadata, "current Envoy: values joined with ',', the first token only"


def test_forwarded_payload_claim_headers_and_spoofed_headers(keys):
    p = provider(ISS, keys.jwks_json(), forward_payload_header="x-jwt-payload", claim_to_headers=[
        jwt_pb2.JwtClaimToHeader(header_name="x-sub", claim_name="sub"),
        jwt_pb2.JwtClaimToHeader(header_name="x-team", claim_name="org.team"),
        jwt_pb2.JwtClaimToHeader(header_name="x-level", claim_name="level"),
        jwt_pb2.JwtClaimToHeader(header_name="x-admin", claim_name="admin"),
        jwt_pb2.JwtClaimToHeader(header_name="x-groups", claim_name="groups")])
    check = JwtAuthn(jwt_filter_config(p), now=NOW).check
    tok = token(keys, sub="alice", org={"team": "blue"}, level=42, admin=True, groups=["a"])
    spoofed = {"x-jwt-payload": "forged", "x-sub": "root", "x-groups": "evil"}
    after = check(Request(headers={**bearer(tok), **spoofed})).headers_after
    assert after["x-jwt-payload"] == tok.split(".")[1] and "=" not in after["x-jwt-payload"]
    assert (after["x-sub"], after["x-team"], after["x-level"], after["x-admin"]) == ("alice", "blue", "42", "true")
    assert "x-groups" not in after, "lists are not copied, and the spoofed value is gone"
    no_token = check(Request(headers=spoofed)).headers_after
    assert not set(spoofed) & set(no_token), "spoofed headers are removed with no token too"
    kept = JwtAuthn(jwt_filter_config(provider(ISS, keys.jwks_json(), forward=True)), now=NOW).check(Request(headers=bearer(tok)))
    assert kept.headers_after["authorization"] == f"Bearer {tok}"


def test_cors_preflight_skips_verification(keys):
    config = jwt_filter_config(provider(ISS, keys.jwks_json()))
    preflight = Request(method="OPTIONS", headers={"origin": "https://app", "access-control-request-method": "GET",
                                                   **bearer(token(keys, ISS3))})
    assert isinstance(JwtAuthn(config, now=NOW).check(preflight), Pass)
    config.bypass_cors_preflight = False
    assert JwtAuthn(config, now=NOW).check(preflight).status == 401
    not_preflight = Request(method="OPTIONS", headers=bearer(token(keys, ISS3)))
    config.bypass_cors_preflight = True
    assert JwtAuthn(config, now=NOW).check(not_preflight).status == 401, "OPTIONS without Origin is verified"


def test_unmodelled_config_is_refused(keys):
    with pytest.raises(Unsupported):
        JwtAuthn(jwt_filter_config(provider(ISS, keys.jwks_json(), require_expiration=True)))
    policy = rbac_pb2.RBAC(policies={"p": rbac_pb2.Policy(permissions=[any_permission()], principals=[rbac_pb2.Principal(any=True)])})
    policy.policies["p"].condition.const_expr.bool_value = True
    with pytest.raises(Unsupported):
        RBACSim(policy).allowed(Request())


# ------------------------------------------------------------------------------ RBAC

def _header(name: str, **match) -> route_pb2.HeaderMatcher:
    return route_pb2.HeaderMatcher(name=name, string_match=string_pb2.StringMatcher(**match))


def test_rbac_matchers_for_what_istiod_emits():
    spiffe = "spiffe://cluster.local/ns/default/sa/sleep"
    perm = rbac_pb2.Permission
    permissions = [perm(and_rules=perm.Set(rules=[
        perm(header=_header(":authority", exact="WEB.default.svc.cluster.local", ignore_case=True)),
        perm(or_rules=perm.Set(rules=[perm(header=_header(":method", exact="GET")), perm(header=_header(":method", exact="HEAD"))])),
        perm(url_path={"path": string_pb2.StringMatcher(prefix="/api/")}),
        perm(not_rule=perm(url_path={"path": string_pb2.StringMatcher(suffix="/secret")})),
        perm(destination_port=8080)]))]
    principals = [and_ids(
        rbac_pb2.Principal(authenticated=rbac_pb2.Principal.Authenticated(principal_name=string_pb2.StringMatcher(exact=spiffe))),
        rbac_pb2.Principal(direct_remote_ip=address_pb2.CidrRange(address_prefix="10.0.0.0", prefix_len={"value": 8})))]
    engine = RBACSim(rbac("ALLOW", {"p": (permissions, principals)}))
    peer = Peer.spiffe(spiffe, source_ip="10.1.2.3")
    assert engine.allowed(Request(path="/api/x?q=/secret"), peer), "url_path ignores the query"
    assert not engine.allowed(Request(path="/api/secret"), peer)
    assert not engine.allowed(Request(method="POST", path="/api/x"), peer)
    assert not engine.allowed(Request(path="/api/x"), Peer.spiffe(spiffe, source_ip="192.168.0.1"))
    assert not engine.allowed(Request(path="/api/x"), Peer(source_ip="10.1.2.3")), "no peer certificate"
    assert not engine.allowed(Request(path="/api/x"), Peer.spiffe(spiffe, source_ip="10.1.2.3", destination_port=9000))
    assert not engine.allowed(Request(path="/api/x", authority="other"), peer)
    mtls = RBACSim(rbac("ALLOW", {"p": ([perm(any=True)], [rbac_pb2.Principal(authenticated={})])}))
    assert mtls.allowed(Request(), Peer.spiffe(spiffe)), "authenticated {}: any peer certificate"
    assert not mtls.allowed(Request(), Peer()), "authenticated {}: but there must be one"
    deny = RBACSim(rbac("DENY", {"p": ([perm(any=True)], [rbac_pb2.Principal(header=route_pb2.HeaderMatcher(
        name="x-user", present_match=True))])}))
    assert deny.allowed(Request()) and not deny.allowed(Request(headers={"x-user": "a"}))
    log = rbac("LOG", {"p": ([perm(any=True)], [rbac_pb2.Principal(any=True)])})
    outcome = run_http_chain([http_filter("envoy.filters.http.rbac.audit", http_rbac_pb2.RBAC(rules=log))], Request())
    assert outcome.status == 200 and outcome.metadata["envoy.common"] == {"access_log_hint": True}


def test_metadata_matcher_missing_path_and_invert():
    matcher = metadata_pb2.MetadataMatcher(filter=JWT_AUTHN, path=[metadata_pb2.MetadataMatcher.PathSegment(key="payload"),
                                                                   metadata_pb2.MetadataMatcher.PathSegment(key="sub")],
                                           value=value_pb2.ValueMatcher(string_match=regex(".+")))
    engine = lambda m: RBACSim(rbac("ALLOW", {"p": ([any_permission()], [rbac_pb2.Principal(metadata=m)])}))  # noqa: E731
    assert not engine(matcher).allowed(Request(), metadata={})
    assert engine(matcher).allowed(Request(), metadata={JWT_AUTHN: {"payload": {"sub": "a"}}})
    assert not engine(matcher).allowed(Request(), metadata={JWT_AUTHN: {"payload": {"sub": 7}}})
    matcher.invert = True
    assert engine(matcher).allowed(Request(), metadata={}), "invert: a missing path matches"
    present = metadata_pb2.MetadataMatcher(filter=JWT_AUTHN, path=matcher.path, value=value_pb2.ValueMatcher(present_match=True))
    assert engine(present).allowed(Request(), metadata={JWT_AUTHN: {"payload": {"sub": None}}})
    assert not engine(present).allowed(Request(), metadata={JWT_AUTHN: {"payload": {}}})
    not_claim = rbac("ALLOW", {"p": ([any_permission()], [rbac_pb2.Principal(not_id=claim_values("groups", "admin"))])})
    assert RBACSim(not_claim).allowed(Request(), metadata={}), "notValues: no claim matches the not_id"


# ------------------------------------------------------------------------------ CUSTOM pairs

PROVIDER = "acme"


def cluster_of(provider_name: str) -> str:
    return f"outbound|9000||{provider_name}.default.svc.cluster.local"


CLUSTER = cluster_of(PROVIDER)


def custom_pair(paths: list[str], provider_name: str = PROVIDER, **ext_authz_fields) -> list:
    """Fact 5.3: shadow DENY RBAC of the provider's rules + ext_authz enabled by their policy id."""
    policies = {f"istio-ext-authz-{provider_name}-ns[default]-policy[ext]-rule[{i}]": (
        [rbac_pb2.Permission(url_path={"path": string_pb2.StringMatcher(prefix=p)})], [rbac_pb2.Principal(any=True)])
        for i, p in enumerate(paths)}
    shadow = http_rbac_pb2.RBAC(shadow_rules=rbac("DENY", policies), shadow_rules_stat_prefix="istio_ext_authz_")
    ext_authz = ext_authz_pb2.ExtAuthz(
        http_service=ext_authz_pb2.HttpService(server_uri={"uri": f"http://{provider_name}.default.svc.cluster.local",
                                                           "cluster": cluster_of(provider_name), "timeout": {"seconds": 600}}),
        transport_api_version=config_source_pb2.V3,
        filter_enabled_metadata=metadata_pb2.MetadataMatcher(
            filter="envoy.filters.http.rbac",
            path=[metadata_pb2.MetadataMatcher.PathSegment(key="istio_ext_authz_shadow_effective_policy_id")],
            value=value_pb2.ValueMatcher(string_match=string_pb2.StringMatcher(prefix=f"istio-ext-authz-{provider_name}"))),
        **ext_authz_fields)
    return [http_filter("envoy.filters.http.rbac", shadow), http_filter("envoy.filters.http.ext_authz", ext_authz)]


def test_ext_authz_is_called_exactly_for_what_the_custom_rules_match(keys):
    seen = []

    def authorizer(cluster, headers):
        seen.append((cluster, headers.get("authorization")))
        return AuthzDecision.deny(401, "no way") if headers.get(":path") == "/admin/deny" else AuthzDecision.allow({"x-authz": "ok"})

    filters = chain(jwt_filter_config(provider(ISS, keys.jwks_json())), pairs=custom_pair(["/admin"]))
    raw = f"Bearer {token(keys, ISS3)}"  # a token jwt_authn would refuse
    denied = run_http_chain(filters, Request(path="/admin/deny", headers={"authorization": raw}), authorizer=authorizer, now=NOW)
    assert (denied.status, denied.body, denied.decided_by) == (401, "no way", "envoy.filters.http.ext_authz")
    assert f"ext_authz called with cluster {CLUSTER}" in denied.trace
    assert seen == [(CLUSTER, raw)], "ext_authz runs before jwt_authn and sees the raw token"
    assert not any("jwt_authn" in line for line in denied.trace), "a CUSTOM deny never reaches jwt_authn"
    allowed = run_http_chain(filters, Request(path="/admin/x", headers=bearer(token(keys))), authorizer=authorizer, now=NOW)
    assert allowed.status == 200 and allowed.request_headers["x-authz"] == "ok"
    assert allowed.metadata["envoy.filters.http.rbac"]["istio_ext_authz_shadow_engine_result"] == "denied"
    seen.clear()
    public = run_http_chain(filters, Request(path="/public"), authorizer=authorizer, now=NOW)
    assert public.status == 200 and seen == [] and "ext_authz skipped (filter_enabled_metadata did not match)" in public.trace
    assert "istio_ext_authz_shadow_effective_policy_id" not in public.metadata["envoy.filters.http.rbac"]


def test_ext_authz_errors_and_another_providers_policy():
    unreachable = run_http_chain(chain(pairs=custom_pair(["/"])), Request(), authorizer=lambda c, h: 503)
    assert (unreachable.status, unreachable.decided_by) == (403, "envoy.filters.http.ext_authz"), "status_on_error defaults to 403"
    custom_status = custom_pair(["/"], status_on_error=http_status_pb2.HttpStatus(code=http_status_pb2.ServiceUnavailable))
    assert run_http_chain(chain(pairs=custom_status), Request(), authorizer=lambda c, h: AuthzDecision.error()).status == 503
    fail_open = custom_pair(["/"], failure_mode_allow=True)
    assert run_http_chain(chain(pairs=fail_open), Request(), authorizer=lambda c, h: 500).status == 200
    # Two pairs (sorted by provider): each authorizer is called only for its own provider's rules,
    # although the later pair sees the earlier pair's policy id in the merged metadata.
    pairs = custom_pair(["/y"]) + custom_pair(["/x"], provider_name="zeta")
    for path, expected in (("/x", [cluster_of("zeta")]), ("/y", [CLUSTER]), ("/z", [])):
        calls = []
        outcome = run_http_chain(chain(pairs=pairs), Request(path=path), authorizer=lambda c, h: calls.append(c) or True)
        assert calls == expected, path
    ids = outcome.metadata["envoy.filters.http.rbac"]
    y = run_http_chain(chain(pairs=pairs), Request(path="/y"), authorizer=lambda c, h: True).metadata["envoy.filters.http.rbac"]
    assert "istio_ext_authz_shadow_effective_policy_id" not in ids
    assert y["istio_ext_authz_shadow_effective_policy_id"].startswith("istio-ext-authz-acme-"), \
        "zeta's shadow engine matched nothing: the metadata is merged, acme's policy id stays"


def test_shadow_effective_policy_is_the_first_match_in_name_order():
    both = rbac("DENY", {name: ([rbac_pb2.Permission(any=True)], [rbac_pb2.Principal(any=True)])
                         for name in ("istio-ext-authz-b-rule", "istio-ext-authz-a-rule", "istio-ext-authz-c-rule")})
    assert RBACSim(both).effective_policy_id(Request()) == "istio-ext-authz-a-rule"
    assert RBACSim(both).decide(Request()).allowed is False
