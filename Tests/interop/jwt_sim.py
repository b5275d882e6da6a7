"""Envoy's `jwt_authn` filter and an inbound HTTP filter chain at request time, simulated over
the decoded xds-protos messages meshd sends (no Envoy binary runs here).

`JwtAuthn(JwtAuthentication)` answers one request with `Reject(status, body, headers)` or
`Pass(metadata, headers_after)`, as Envoy's filter (extractor.cc, verifier.cc, authenticator.cc)
and jwt_verify_lib do, following docs/research/istio-end-user-auth-facts.md 3.2, 3.3, 3.6, 3.7:

- token locations: `from_headers` (the value prefix is looked for anywhere in the value; a value
  without it counts as no token; after it, characters that cannot be in a JWT are skipped and
  the token ends at the first one), `from_params` (first value, URL-decoded), `from_cookies`;
  a provider with none of the three uses `Authorization: Bearer ` and `access_token`. Locations
  are read headers first, then parameters, then cookies, and tokens are checked last-first;
- the requirement of the first `rules[]` entry whose RouteMatch matches (none: no check):
  provider_name, provider_and_audiences, requires_any (stops at the first child that passes;
  otherwise the chosen status prefers any error but "missing"/"unknown issuer", then "unknown
  issuer"; `allow_missing` turns only "missing" into OK), requires_all (stops at the first
  failure), allow_missing / allow_missing_or_failed on their own (all providers' locations,
  provider found by `iss`); children run in order on the same headers;
- per token, in Envoy's order: parse (jwt_verify_lib's status strings), issuer allowed for the
  location ("Jwt issuer is not configured"), nbf / exp with `clock_skew_seconds` (default 60),
  audiences (none configured: no check; a mismatch is 403 "Audiences in Jwt are not allowed"),
  the signature against `local_jwks` with PyJWT's `PyJWK` (a key is tried when its kid matches
  or either has no kid, and its alg is unset or equal);
- a provider's verifier first removes its `forward_payload_header` / `claim_to_headers` headers
  from the request (anti-spoofing); on success it adds them (payload base64url, unpadded unless
  `pad_forward_payload_header`; claims that are strings, numbers or booleans, `a.b` for nested
  ones), removes the token's header unless `forward`, and records `{payload_in_metadata: claims}`
  with `normalize_payload_in_metadata.space_delimited_claims` split into lists;
- a failure is 401 (403 for audiences) with the status string as body and `www-authenticate:
  Bearer realm="<uri>"` (+ `, error="invalid_token"` unless the token was missing); a CORS
  preflight skips everything when `bypass_cors_preflight`.

`run_http_chain(http_filters, request, peer)` runs an HCM's filters in order: jwt_authn, the RBAC
filters (rbac_sim.RbacFilter: shadow metadata, enforced 403 "RBAC: access denied"), ext_authz
(enabled only when `filter_enabled_metadata` matches the metadata so far; the authorizer is a
callback; facts 5.3 and 5.8), the router (200); other filters pass the request on unchanged.

Limits: repeated `from_headers` headers each give a token as the fact sheet says; current
Envoy joins them with "," first and takes one token (`repeated_headers="joined"`). claim_to_headers
skips lists and objects (the fact sheet; newer Envoy sends them base64-encoded JSON). Remote
JWKS only through a `fetch_jwks(uri) -> text | None` callback, cached per JwtAuthn. No JWT
cache, no async fetch, no `subjects`, `require_expiration`, `max_lifetime`,
`failed_status_in_metadata`, `strip_failure_response`, `filter_state_rules`: those raise
rbac_sim.Unsupported. Timing, body buffering, route-level per-filter config are not modelled.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import jwt as pyjwt
from jwt.algorithms import get_default_algorithms

from envoy.extensions.filters.http.ext_authz.v3 import ext_authz_pb2
from envoy.extensions.filters.http.jwt_authn.v3 import config_pb2
from envoy.extensions.filters.http.rbac.v3 import rbac_pb2 as http_rbac_pb2
from rbac_sim import (RBAC_DENIED_BODY, HeaderMap, Peer, RBACSim, RbacFilter, Request, Unsupported,  # noqa: F401
                      as_header_map, header_match, metadata_match, strip_query, type_name, unpack_any)

JWT_AUTHN = "envoy.filters.http.jwt_authn"  # filter name and dynamic metadata namespace
ROUTER_TYPE = "envoy.extensions.filters.http.router.v3.Router"
DEFAULT_CLOCK_SKEW = 60
MAX_REALM_PATH = 256


class Status:
    """jwt_verify_lib's status strings: the body of a 401/403."""
    OK = "OK"
    MISSING = "Jwt is missing"
    NOT_YET_VALID = "Jwt not yet valid"
    EXPIRED = "Jwt is expired"
    BAD_FORMAT = "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"
    HEADER_BAD_BASE64 = "Jwt header is an invalid Base64url encoded"
    HEADER_BAD_JSON = "Jwt header is an invalid JSON"
    HEADER_BAD_ALG = "Jwt header [alg] field is required and must be a string"
    HEADER_NOT_IMPLEMENTED_ALG = "Jwt header [alg] is not supported"
    HEADER_BAD_KID = "Jwt header [kid] field is not a string"
    PAYLOAD_BAD_BASE64 = "Jwt payload is an invalid Base64url encoded"
    PAYLOAD_BAD_JSON = "Jwt payload is an invalid JSON"
    SIGNATURE_BAD_BASE64 = "Jwt signature is an invalid Base64url encoded"
    AUD_NOT_STRING = "Jwt payload [aud] field is not a string or string list"
    UNKNOWN_ISSUER = "Jwt issuer is not configured"
    AUDIENCE_NOT_ALLOWED = "Audiences in Jwt are not allowed"
    VERIFICATION_FAIL = "Jwt verification fails"
    KID_ALG_MISMATCH = "Jwks doesn't have key to match kid or alg from Jwt"
    JWKS_NO_VALID_KEYS = "Jwks doesn't have any valid public key"
    JWKS_FETCH_FAIL = "Jwks remote fetch is failed"


