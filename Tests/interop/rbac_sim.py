"""Envoy's RBAC engine and its matchers at request time, over the decoded xds-protos messages.

No Envoy binary runs here, so this stands in for what Envoy decides with the RBAC config meshd
sends (the `envoy.filters.http.rbac*` filters of an HTTP connection manager). jwt_sim.py builds
the JWT filter and the whole HTTP chain on top of it. What it models:

- the request as Envoy's filters see it: `Request` (method, path, headers, query, cookies) turned
  into a `HeaderMap` with the pseudo-headers `:method`, `:path` (query included), `:authority`,
  `:scheme`; `Peer` is the connection (addresses, port, SNI, the peer certificate's SANs);
- `envoy.config.rbac.v3.RBAC` (`RBACSim`): action ALLOW / DENY / LOG; policies are tried in
  name order (Envoy keeps them in a std::map) and the first whose permissions and principals
  both match is the effective policy; LOG allows and sets `envoy.common` `access_log_hint`;
- Permission / Principal: any, and/or/not, header, url_path, uri_template, destination_ip,
  destination_port(_range), requested_server_name, direct_remote_ip, remote_ip, source_ip,
  authenticated (URI SANs, then DNS SANs, then the subject; no peer certificate never matches),
  metadata;
- the shared matchers as Envoy implements them: StringMatcher (exact/prefix/suffix/contains with
  ignore_case, safe_regex as a full match), HeaderMatcher (repeated values joined with ",", a
  missing header matches nothing but a present_match, invert_match, treat_missing_as_empty),
  MetadataMatcher (filter + path of keys into the dynamic metadata; a path that is not there
  gives no value: only `invert` can make it match) with ValueMatcher string / bool / double /
  null / present / list one_of / or_match (a string matcher never matches a number or a bool);
- the HTTP RBAC filter (`RbacFilter`): the shadow engine writes `<shadow prefix>shadow_engine_result`
  and, when a policy matched, `<prefix>shadow_effective_policy_id` into the `envoy.filters.http.rbac`
  metadata (how istiod's CUSTOM pair turns ext_authz on); the enforced engine answers 403
  "RBAC: access denied".

Limits: Python's `re` stands in for RE2 (the same for the patterns istiod writes). Anything
else in a config (CEL conditions, matcher trees, filter_state, sourced_metadata, custom
principals, StringMatcher `custom`) raises `Unsupported`, so a test never passes on a part
that was silently skipped.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Mapping

from envoy.config.rbac.v3 import rbac_pb2
from envoy.extensions.path.match.uri_template.v3 import uri_template_match_pb2 as uri_template_pb2

HTTP_RBAC_METADATA = "envoy.filters.http.rbac"  # where the HTTP filter writes its shadow results
RBAC_DENIED_BODY = "RBAC: access denied"


class Unsupported(NotImplementedError):
    """The config uses something the simulation does not model."""


def type_name(any_msg) -> str:
    """The message type a google.protobuf.Any holds (its type URL without the host part)."""
    return any_msg.type_url.rsplit("/", 1)[-1]


def unpack_any(any_msg, cls):
    """Decode an Any that must hold a `cls` message."""
    if type_name(any_msg) != cls.DESCRIPTOR.full_name:
        raise Unsupported(f"expected {cls.DESCRIPTOR.full_name}, got {any_msg.type_url}")
    return cls.FromString(any_msg.value)


# ------------------------------------------------------------------------------ the request

class HeaderMap:
    """Envoy's request header map: ordered (lowercase name, value) pairs, names may repeat."""

    def __init__(self, pairs=()):
        self._pairs: list[tuple[str, str]] = [(n.lower(), str(v)) for n, v in pairs]

    @classmethod
    def from_dict(cls, headers: Mapping[str, str | list[str]]) -> "HeaderMap":
        pairs = []
        for name, value in headers.items():
            pairs += [(name, v) for v in value] if isinstance(value, (list, tuple)) else [(name, value)]
        return cls(pairs)

    def copy(self) -> "HeaderMap":
        return HeaderMap(self._pairs)

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for n, v in self._pairs if n == name]

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None

    def joined(self, name: str) -> str | None:
        """All values of `name` joined with "," (Envoy's getAllOfHeaderAsString), None if absent."""
        values = self.get_all(name)
        return ",".join(values) if values else None

    def add(self, name: str, value: str) -> None:
        self._pairs.append((name.lower(), str(value)))

    def set(self, name: str, value: str) -> None:
        self.remove(name)
        self.add(name, value)

    def remove(self, name: str) -> None:
        name = name.lower()
        self._pairs = [(n, v) for n, v in self._pairs if n != name]

    def to_dict(self) -> dict[str, str | list[str]]:
        """{name: value}, or {name: [values]} for a repeated name, in first-seen order."""
        out: dict[str, str | list[str]] = {}
        for name, value in self._pairs:
            if name not in out:
                out[name] = value
            elif isinstance(out[name], list):
                out[name].append(value)
            else:
                out[name] = [out[name], value]
        return out

    def __repr__(self) -> str:
        return f"HeaderMap({self._pairs!r})"