IMPLEMENTED_ALGS = {"ES256", "ES384", "ES512", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
                    "PS256", "PS384", "PS512", "EdDSA"}
_JWT_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


class ConfigError(ValueError):
    """A config Envoy itself would refuse."""


@dataclass(frozen=True)
class Reject:
    status: int
    body: str
    headers: dict = field(default_factory=dict)  # the response headers (www-authenticate)


@dataclass
class Pass:
    metadata: dict  # the envoy.filters.http.jwt_authn metadata: {payload_in_metadata: claims}
    headers_after: dict  # the request headers as the next filter sees them (HeaderMap.to_dict)


# ------------------------------------------------------------------------------ the token

def _b64url(text: str) -> bytes | None:
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text) or len(text.rstrip("=")) % 4 == 1:
        return None
    body = text.rstrip("=")
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return None


def _json_object(data: bytes) -> dict | None:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


@dataclass
class Jwt:
    header: dict
    payload: dict
    header_b64: str
    payload_b64: str
    signature: bytes
    alg: str
    kid: str
    iss: str
    nbf: int
    exp: int
    audiences: list

    @property
    def signing_input(self) -> bytes:
        return f"{self.header_b64}.{self.payload_b64}".encode()


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def parse_jwt(token: str) -> tuple[str, Jwt | None]:
    """(Status.OK, Jwt) or (the parse error, None), as jwt_verify_lib's Jwt::parseFromString."""
    parts = [p for p in token.split(".") if p]
    if len(parts) != 3:
        return Status.BAD_FORMAT, None
    raw = _b64url(parts[0])
    if raw is None:
        return Status.HEADER_BAD_BASE64, None
    header = _json_object(raw)
    if header is None:
        return Status.HEADER_BAD_JSON, None
    alg = header.get("alg")
    if not isinstance(alg, str):
        return Status.HEADER_BAD_ALG, None
    if alg not in IMPLEMENTED_ALGS:
        return Status.HEADER_NOT_IMPLEMENTED_ALG, None
    if not isinstance(header.get("kid", ""), str):
        return Status.HEADER_BAD_KID, None
    raw = _b64url(parts[1])
    if raw is None:
        return Status.PAYLOAD_BAD_BASE64, None
    payload = _json_object(raw)
    if payload is None:
        return Status.PAYLOAD_BAD_JSON, None
    for claim in ("iss", "sub"):
        if not isinstance(payload.get(claim, ""), str):
            return f"Jwt payload [{claim}] field is not a string", None
    times = {}
    for claim in ("iat", "nbf", "exp"):
        value = payload.get(claim, 0)
        if not _is_number(value):
            return f"Jwt payload [{claim}] field is not an integer", None
        if value < 0 or value >= 2 ** 64:
            return f"Jwt payload [{claim}] field is not a positive 64 bit integer", None
        times[claim] = int(value)
    if not isinstance(payload.get("jti", ""), str):
        return "Jwt payload [jti] field is not a string", None
    aud = payload.get("aud", [])
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        return Status.AUD_NOT_STRING, None
    signature = _b64url(parts[2])
    if signature is None:
        return Status.SIGNATURE_BAD_BASE64, None
    return Status.OK, Jwt(header, payload, parts[0], parts[1], signature, alg, header.get("kid", ""),
                          payload.get("iss", ""), times["nbf"], times["exp"], audiences)


@dataclass
class Key:
    kid: str  # "" when the JWK has none
    alg: str  # "" when the JWK has none
    kty: str
    key: object  # what PyJWK made of it


def load_jwks(text: str) -> list[Key] | None:
    """The usable keys of a JWKS document (each through PyJWT's PyJWK), None if there are none."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        return None
    keys = []
    for raw in doc["keys"]:
        if not isinstance(raw, dict):
            continue
        try:
            jwk = pyjwt.PyJWK(raw)
        except Exception:  # noqa: BLE001 - an unusable key is skipped, as PyJWKSet and Envoy do
            continue
        kid, alg = raw.get("kid", ""), raw.get("alg", "")
        keys.append(Key(kid if isinstance(kid, str) else "", alg if isinstance(alg, str) else "", raw["kty"], jwk.key))
    return keys or None


def _signature_ok(token: Jwt, key: Key) -> bool:
    alg = token.alg
    if key.kty == "EC":  # jwt_verify_lib: ECDSA, the digest picked by alg (SHA-256 by default)
        alg = alg if alg in ("ES384", "ES512") else "ES256"
    elif not alg.startswith({"RSA": ("RS", "PS"), "oct": ("HS",), "OKP": ("EdDSA",)}.get(key.kty, ("-",))):
        return False
    try:
        return bool(get_default_algorithms()[alg].verify(token.signing_input, key.key, token.signature))
    except Exception:  # noqa: BLE001 - a wrong key type or signature length is a failed check
        return False


def verify_signature(token: Jwt, keys: list[Key]) -> str:
    """jwt_verify_lib's verifyJwtWithoutTimeChecking."""
    matched = False
    for key in keys:
        if token.kid and key.kid and key.kid != token.kid:
            continue
        if key.alg and key.alg != token.alg:
            continue
        matched = True
        if _signature_ok(token, key):
            return Status.OK
    return Status.VERIFICATION_FAIL if matched else Status.KID_ALG_MISMATCH


def _sanitize_audience(aud: str) -> str:
    start = 7 if aud.startswith("http://") else 8 if aud.startswith("https://") else 0
    end = len(aud) - 1 if aud.endswith("/") else len(aud)
    return aud[start:end]


def audiences_allowed(configured, token_audiences) -> bool:
    allowed = {_sanitize_audience(a) for a in configured}
    return not allowed or any(_sanitize_audience(a) in allowed for a in token_audiences)


# ------------------------------------------------------------------------------ extraction

class _Issuers:
    def __init__(self):
        self.all, self.names = False, set()

    def add(self, issuer: str) -> None:
        if issuer:
            self.names.add(issuer)
        else:
            self.all = True  # a provider without issuer accepts any

    def allows(self, issuer: str) -> bool:
        return self.all or issuer in self.names


@dataclass
class _Token:
    value: str
    issuers: _Issuers
    header: str | None  # the header it came from (removed on success unless `forward`)


def _after_prefix(value: str, start: int) -> str:
    """Envoy's extractJWT: skip non-JWT characters, stop at the first one after the token."""
    begin = next((i for i in range(start, len(value)) if value[i] in _JWT_CHARS), None)
    if begin is None:
        return value  # nothing usable: the whole value, as Envoy does
    end = next((i for i in range(begin, len(value)) if value[i] not in _JWT_CHARS), len(value))
    return value[begin:end]