@dataclass
class Request:
    """One HTTP request as a client sends it. Header names are lowercase; a value may be a list
    (a repeated header). `query` is appended to `path` (URL-encoded); `cookies` become one
    `cookie` header. `host` / `:authority` in `headers` win over `authority`."""
    method: str = "GET"
    path: str = "/"
    headers: Mapping[str, str | list[str]] = field(default_factory=dict)
    query: Mapping[str, str | list[str]] | None = None
    cookies: Mapping[str, str] | None = None
    authority: str = "web.default.svc.cluster.local"
    scheme: str = "http"

    def header_map(self) -> HeaderMap:
        extra = HeaderMap.from_dict(self.headers)
        authority = extra.get(":authority") or extra.get("host") or self.authority
        path = self.path
        if self.query:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(self.query, doseq=True)
        hm = HeaderMap([(":method", extra.get(":method") or self.method),
                        (":scheme", extra.get(":scheme") or self.scheme),
                        (":authority", authority),
                        (":path", extra.get(":path") or path)])
        for name, value in extra._pairs:
            if name not in (":method", ":scheme", ":authority", ":path", "host"):
                hm.add(name, value)
        if self.cookies:
            hm.add("cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        return hm


def as_header_map(request: "Request | HeaderMap") -> HeaderMap:
    return request if isinstance(request, HeaderMap) else request.header_map()


@dataclass
class Peer:
    """The downstream connection. `remote_ip` / `direct_remote_ip` default to `source_ip`;
    `tls` (a peer certificate was presented) defaults to "some SAN or subject is set"."""
    source_ip: str = "10.0.0.9"
    remote_ip: str | None = None
    direct_remote_ip: str | None = None
    destination_ip: str = "10.0.0.5"
    destination_port: int = 8080
    uri_sans: tuple[str, ...] = ()
    dns_sans: tuple[str, ...] = ()
    subject: str = ""
    tls: bool | None = None
    sni: str = ""

    @classmethod
    def spiffe(cls, uri: str, **kw) -> "Peer":
        return cls(uri_sans=(uri,), **kw)

    @property
    def has_certificate(self) -> bool:
        return self.tls if self.tls is not None else bool(self.uri_sans or self.dns_sans or self.subject)


def strip_query(path: str) -> str:
    """The path without its query string and fragment (Envoy's removeQueryAndFragment)."""
    return re.split(r"[?#]", path, maxsplit=1)[0]


# ------------------------------------------------------------------------------ matchers

@functools.lru_cache(maxsize=None)
def _regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def string_match(m, value) -> bool:
    """envoy.type.matcher.v3.StringMatcher against a value; anything but a str never matches."""
    if not isinstance(value, str):
        return False
    kind = m.WhichOneof("match_pattern")
    if kind == "safe_regex":  # ignore_case has no effect on regexes
        return _regex(m.safe_regex.regex).fullmatch(value) is not None
    if kind not in ("exact", "prefix", "suffix", "contains"):
        raise Unsupported(f"StringMatcher {kind or 'with no pattern'}")
    pattern = getattr(m, kind)
    if m.ignore_case:
        value, pattern = value.lower(), pattern.lower()
    return {"exact": value == pattern, "prefix": value.startswith(pattern),
            "suffix": value.endswith(pattern), "contains": pattern in value}[kind]


def header_match(m, headers: HeaderMap) -> bool:
    """envoy.config.route.v3.HeaderMatcher as Envoy's HeaderUtility::matchHeaders."""
    kind = m.WhichOneof("header_match_specifier")
    value = headers.joined(m.name)
    if kind in (None, "present_match"):  # no specifier: "the header is present"
        wanted = m.present_match if kind else True
        return ((value is not None) == wanted) != m.invert_match
    if value is None:
        if not m.treat_missing_header_as_empty:
            return False  # whatever invert_match says
        value = ""
    if kind == "exact_match":
        result = m.exact_match == "" or value == m.exact_match
    elif kind == "safe_regex_match":
        result = _regex(m.safe_regex_match.regex).fullmatch(value) is not None
    elif kind == "range_match":
        result = re.fullmatch(r"[+-]?\d+", value) is not None and m.range_match.start <= int(value) < m.range_match.end
    elif kind == "prefix_match":
        result = value.startswith(m.prefix_match)
    elif kind == "suffix_match":
        result = value.endswith(m.suffix_match)
    elif kind == "contains_match":
        result = m.contains_match in value
    elif kind == "string_match":
        result = string_match(m.string_match, value)
    else:
        raise Unsupported(f"HeaderMatcher {kind}")
    return result != m.invert_match


_MISSING = object()  # a metadata path that leads nowhere (protobuf Value with no kind)


def metadata_value(metadata: Mapping, filter_name: str, keys) -> object:
    """The value at `keys` in the dynamic metadata of `filter_name`, or _MISSING."""
    value = metadata.get(filter_name, _MISSING)
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def value_match(m, value) -> bool:
    """envoy.type.matcher.v3.ValueMatcher against a JSON-like value (or _MISSING)."""
    kind = m.WhichOneof("match_pattern")
    if kind == "null_match":
        return value is None
    if kind == "double_match":
        if not _is_number(value):
            return False
        d = m.double_match
        if d.WhichOneof("match_pattern") == "range":
            return d.range.start <= value < d.range.end
        return value == d.exact
    if kind == "string_match":
        return string_match(m.string_match, value)
    if kind == "bool_match":
        return isinstance(value, bool) and value == m.bool_match
    if kind == "present_match":
        return m.present_match and value is not _MISSING
    if kind == "list_match":
        return isinstance(value, list) and any(value_match(m.list_match.one_of, v) for v in value)
    if kind == "or_match":
        return any(value_match(v, value) for v in m.or_match.value_matchers)
    raise Unsupported(f"ValueMatcher {kind}")


def metadata_match(m, metadata: Mapping) -> bool:
    """envoy.type.matcher.v3.MetadataMatcher: `invert` applies to a missing path too."""
    value = metadata_value(metadata, m.filter, [seg.key for seg in m.path])
    return value_match(m.value, value) != m.invert


def cidr_match(cidr, ip: str | None) -> bool:
    """envoy.config.core.v3.CidrRange against an address; another IP family never matches."""
    if not ip:
        return False
    network = ipaddress.ip_network(f"{cidr.address_prefix}/{cidr.prefix_len.value}", strict=False)
    address = ipaddress.ip_address(ip)
    return address.version == network.version and address in network


_PCHAR = r"a-zA-Z0-9\-._~%!$&'()+,;:@="  # what `*` matches in Envoy's uri_template (one segment)


def _template_regex(template: str) -> str:
    out, i = [], 0
    while i < len(template):
        if template.startswith("**", i):
            out.append(f"[{_PCHAR}/]*")
            i += 2
        elif template[i] == "*":
            out.append(f"[{_PCHAR}]+")
            i += 1
        elif template[i] == "{":
            end = template.index("}", i)
            _name, _, inner = template[i + 1:end].partition("=")
            out.append("(?:" + (_template_regex(inner) if inner else f"[{_PCHAR}]+") + ")")
            i = end + 1
        else:
            out.append(re.escape(template[i]))
            i += 1
    return "".join(out)


def uri_template_match(typed_extension, path: str | None) -> bool:
    """Permission.uri_template (UriTemplateMatchConfig.path_template) against the request path."""
    config = unpack_any(typed_extension.typed_config, uri_template_pb2.UriTemplateMatchConfig)
    return path is not None and re.fullmatch(_template_regex(config.path_template), strip_query(path)) is not None


# ------------------------------------------------------------------------------ RBAC

@dataclass
class _Ctx:
    headers: HeaderMap
    peer: Peer
    metadata: Mapping


def _common(m, kind: str, ctx: _Ctx) -> bool:
    """The rule kinds Permission and Principal share."""
    if kind == "any":
        return m.any
    if kind == "header":
        return header_match(m.header, ctx.headers)
    if kind == "url_path":
        path = ctx.headers.get(":path")
        if m.url_path.WhichOneof("rule") != "path":
            raise Unsupported("PathMatcher without `path`")
        return path is not None and string_match(m.url_path.path, strip_query(path))
    if kind == "metadata":
        return metadata_match(m.metadata, ctx.metadata)
    raise Unsupported(f"{m.DESCRIPTOR.name}.{kind}")


def permission_match(p, ctx: _Ctx) -> bool:
    kind = p.WhichOneof("rule")
    if kind == "and_rules":
        return all(permission_match(r, ctx) for r in p.and_rules.rules)
    if kind == "or_rules":
        return any(permission_match(r, ctx) for r in p.or_rules.rules)
    if kind == "not_rule":
        return not permission_match(p.not_rule, ctx)
    if kind == "destination_ip":
        return cidr_match(p.destination_ip, ctx.peer.destination_ip)
    if kind == "destination_port":
        return ctx.peer.destination_port == p.destination_port
    if kind == "destination_port_range":
        return p.destination_port_range.start <= ctx.peer.destination_port < p.destination_port_range.end
    if kind == "requested_server_name":
        return string_match(p.requested_server_name, ctx.peer.sni)
    if kind == "uri_template":
        return uri_template_match(p.uri_template, ctx.headers.get(":path"))
    return _common(p, kind, ctx)


def principal_match(p, ctx: _Ctx) -> bool:
    kind = p.WhichOneof("identifier")
    peer = ctx.peer
    if kind == "and_ids":
        return all(principal_match(i, ctx) for i in p.and_ids.ids)
    if kind == "or_ids":
        return any(principal_match(i, ctx) for i in p.or_ids.ids)
    if kind == "not_id":
        return not principal_match(p.not_id, ctx)
    if kind == "authenticated":
        if not peer.has_certificate:
            return False
        if not p.authenticated.HasField("principal_name"):
            return True
        m = p.authenticated.principal_name
        return (any(string_match(m, u) for u in peer.uri_sans) or any(string_match(m, d) for d in peer.dns_sans)
                or string_match(m, peer.subject))
    if kind == "source_ip":
        return cidr_match(p.source_ip, peer.source_ip)
    if kind == "direct_remote_ip":
        return cidr_match(p.direct_remote_ip, peer.direct_remote_ip or peer.source_ip)
    if kind == "remote_ip":
        return cidr_match(p.remote_ip, peer.remote_ip or peer.source_ip)
    return _common(p, kind, ctx)


def policy_match(policy, ctx: _Ctx) -> bool:
    if policy.HasField("condition") or policy.HasField("checked_condition"):
        raise Unsupported("RBAC policy with a CEL condition")
    return (any(permission_match(p, ctx) for p in policy.permissions)
            and any(principal_match(p, ctx) for p in policy.principals))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    policy_id: str | None  # the first policy (in name order) that matched, if any


class RBACSim:
    """envoy.config.rbac.v3.RBAC (an engine): which policy matches a request, and the verdict."""

    def __init__(self, rbac: rbac_pb2.RBAC):
        self.action = rbac_pb2.RBAC.Action.Name(rbac.action)  # "ALLOW", "DENY" or "LOG"
        self.policies = sorted(rbac.policies.items())  # Envoy iterates a std::map: name order

    def matching_policy(self, request: "Request | HeaderMap", peer: Peer | None = None,
                        metadata: Mapping | None = None) -> str | None:
        ctx = _Ctx(as_header_map(request), peer or Peer(), metadata or {})
        return next((name for name, policy in self.policies if policy_match(policy, ctx)), None)

    effective_policy_id = matching_policy  # the shadow engine's `shadow_effective_policy_id`

    def decide(self, request, peer: Peer | None = None, metadata: Mapping | None = None) -> Decision:
        matched = self.matching_policy(request, peer, metadata)
        allowed = {"ALLOW": matched is not None, "DENY": matched is None, "LOG": True}[self.action]
        return Decision(allowed, matched)

    def allowed(self, request, peer: Peer | None = None, metadata: Mapping | None = None) -> bool:
        return self.decide(request, peer, metadata).allowed


class RbacFilter:
    """envoy.extensions.filters.http.rbac.v3.RBAC: the shadow engine (metadata only) and the
    enforced one. `run` mutates `metadata` ({filter name: {key: value}}) as Envoy does."""

    def __init__(self, config):
        if config.HasField("matcher") or config.HasField("shadow_matcher"):
            raise Unsupported("RBAC matcher trees")
        self.engine = RBACSim(config.rules) if config.HasField("rules") else None
        self.shadow = RBACSim(config.shadow_rules) if config.HasField("shadow_rules") else None
        self.shadow_prefix = config.shadow_rules_stat_prefix

    def run(self, headers: HeaderMap, peer: Peer, metadata: dict) -> Decision:
        """Returns the enforced decision (allowed with no policy when there is no `rules`)."""
        if self.shadow is not None:
            shadow = self.shadow.decide(headers, peer, metadata)
            fields = {}
            if shadow.policy_id:
                fields[self.shadow_prefix + "shadow_effective_policy_id"] = shadow.policy_id
            fields[self.shadow_prefix + "shadow_engine_result"] = "allowed" if shadow.allowed else "denied"
            metadata.setdefault(HTTP_RBAC_METADATA, {}).update(fields)
        if self.engine is None:
            return Decision(True, None)
        decision = self.engine.decide(headers, peer, metadata)
        if self.engine.action == "LOG":
            metadata.setdefault("envoy.common", {})["access_log_hint"] = decision.policy_id is not None
        return decision