def query_params(path: str) -> dict[str, str]:
    """URL-decoded query parameters of :path, the first value of each name."""
    query = path.split("?", 1)[1].split("#", 1)[0] if "?" in path else ""
    params: dict[str, str] = {}
    for part in filter(None, query.split("&")):
        name, _, value = part.partition("=")
        params.setdefault(urllib.parse.unquote(name), urllib.parse.unquote(value))
    return params


def cookies(headers: HeaderMap) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in headers.get_all("cookie"):
        for item in line.split(";"):
            name, sep, value = item.strip().partition("=")
            if sep:
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1]
                found.setdefault(name, value)
    return found


class Extractor:
    """Where the given providers look for tokens (Envoy keeps each kind in a sorted map)."""

    def __init__(self, providers):
        self.headers: dict[str, tuple[str, str, _Issuers]] = {}
        self.params: dict[str, _Issuers] = {}
        self.cookies: dict[str, _Issuers] = {}
        self.sanitize: list[str] = []
        for p in providers:
            locations = [(h.name.lower(), h.value_prefix) for h in p.from_headers]
            if not (p.from_headers or p.from_params or p.from_cookies):
                locations = [("authorization", "Bearer ")]
            for name, prefix in locations:
                self.headers.setdefault(name + prefix, (name, prefix, _Issuers()))[2].add(p.issuer)
            params = list(p.from_params) if (p.from_headers or p.from_params or p.from_cookies) else ["access_token"]
            for name in params:
                self.params.setdefault(name, _Issuers()).add(p.issuer)
            for name in p.from_cookies:
                self.cookies.setdefault(name, _Issuers()).add(p.issuer)
            if p.forward_payload_header:
                self.sanitize.append(p.forward_payload_header)
            self.sanitize += [c.header_name for c in p.claim_to_headers]

    def extract(self, headers: HeaderMap, joined: bool = False) -> list[_Token]:
        tokens = []
        for key in sorted(self.headers):
            name, prefix, issuers = self.headers[key]
            values = [headers.joined(name)] if joined else headers.get_all(name)
            for value in filter(lambda v: v is not None, values):
                if prefix:
                    at = value.find(prefix)
                    if at < 0:
                        continue  # no prefix anywhere: not a token ("Basic ..." is missing)
                    value = _after_prefix(value, at + len(prefix))
                tokens.append(_Token(value, issuers, name))
        path = headers.get(":path")
        if self.params and path is not None:
            params = query_params(path)
            tokens += [_Token(params[n], self.params[n], None) for n in sorted(self.params) if n in params]
        if self.cookies:
            found = cookies(headers)
            tokens += [_Token(found[n], self.cookies[n], None) for n in sorted(self.cookies) if n in found]
        return tokens

    def remove_spoofed(self, headers: HeaderMap) -> None:
        for name in self.sanitize:
            headers.remove(name)


# ------------------------------------------------------------------------------ the filter

def route_match(m, headers: HeaderMap) -> bool:
    """envoy.config.route.v3.RouteMatch (the path kinds and `headers`) against a request."""
    for unsupported in ("runtime_fraction", "grpc", "tls_context"):
        if m.HasField(unsupported):
            raise Unsupported(f"RouteMatch.{unsupported}")
    if m.query_parameters or m.dynamic_metadata or m.filter_state:
        raise Unsupported("RouteMatch query_parameters / dynamic_metadata / filter_state")
    path = strip_query(headers.get(":path") or "")
    kind = m.WhichOneof("path_specifier")
    sensitive = m.case_sensitive.value if m.HasField("case_sensitive") else True
    fold = (lambda s: s) if sensitive else str.lower
    if kind == "prefix":
        ok = fold(path).startswith(fold(m.prefix))
    elif kind == "path":
        ok = fold(path) == fold(m.path)
    elif kind == "safe_regex":
        ok = re.fullmatch(m.safe_regex.regex, path) is not None
    elif kind == "path_separated_prefix":
        ok = fold(path) == fold(m.path_separated_prefix) or fold(path).startswith(fold(m.path_separated_prefix) + "/")
    else:
        raise Unsupported(f"RouteMatch {kind}")
    return ok and all(header_match(h, headers) for h in m.headers)


def _claim_header(payload: dict, claim_name: str) -> str:
    value = payload
    for key in claim_name.split("."):
        if not isinstance(value, dict) or key not in value:
            return ""
        value = value[key]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if _is_number(value):
        whole = 0 <= value < 2 ** 64 and value == int(value)
        return str(int(value)) if whole else "%f" % value
    return ""  # lists and objects: not copied (fact 3.6)


def _payload_metadata(payload: dict, provider) -> dict:
    out = dict(payload)
    for claim in provider.normalize_payload_in_metadata.space_delimited_claims:
        value = payload.get(claim)
        parts = [p for p in value.split(" ") if p] if isinstance(value, str) else []
        if parts:
            if not isinstance(out[claim], list):
                out[claim] = []
            out[claim] = out[claim] + parts
    return out


@dataclass
class _Ctx:
    headers: HeaderMap
    now: int
    extracted: dict


class JwtAuthn:
    """envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication at request time.

    now: a fixed clock (unix seconds) instead of time.time(); fetch_jwks(uri) -> text or None
    serves `remote_jwks`; repeated_headers: "each" (fact sheet) or "joined" (current Envoy)."""

    def __init__(self, config: config_pb2.JwtAuthentication, *, now: float | None = None,
                 fetch_jwks: Callable[[str], str | None] | None = None, repeated_headers: str = "each"):
        if config.HasField("filter_state_rules") or config.strip_failure_response:
            raise Unsupported("filter_state_rules / strip_failure_response")
        self.config = config
        self.providers = {name: config.providers[name] for name in sorted(config.providers)}
        for name, p in self.providers.items():
            if p.HasField("subjects") or p.require_expiration or p.HasField("max_lifetime") or p.failed_status_in_metadata:
                raise Unsupported(f"provider {name}: subjects / require_expiration / max_lifetime / failed_status_in_metadata")
            if p.HasField("remote_jwks") and fetch_jwks is None:
                raise Unsupported(f"provider {name}: remote_jwks needs fetch_jwks")
        for rule in config.rules:
            self._check_requirement(rule.requires)
        for requirement in config.requirement_map.values():
            self._check_requirement(requirement)
        self.now, self.fetch_jwks = now, fetch_jwks
        self.joined = {"each": False, "joined": True}[repeated_headers]
        self._extractors = {name: Extractor([p]) for name, p in self.providers.items()}
        self._all = Extractor(list(self.providers.values()))
        self._keys: dict[str, list[Key] | str] = {}

    def _check_requirement(self, r) -> None:
        kind = r.WhichOneof("requires_type")
        name = r.provider_name if kind == "provider_name" else r.provider_and_audiences.provider_name
        if kind in ("provider_name", "provider_and_audiences") and name not in self.providers:
            raise ConfigError(f"Required provider ['{name}'] is not configured.")
        for child in (r.requires_any.requirements if kind == "requires_any" else
                      r.requires_all.requirements if kind == "requires_all" else []):
            self._check_requirement(child)

    # ---- the request
    def check(self, request: "Request | HeaderMap", now: float | None = None) -> Reject | Pass:
        """The filter's answer; the caller's request is not changed."""
        return self.run(as_header_map(request).copy(), now)

    __call__ = check

    def run(self, headers: HeaderMap, now: float | None = None) -> Reject | Pass:
        """Like check, but changes `headers` in place as the filter does (for a chain)."""
        clock = now if now is not None else self.now if self.now is not None else time.time()
        if self.config.bypass_cors_preflight and headers.get(":method") == "OPTIONS" \
                and headers.get("origin") and headers.get("access-control-request-method"):
            return Pass({}, headers.to_dict())
        requirement = self._requirement_for(headers)
        if requirement is None:
            return Pass({}, headers.to_dict())
        ctx = _Ctx(headers, int(clock), {})
        status = self._verify(requirement, ctx)
        if status == Status.OK:
            return Pass(ctx.extracted, headers.to_dict())
        scheme = headers.get("x-forwarded-proto") or headers.get(":scheme") or ""
        path = (headers.get("x-envoy-original-path") or headers.get(":path") or "")[:MAX_REALM_PATH]
        realm = f'Bearer realm="{scheme}://{headers.get(":authority") or ""}{path}"'
        if status != Status.MISSING:
            realm += ', error="invalid_token"'
        return Reject(403 if status == Status.AUDIENCE_NOT_ALLOWED else 401, status, {"www-authenticate": realm})

    def _requirement_for(self, headers: HeaderMap):
        for rule in self.config.rules:
            if route_match(rule.match, headers):
                if rule.WhichOneof("requirement_type") == "requirement_name":
                    return self.config.requirement_map[rule.requirement_name]
                return rule.requires  # unset: a requirement that allows everything
        return None

    # ---- the requirement tree (verifier.cc)
    def _verify(self, r, ctx: _Ctx) -> str:
        kind = r.WhichOneof("requires_type")
        if kind == "provider_name":
            return self._provider(r.provider_name, None, ctx)
        if kind == "provider_and_audiences":
            pa = r.provider_and_audiences
            return self._provider(pa.provider_name, list(pa.audiences) or None, ctx)
        if kind == "requires_any":
            return self._any(r.requires_any.requirements, ctx)
        if kind == "requires_all":
            for child in r.requires_all.requirements:
                status = self._verify(child, ctx)
                if status != Status.OK:
                    return status
            return Status.OK
        if kind == "allow_missing_or_failed":
            return self._authenticate(self._all, None, None, ctx, allow_failed=True)
        if kind == "allow_missing":
            return self._authenticate(self._all, None, None, ctx, allow_missing=True)
        return Status.OK  # no requirement

    def _any(self, requirements, ctx: _Ctx) -> str:
        flags = {r.WhichOneof("requires_type") for r in requirements}
        children = [r for r in requirements if r.WhichOneof("requires_type") not in ("allow_missing", "allow_missing_or_failed")]
        if not children:  # only the flag(s): it verifies as that requirement alone
            kind = "allow_missing_or_failed" if "allow_missing_or_failed" in flags else "allow_missing"
            children = [config_pb2.JwtRequirement(**{kind: {}})]
        statuses = []
        for child in children:
            status = self._verify(child, ctx)
            if status == Status.OK:
                return Status.OK
            statuses.append(status)
        final = Status.MISSING
        for status in statuses:  # prefer real errors, then "unknown issuer", then "missing"
            if status not in (Status.MISSING, Status.UNKNOWN_ISSUER) or final == Status.MISSING:
                final = status
        if "allow_missing_or_failed" in flags or ("allow_missing" in flags and final == Status.MISSING):
            return Status.OK
        return final

    def _provider(self, name: str, audiences, ctx: _Ctx) -> str:
        return self._authenticate(self._extractors[name], name, audiences, ctx)

    # ---- one authenticator (authenticator.cc)
    def _authenticate(self, extractor: Extractor, provider: str | None, audiences, ctx: _Ctx,
                      allow_failed: bool = False, allow_missing: bool = False) -> str:
        extractor.remove_spoofed(ctx.headers)
        tokens = extractor.extract(ctx.headers, self.joined)
        status = Status.MISSING
        while tokens:  # every token found must verify; the last one found goes first
            status = self._token(tokens.pop(), provider, audiences, ctx)
            if status != Status.OK and not (allow_failed or allow_missing):
                break
        if allow_failed or (allow_missing and status == Status.MISSING):
            return Status.OK
        return status

    def _provider_for_issuer(self, issuer: str) -> str | None:
        return (next((n for n, p in self.providers.items() if p.issuer == issuer), None)
                or next((n for n, p in self.providers.items() if not p.issuer), None))

    def _token(self, token: _Token, provider: str | None, audiences, ctx: _Ctx) -> str:
        status, jwt = parse_jwt(token.value)
        if status != Status.OK:
            return status
        if not token.issuers.allows(jwt.iss):
            return Status.UNKNOWN_ISSUER
        name = provider or self._provider_for_issuer(jwt.iss)
        if name is None:
            return Status.UNKNOWN_ISSUER
        p = self.providers[name]
        skew = p.clock_skew_seconds or DEFAULT_CLOCK_SKEW
        if ctx.now + skew < jwt.nbf:
            return Status.NOT_YET_VALID
        if jwt.exp and ctx.now > jwt.exp + skew:
            return Status.EXPIRED
        if not audiences_allowed(audiences if audiences is not None else p.audiences, jwt.audiences):
            return Status.AUDIENCE_NOT_ALLOWED
        keys = self._keys_of(name)
        status = keys if isinstance(keys, str) else verify_signature(jwt, keys)
        if status == Status.OK:
            self._accept(jwt, token, p, ctx)
        return status

    def _keys_of(self, name: str) -> list[Key] | str:
        if name not in self._keys:
            p = self.providers[name]
            if p.HasField("remote_jwks"):
                text = self.fetch_jwks(p.remote_jwks.http_uri.uri)
                keys = load_jwks(text) if text is not None else None
                if keys is None:
                    return Status.JWKS_FETCH_FAIL  # not cached: the next request fetches again
            else:
                keys = load_jwks(_data_source(p.local_jwks))
            self._keys[name] = keys if keys is not None else Status.JWKS_NO_VALID_KEYS
        return self._keys[name]

    def _accept(self, jwt: Jwt, token: _Token, p, ctx: _Ctx) -> None:
        if p.forward_payload_header:
            padded = jwt.payload_b64 + "=" * (-len(jwt.payload_b64) % 4)
            ctx.headers.add(p.forward_payload_header, padded if p.pad_forward_payload_header else jwt.payload_b64)
        for c in p.claim_to_headers:
            value = _claim_header(jwt.payload, c.claim_name)
            if value:
                ctx.headers.add(c.header_name, value)
        if not p.forward and token.header:
            ctx.headers.remove(token.header)
        if p.header_in_metadata:
            ctx.extracted[p.header_in_metadata] = jwt.header
        if p.payload_in_metadata:
            ctx.extracted[p.payload_in_metadata] = _payload_metadata(jwt.payload, p)


def _data_source(ds) -> str:
    kind = ds.WhichOneof("specifier")
    if kind == "inline_string":
        return ds.inline_string
    if kind == "inline_bytes":
        return ds.inline_bytes.decode("utf-8", "replace")
    if kind == "filename":
        return Path(ds.filename).read_text()
    raise Unsupported(f"DataSource {kind}")


# ------------------------------------------------------------------------------ the HTTP chain

@dataclass
class AuthzDecision:
    """What the external authorizer answers: "allow" (with headers for the upstream request),
    "deny" (status, body, headers to the client) or "error" (5xx, unreachable, timeout)."""
    verdict: str
    status: int = 403
    body: str = ""
    headers: dict = field(default_factory=dict)

    @classmethod
    def allow(cls, headers: dict | None = None) -> "AuthzDecision":
        return cls("allow", 200, "", dict(headers or {}))

    @classmethod
    def deny(cls, status: int = 403, body: str = "", headers: dict | None = None) -> "AuthzDecision":
        return cls("deny", status, body, dict(headers or {}))

    @classmethod
    def error(cls) -> "AuthzDecision":
        return cls("error")


# authorizer(cluster, request headers) -> AuthzDecision, or True/False, or an HTTP status
# (200 allows, 5xx is an error, anything else denies with that status).
Authorizer = Callable[[str, HeaderMap], "AuthzDecision | bool | int"]


def _decision(answer) -> AuthzDecision:
    if isinstance(answer, AuthzDecision):
        return answer
    if isinstance(answer, bool):
        return AuthzDecision.allow() if answer else AuthzDecision.deny()
    if isinstance(answer, int):
        return AuthzDecision.allow() if answer == 200 else AuthzDecision.error() if answer >= 500 else AuthzDecision.deny(answer)
    raise TypeError(f"authorizer answered {answer!r}")


def ext_authz_cluster(config) -> str:
    if config.HasField("http_service"):
        return config.http_service.server_uri.cluster
    grpc = config.grpc_service
    return grpc.envoy_grpc.cluster_name if grpc.HasField("envoy_grpc") else grpc.google_grpc.target_uri


def ext_authz_enabled(config, metadata: Mapping) -> bool:
    """filter_enabled (only 0 % or 100 %) and filter_enabled_metadata against the metadata."""
    if config.HasField("filter_enabled"):
        fraction = config.filter_enabled.default_value
        scale = {0: 100, 1: 10_000, 2: 1_000_000}[fraction.denominator]
        if 0 < fraction.numerator < scale:
            raise Unsupported("ext_authz filter_enabled below 100 %")
        if fraction.numerator == 0:
            return False
    return not config.HasField("filter_enabled_metadata") or metadata_match(config.filter_enabled_metadata, metadata)


@dataclass
class ChainOutcome:
    status: int
    decided_by: str  # the filter that answered, the router's name, or "" (the chain just ended)
    body: str = ""
    response_headers: dict = field(default_factory=dict)
    trace: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)  # the dynamic metadata at the end
    request_headers: dict = field(default_factory=dict)  # as the deciding filter / router saw them
    passed: bool = False  # no filter answered: the request went on to the router / chain end


def run_http_chain(http_filters, request: "Request | HeaderMap", peer: Peer | None = None, *,
                   authorizer: Authorizer | None = None, now: float | None = None, metadata: Mapping | None = None,
                   fetch_jwks: Callable[[str], str | None] | None = None) -> ChainOutcome:
    """Run an HCM's `http_filters` (HttpFilter messages) over one request, in order."""
    headers, peer = as_header_map(request).copy(), peer or Peer()
    md = {k: dict(v) for k, v in (metadata or {}).items()}
    trace: list[str] = []

    def outcome(status: int, by: str, body: str = "", response_headers: dict | None = None,
                passed: bool = False) -> ChainOutcome:
        return ChainOutcome(status, by, body, dict(response_headers or {}), trace, md, headers.to_dict(), passed)

    for f in http_filters:
        if f.disabled:
            trace.append(f"{f.name}: disabled")
            continue
        if f.HasField("config_discovery"):
            raise Unsupported(f"{f.name}: config_discovery")
        kind = type_name(f.typed_config)
        if kind == config_pb2.JwtAuthentication.DESCRIPTOR.full_name:
            config = unpack_any(f.typed_config, config_pb2.JwtAuthentication)
            result = JwtAuthn(config, now=now, fetch_jwks=fetch_jwks).run(headers)
            if isinstance(result, Reject):
                trace.append(f"{f.name}: {result.status} {result.body}")
                return outcome(result.status, f.name, result.body, result.headers)
            if result.metadata:
                md.setdefault(JWT_AUTHN, {}).update(result.metadata)
            trace.append(f"{f.name}: passed, metadata {sorted(result.metadata)}")
        elif kind == http_rbac_pb2.RBAC.DESCRIPTOR.full_name:
            decision = RbacFilter(unpack_any(f.typed_config, http_rbac_pb2.RBAC)).run(headers, peer, md)
            trace.append(f"{f.name}: {'allowed' if decision.allowed else 'denied'} (policy {decision.policy_id})")
            if not decision.allowed:
                return outcome(403, f.name, RBAC_DENIED_BODY)
        elif kind == ext_authz_pb2.ExtAuthz.DESCRIPTOR.full_name:
            config = unpack_any(f.typed_config, ext_authz_pb2.ExtAuthz)
            answered = _ext_authz(config, headers, md, authorizer, trace)
            if answered is not None:
                status, body, response_headers = answered
                return outcome(status, f.name, body, response_headers)
        elif kind == ROUTER_TYPE:
            trace.append(f"{f.name}: routed")
            return outcome(200, f.name, passed=True)
        else:
            trace.append(f"{f.name}: not modelled, passed")
    return outcome(200, "", passed=True)


def _ext_authz(config, headers: HeaderMap, md: Mapping, authorizer: Authorizer | None, trace: list[str]):
    """None to go on, or (status, body, response headers)."""
    error_status = config.status_on_error.code or 403
    if not ext_authz_enabled(config, md):
        trace.append("ext_authz skipped (filter_enabled_metadata did not match)")
        if config.HasField("deny_at_disable") and config.deny_at_disable.default_value.value:
            return error_status, "", {}
        return None
    cluster = ext_authz_cluster(config)
    trace.append(f"ext_authz called with cluster {cluster}")
    if authorizer is None:
        trace.append("ext_authz: no authorizer given, treated as unreachable")
        decision = AuthzDecision.error()
    else:
        decision = _decision(authorizer(cluster, headers.copy()))
    if decision.verdict == "allow":
        for name, value in decision.headers.items():
            headers.set(name, value)
        return None
    if decision.verdict == "error":
        if config.failure_mode_allow:
            trace.append("ext_authz: error, failure_mode_allow lets it through")
            return None
        return error_status, "", {}
    return decision.status, decision.body, decision.headers
