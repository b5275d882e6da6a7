"""A stand-in Kubernetes API server for meshd's Kubernetes tests (issue 25), held to real clients
(kubectl 1.32 and PyPI's `kubernetes` client; see test_kube_apiserver.py).

No kube-apiserver runs on these machines, so this module speaks enough of the Kubernetes REST API
(api-conventions.md; client-go's reflector and discovery behaviour) for a controller to list,
watch, write and review tokens against it, and lets a test break it on purpose.

    with KubeApiServer(tokens={"admin-token"}) as api:
        api.kubeconfig(path, "admin-token")          # for kubectl / kubernetes.config
        api.create({"apiVersion": "v1", "kind": "Pod", "metadata": {...}})
        api.state("pods")                            # {(ns, name): object}

    python kube_apiserver.py --port 6443 --data seed.yaml --token admin-token [--http]

What it serves (thread-based, ThreadingHTTPServer, 127.0.0.1, port 0 = a free one):
- HTTPS with a CA and a server certificate (127.0.0.1 / localhost SANs) generated at start with
  `cryptography` (`ca_pem` bytes, `ca_path`), or plain HTTP (`tls=False`) for debugging.
  Every request but /healthz /livez /readyz needs `Authorization: Bearer T` with T in `tokens`;
  otherwise 401 and a `Status` (reason Unauthorized).
- Legacy discovery (`/api`, `/api/v1`, `/apis`, `/apis/G/V`) as plain `application/json`; the
  aggregated form (apidiscovery.k8s.io/v2) is not offered, and clients asking for it fall back, as
  they do against any server answering plain JSON. `/version`. `/openapi/v2` and `/openapi/v3`
  answer 404, so `kubectl apply` needs `--validate=false` (kubectl then still works: it patches
  built-in kinds with its compiled-in strategic-merge metadata).
- Kinds (RESOURCES): core/v1 namespaces, nodes (cluster scoped), services, pods, serviceaccounts,
  configmaps; discovery.k8s.io/v1 endpointslices; coordination.k8s.io/v1 leases;
  authentication.k8s.io/v1 tokenreviews (create only). Namespaces default, kube-system,
  kube-public exist from the start; a namespaced object needs its namespace (404 otherwise);
  deleting a namespace deletes what is in it (each a DELETED event).
- GET item / list (namespaced and across namespaces), POST (uid, creationTimestamp,
  resourceVersion, generation; generateName; services get a clusterIP), PUT (409 Conflict on a
  stale metadata.resourceVersion), PATCH (application/merge-patch+json,
  application/strategic-merge-patch+json for the simple cases: maps merged, `null` deletes, lists
  of objects merged by their usual key (containers/env/volumes by name, ports by port or
  containerPort, conditions by type...) honouring `$patch: delete`, `$setElementOrder/` and
  `$retainKeys` directives dropped; application/json-patch+json add/remove/replace/test;
  server-side apply (apply-patch+yaml) answers 415), DELETE (preconditions.resourceVersion /
  uid honoured; answers the object). A write that changes nothing keeps the resourceVersion.
  `status` subresource for pods and services: PUT/PATCH `/pods/NAME/status` changes only status;
  the main resource keeps the old status on a PUT/PATCH (as the real server does).
- One global resourceVersion, an integer rendered as a string, +1 per write.
- Lists: labelSelector (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a`, `!a`),
  fieldSelector (`metadata.name`, `metadata.namespace`, and for pods `spec.nodeName`,
  `status.phase`; `=`, `==`, `!=`; others 400), `limit` / `continue` over a consistent snapshot:
  the continue token (base64 JSON) holds the snapshot's resourceVersion and the last key, a page
  after writes still shows the snapshot, a token older than the history window is 410 Gone with
  reason Expired. The list's metadata.resourceVersion is the snapshot's; `remainingItemCount`.
  `resourceVersion` unset or "0": latest; `resourceVersion=R&resourceVersionMatch=Exact`: the
  state at R (410 Expired when compacted); `NotOlderThan` / no match with R: latest, or 504 "Too
  large resource version" when R is in the future.
- Watches (`watch=1|true`): chunked JSON lines `{"type", "object"}`. From resourceVersion R, the
  events after R from the history window (R older than the window: one ERROR event with a 410
  `Status`, reason Expired, "too old resource version: R (C)", and the end of the stream, as the
  real server). Unset or "0": ADDED for every current object first. Selectors applied per event
  (an object leaving the selector is DELETED, one entering it ADDED). `allowWatchBookmarks=true`:
  a BOOKMARK every `bookmark_interval` seconds carrying only kind, apiVersion and
  metadata.resourceVersion (every event up to it has been sent). `timeoutSeconds`: the server
  ends the stream then (default `watch_timeout`, 1800 s). A DELETED event carries the object with
  the deletion's resourceVersion.
- TokenReview: POST /apis/authentication.k8s.io/v1/tokenreviews (the caller needs a valid bearer
  token itself) looks `spec.token` up in `service_accounts` {token: (namespace, sa, audiences)}:
  authenticated with user `system:serviceaccount:NS:SA`, groups, and `status.audiences` = the
  audiences both the token and the request (or, when the request names none, the server's
  `api_audiences`) have; no common audience or an unknown token: authenticated false and
  `status.error`. Answers 201.

Fault hooks (the "storm"): `end_watches()`, `fail_watches(code=410)` (ERROR Status then end),
`reset_watches()` (half an event written then the socket closed), `pause(seconds)` (events held,
bookmarks still sent, at the paused position), `compact(rv=None)` (history before rv dropped: older
watches / continue tokens get 410), `restart(keep_state=True)` (same port; without state: objects
and history gone, resourceVersion keeps counting, every older version 410), `delay(seconds)`
(every answer waits), `unreachable()` / `reachable()` (listening socket closed, open connections
cut; the same port again).

Test helpers (no HTTP, no auth, no status-subresource rules): `create(obj)`, `update(obj)` (a
full replacement, no precondition unless `check_version`), `patch(resource, ns, name, merge)`,
`delete(resource, ns, name)`, `get(resource, ns, name)`, `state(resource)` ({(ns, name): obj}),
`resource_version` (int), `kubeconfig(path, token)`, `url`, `requests` (method, path, status).
Limits: no RBAC, no admission, no defaulting beyond the fields above, no graceful deletion or
finalizers, no server-side apply, no protobuf, no aggregated discovery, no watch of a single
object by name other than through fieldSelector=metadata.name, no sendInitialEvents.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime
import ipaddress
import json
import os
import random
import re
import socket
import ssl
import string
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# --------------------------------------------------------------------------------------------
# The kinds served


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple = ()
    verbs: tuple = ("create", "delete", "get", "list", "patch", "update", "watch")
    subresources: tuple = ()  # e.g. ("status",)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


RESOURCES = [
    Resource("", "v1", "namespaces", "Namespace", False, ("ns",), subresources=("status",)),
    Resource("", "v1", "nodes", "Node", False, ("no",), subresources=("status",)),
    Resource("", "v1", "services", "Service", True, ("svc",), subresources=("status",)),
    Resource("", "v1", "pods", "Pod", True, ("po",), subresources=("status",)),
    Resource("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",)),
    Resource("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    Resource("coordination.k8s.io", "v1", "leases", "Lease", True),
    Resource("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False, verbs=("create",)),
]
BY_PLURAL = {(r.group, r.plural): r for r in RESOURCES}
BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}
GROUPS = {}
for _r in RESOURCES:
    GROUPS.setdefault(_r.group, _r.version)

BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public")
DEFAULT_API_AUDIENCES = ("https://kubernetes.default.svc.cluster.local",)
SERVER_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-meshd-standin",
                  "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                  "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc",
                  "platform": "linux/amd64"}


def resource(plural: str) -> Resource:
    """A Resource by plural ("pods") or "plural.group" ("endpointslices.discovery.k8s.io")."""
    for r in RESOURCES:
        if plural in (r.plural, f"{r.plural}.{r.group}", r.kind, r.kind.lower()):
            return r
    raise KeyError(plural)


class ApiError(Exception):
    """An error answered as a metav1 Status."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict:
        return status_object(self.code, self.reason, self.message, self.details)


def status_object(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason, "code": code}
    if details:
        s["details"] = details
    return s


def not_found(res: Resource, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{res.plural}{"." + res.group if res.group else ""} "{name}" not found',
                    {"name": name, "group": res.group, "kind": res.plural})


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# Selectors


_LABEL_TERM = re.compile(r"^\s*(!)?\s*([A-Za-z0-9_./-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9_.-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*$")


def _split_terms(selector: str) -> list[str]:
    terms, depth, cur = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        terms.append(cur)
    return [t for t in terms if t.strip()]


def parse_label_selector(selector: str | None):
    """A predicate over a labels dict; ApiError 400 for a selector it cannot parse."""
    if not selector:
        return lambda labels: True
    checks = []
    for term in _split_terms(selector):
        m = _LABEL_TERM.match(term)
        if not m or (m.group(1) and (m.group(3) or m.group(5))):
            raise ApiError(400, "BadRequest", f"unable to parse requirement: invalid label selector {selector!r}")
        neg, key, op, value, setop, values = m.groups()
        if neg:
            checks.append(lambda l, k=key: k not in l)
        elif op in ("=", "=="):
            checks.append(lambda l, k=key, v=value: l.get(k) == v)
        elif op == "!=":
            checks.append(lambda l, k=key, v=value: l.get(k) != v)
        elif setop:
            vs = {v.strip() for v in values.split(",") if v.strip()}
            if setop == "in":
                checks.append(lambda l, k=key, vs=vs: l.get(k) in vs)
            else:
                checks.append(lambda l, k=key, vs=vs: l.get(k) not in vs)
        else:
            checks.append(lambda l, k=key: k in l)
    return lambda labels: all(c(labels or {}) for c in checks)


_FIELD_TERM = re.compile(r"^\s*([A-Za-z.]+)\s*(==|=|!=)\s*(.*?)\s*$")


def parse_field_selector(selector: str | None, res: Resource):
    """A predicate over an object; 400 for a field the kind does not support."""
    if not selector:
        return lambda obj: True
    allowed = {"metadata.name", "metadata.namespace"}
    if res.plural == "pods":
        allowed |= {"spec.nodeName", "status.phase"}
    checks = []
    for term in _split_terms(selector):
        m = _FIELD_TERM.match(term)
        if not m:
            raise ApiError(400, "BadRequest", f"invalid field selector {selector!r}")
        path, op, value = m.groups()
        if path not in allowed:
            raise ApiError(400, "BadRequest", f'field label not supported: {path}')

        def get(obj, path=path):
            cur = obj
            for part in path.split("."):
                cur = cur.get(part) if isinstance(cur, dict) else None
            return cur if cur is not None else ""
        if op == "!=":
            checks.append(lambda o, g=get, v=value: g(o) != v)
        else:
            checks.append(lambda o, g=get, v=value: g(o) == v)
    return lambda obj: all(c(obj) for c in checks)


# --------------------------------------------------------------------------------------------
# Patches


_MERGE_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name",
               "env": "name", "volumes": "name", "volumeMounts": "mountPath", "conditions": "type",
               "imagePullSecrets": "name", "ownerReferences": "uid", "tolerations": None,
               "hostAliases": "ip", "volumeDevices": "devicePath"}


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def _list_merge_key(field_name: str, items: list):
    key = _MERGE_KEYS.get(field_name, "")
    if field_name == "ports":
        key = "containerPort" if any(isinstance(i, dict) and "containerPort" in i for i in items) else "port"
    if key and all(isinstance(i, dict) and key in i for i in items if not (isinstance(i, dict) and i.get("$patch"))):
        return key
    return None


def strategic_merge_patch(target, patch, field_name: str = ""):
    """Strategic merge for the simple cases kubectl sends (see the module docstring)."""
    if not isinstance(patch, dict):
        if isinstance(patch, list) and isinstance(target, list):
            key = _list_merge_key(field_name, patch + target)
            if key:
                out = copy.deepcopy(target)
                for item in patch:
                    if item.get("$patch") == "delete":
                        out = [o for o in out if o.get(key) != item.get(key)]
                        continue
                    for i, o in enumerate(out):
                        if o.get(key) == item.get(key):
                            out[i] = strategic_merge_patch(o, item)
                            break
                    else:
                        out.append(strategic_merge_patch({}, item))
                return out
        if isinstance(patch, list):
            return [strategic_merge_patch({}, i) if isinstance(i, dict) else i for i in patch]
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: v for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    orders = {}
    for k, v in patch.items():
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
        elif k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            result[name] = [x for x in result.get(name, []) if x not in v]
        elif k.startswith("$"):
            continue  # $retainKeys, $patch: not modelled
        elif v is None:
            result.pop(k, None)
        else:
            result[k] = strategic_merge_patch(result.get(k), v, k)
    for name, order in orders.items():
        items = result.get(name)
        if not isinstance(items, list):
            continue
        key = _list_merge_key(name, items)
        if key:
            wanted = [o.get(key) for o in order if isinstance(o, dict)]
            ranked = {v: i for i, v in enumerate(wanted)}
            items.sort(key=lambda o: ranked.get(o.get(key), len(ranked)))
    return result


def json_patch(target, ops: list):
    """RFC 6902 add / remove / replace / test."""
    doc = copy.deepcopy(target)
    for op in ops:
        path = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = doc
        for p in path[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent[p]
        last = path[-1] if path else None
        kind = op["op"]
        if kind == "test":
            cur = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if cur != op.get("value"):
                raise ApiError(422, "Invalid", f"test operation failed at {op['path']}")
        elif kind == "remove":
            if isinstance(parent, list):
                parent.pop(int(last))
            else:
                del parent[last]
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                if last == "-":
                    parent.append(op["value"])
                elif kind == "add":
                    parent.insert(int(last), op["value"])
                else:
                    parent[int(last)] = op["value"]
            else:
                parent[last] = op["value"]
        else:
            raise ApiError(422, "Invalid", f"json patch op {kind!r} not supported by the stand-in")
    return doc


# --------------------------------------------------------------------------------------------
# TLS material


def make_tls_material(directory: str) -> tuple[str, str, str, bytes]:
    """A CA and a server certificate for 127.0.0.1 / localhost: (ca_path, cert_path, key_path, ca_pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def pem_key(k):
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    end = start + datetime.timedelta(days=2)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver stand-in CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.DNSName("kubernetes.default.svc"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    paths = [os.path.join(directory, n) for n in ("ca.crt", "tls.crt", "tls.key")]
    for p, data in zip(paths, (ca_pem, cert.public_bytes(serialization.Encoding.PEM), pem_key(key))):
        with open(p, "wb") as f:
            f.write(data)
    return paths[0], paths[1], paths[2], ca_pem


# --------------------------------------------------------------------------------------------
# The store: objects, one resourceVersion, a bounded history of events


@dataclass
class Event:
    rv: int
    type: str           # ADDED / MODIFIED / DELETED
    res: Resource
    key: tuple          # (namespace, name)
    obj: dict           # the object after the write (DELETED: last state with the deletion's rv)
    prev: dict | None   # the object before (None for ADDED)


@dataclass(eq=False)
class _WatchControl:
    action: str | None = None   # "end" / "error" / "reset"
    code: int = 410


class Store:
    """Objects keyed by (resource plural, namespace, name); every write one event in history."""

    def __init__(self, history_size: int):
        self.cond = threading.Condition()
        self.history_size = history_size
        self.rv = 0
        self.reset(keep_rv=False)

    def reset(self, keep_rv: bool = True):
        with self.cond:
            if not keep_rv:
                self.rv = 0
            self.objects: dict[tuple, dict] = {}
            self.history: list[Event] = []   # events with rv in (compacted, rv], contiguous
            self.compacted = self.rv
            self.cond.notify_all()

    # -- reads
    def objects_at(self, res: Resource, at_rv: int) -> dict:
        """{(ns, name): obj} of `res` as of `at_rv` (>= compacted), rewinding the history."""
        with self.cond:
            if at_rv < self.compacted:
                raise gone(f"too old resource version: {at_rv} ({self.compacted})")
            state = {k[1:]: v for k, v in self.objects.items() if k[0] == res.plural}
            for ev in reversed(self.history):
                if ev.rv <= at_rv:
                    break
                if ev.res is not res:
                    continue
                if ev.prev is None:
                    state.pop(ev.key, None)
                else:
                    state[ev.key] = ev.prev
            return state

    # -- writes (callers hold no lock)
    def commit(self, res: Resource, key: tuple, new: dict | None) -> dict | None:
        """Store `new` (None deletes) as the next resourceVersion; the event's object."""
        with self.cond:
            full = (res.plural,) + key
            prev = self.objects.get(full)
            self.rv += 1
            if new is None:
                obj = copy.deepcopy(prev)
                obj["metadata"]["resourceVersion"] = str(self.rv)
                del self.objects[full]
                etype = "DELETED"
            else:
                obj = copy.deepcopy(new)
                obj["metadata"]["resourceVersion"] = str(self.rv)
                self.objects[full] = obj
                etype = "ADDED" if prev is None else "MODIFIED"
            self.history.append(Event(self.rv, etype, res, key, obj, prev))
            if len(self.history) > self.history_size:
                drop = len(self.history) - self.history_size
                self.compacted = self.history[drop - 1].rv
                del self.history[:drop]
            self.cond.notify_all()
            return copy.deepcopy(obj)

    def compact(self, rv: int | None = None):
        with self.cond:
            rv = self.rv if rv is None else min(max(rv, self.compacted), self.rv)
            self.history = [e for e in self.history if e.rv > rv]
            self.compacted = rv
            self.cond.notify_all()


# --------------------------------------------------------------------------------------------
# The server


class KubeApiServer:
    def __init__(self, tokens=("admin-token",), service_accounts: dict | None = None, tls: bool = True,
                 host: str = "127.0.0.1", port: int = 0, bookmark_interval: float = 1.0,
                 history_size: int = 1000, watch_timeout: float = 1800.0,
                 api_audiences=DEFAULT_API_AUDIENCES, workdir: str | None = None):
        self.tokens = set(tokens)
        # token -> (namespace, serviceaccount, audiences)
        self.service_accounts = dict(service_accounts or {})
        self.tls = tls
        self.host, self.port = host, port
        self.bookmark_interval = bookmark_interval
        self.watch_timeout = watch_timeout
        self.api_audiences = list(api_audiences)
        self.store = Store(history_size)
        self._own_dir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="kube-apiserver-")
        self.ca_path = self.cert_path = self.key_path = None
        self.ca_pem = b""
        if tls:
            self.ca_path, self.cert_path, self.key_path, self.ca_pem = make_tls_material(self.workdir)
        self.requests: list[tuple[str, str, int]] = []
        self._httpd = None
        self._thread = None
        self._conns: set = set()
        self._watches: set = set()
        self._lock = threading.Lock()
        self._delay = 0.0
        self._paused_until = 0.0
        self._stopping = threading.Event()
        self._seed_namespaces()

    # -- lifecycle
    def _seed_namespaces(self):
        for ns in BUILTIN_NAMESPACES:
            if ("namespaces", "", ns) not in self.store.objects:
                self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    def start(self) -> "KubeApiServer":
        server = self

        class Handler(_Handler):
            api = server

        httpd = _HTTPServer((self.host, self.port), Handler)
        httpd.daemon_threads = True
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.cert_path, self.key_path)
            ctx.set_alpn_protocols(["http/1.1"])
            httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
        self.port = httpd.server_address[1]
        self._stopping.clear()
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"kube-apiserver:{self.port}", daemon=True)
        self._thread.start()
        return self

    def _halt(self):
        """Stop listening, end every watch and cut every connection."""
        if not self._httpd:
            return
        self._stopping.set()
        with self.store.cond:
            self.store.cond.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        self._httpd = None

    def stop(self):
        self._halt()
        self._paused_until = 0.0
        self._delay = 0.0
        if self._own_dir:
            for n in ("ca.crt", "tls.crt", "tls.key"):
                try:
                    os.unlink(os.path.join(self.workdir, n))
                except OSError:
                    pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def kubeconfig(self, path: str, token: str = "admin-token", namespace: str = "default") -> str:
        """Write a kubeconfig (context `standin`) for kubectl and client libraries; returns path."""
        cluster = {"server": self.url}
        if self.tls:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode()
        doc = {"apiVersion": "v1", "kind": "Config", "current-context": "standin",
               "clusters": [{"name": "standin", "cluster": cluster}],
               "users": [{"name": "standin", "user": {"token": token}}],
               "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "standin",
                                                             "namespace": namespace}}]}
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)  # JSON is YAML
        return path

    # -- fault hooks
    def _signal_watches(self, action: str, code: int = 410):
        with self.store.cond:
            for ctl in list(self._watches):
                ctl.action, ctl.code = action, code
            self.store.cond.notify_all()

    def open_watches(self) -> int:
        with self.store.cond:
            return len(self._watches)

    def end_watches(self):
        """End every open watch cleanly (the stream's last chunk)."""
        self._signal_watches("end")

    def fail_watches(self, code: int = 410):
        """Send an ERROR event with a Status of `code` (410: Expired) on every open watch, then end it."""
        self._signal_watches("error", code)

    def reset_watches(self):
        """Write half of an event on every open watch, then close the socket."""
        self._signal_watches("reset")

    def pause(self, seconds: float):
        """Hold every watch event for `seconds` (bookmarks still go out, at the held position)."""
        self._paused_until = time.monotonic() + seconds
        with self.store.cond:
            self.store.cond.notify_all()

    def compact(self, rv: int | None = None):
        """Drop history up to rv (default: all): older watches and continue tokens get 410."""
        self.store.compact(rv)

    def delay(self, seconds: float):
        """Every answer from now on waits `seconds` first (0 ends it)."""
        self._delay = seconds

    def unreachable(self):
        """Close the listening socket and cut every connection (refused until reachable())."""
        self._halt()

    def reachable(self):
        if not self._httpd:
            self.start()

    def restart(self, keep_state: bool = True):
        """Stop and start on the same port; without state objects and history are gone (the
        resourceVersion keeps counting, so every older version is 410 Expired)."""
        self._halt()
        if not keep_state:
            self.store.reset(keep_rv=True)
            self._seed_namespaces()
        self.start()

    # -- test helpers (no HTTP)
    @property
    def resource_version(self) -> int:
        return self.store.rv

    def state(self, plural: str) -> dict:
        res = resource(plural)
        with self.store.cond:
            return {k[1:]: copy.deepcopy(v) for k, v in self.store.objects.items() if k[0] == res.plural}

    def get(self, plural: str, namespace: str, name: str) -> dict | None:
        with self.store.cond:
            o = self.store.objects.get((resource(plural).plural, namespace or "", name))
            return copy.deepcopy(o)

    def create(self, obj: dict) -> dict:
        res = BY_KIND[(obj["apiVersion"], obj["kind"])]
        return self._create(res, obj.get("metadata", {}).get("namespace", "default") if res.namespaced else "", obj)

    def update(self, obj: dict, check_version: bool = False) -> dict:
        res = BY_KIND[(obj["apiVersion"], obj["kind"])]
        ns = obj["metadata"].get("namespace", "default") if res.namespaced else ""
        return self._update(res, ns, obj["metadata"]["name"], obj, keep_status=False,
                            check_version=check_version)

    def patch(self, plural: str, namespace: str, name: str, merge: dict) -> dict:
        res = resource(plural)
        cur = self._get(res, namespace or "", name)
        return self._update(res, namespace or "", name, merge_patch(cur, merge), keep_status=False,
                            check_version=False)

    def delete(self, plural: str, namespace: str, name: str) -> dict:
        return self._delete(resource(plural), namespace or "", name, {})

    # -- the store's rules
    def _get(self, res: Resource, ns: str, name: str) -> dict:
        with self.store.cond:
            o = self.store.objects.get((res.plural, ns, name))
            if o is None:
                raise not_found(res, name)
            return copy.deepcopy(o)

    def _check_namespace(self, res: Resource, ns: str):
        if res.namespaced and ("namespaces", "", ns) not in self.store.objects:
            raise ApiError(404, "NotFound", f'namespaces "{ns}" not found',
                           {"name": ns, "kind": "namespaces"})

    def _create(self, res: Resource, ns: str, obj: dict) -> dict:
        obj = copy.deepcopy(obj)
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        meta = obj.setdefault("metadata", {})
        if res.namespaced:
            if meta.get("namespace", ns) != ns:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
        name = meta.get("name")
        if not name:
            raise ApiError(422, "Invalid", f"{res.kind}.{res.group or 'core'} is invalid: metadata.name: Required value: name or generateName is required",
                           {"kind": res.kind})
        if meta.get("resourceVersion"):
            raise ApiError(400, "BadRequest", "resourceVersion should not be set on objects to be created")
        with self.store.cond:
            self._check_namespace(res, ns)
            if (res.plural, ns, name) in self.store.objects:
                raise ApiError(409, "AlreadyExists", f'{res.plural} "{name}" already exists',
                               {"name": name, "group": res.group, "kind": res.plural})
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            meta["generation"] = 1
            meta.pop("deletionTimestamp", None)
            if res.plural == "services":
                spec = obj.setdefault("spec", {})
                spec.setdefault("type", "ClusterIP")
                if spec["type"] != "ExternalName" and not spec.get("clusterIP"):
                    spec["clusterIP"] = f"10.96.{random.randint(0, 255)}.{random.randint(1, 254)}"
                if spec.get("clusterIP") and spec["clusterIP"] != "None":
                    spec.setdefault("clusterIPs", [spec["clusterIP"]])
            if res.plural == "pods":
                obj.setdefault("status", {}).setdefault("phase", "Pending")
            if res.plural == "namespaces":
                obj.setdefault("status", {"phase": "Active"})
            return self.store.commit(res, (ns, name), obj)

    def _update(self, res: Resource, ns: str, name: str, obj: dict, keep_status: bool,
                check_version: bool = True, status_only: bool = False) -> dict:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if meta.get("name", name) != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        if res.namespaced and meta.get("namespace", ns) != ns:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
        with self.store.cond:
            cur = self.store.objects.get((res.plural, ns, name))
            if cur is None:
                raise not_found(res, name)
            want = meta.get("resourceVersion")
            if check_version and want and want != cur["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict",
                               f'Operation cannot be fulfilled on {res.plural} "{name}": the object has been modified; '
                               "please apply your changes to the latest version and try again",
                               {"name": name, "group": res.group, "kind": res.plural})
            if status_only:
                new = copy.deepcopy(cur)
                if "status" in obj:
                    new["status"] = obj["status"]
                else:
                    new.pop("status", None)
            else:
                new = obj
                new["apiVersion"], new["kind"] = res.api_version, res.kind
                if keep_status:
                    if "status" in cur:
                        new["status"] = copy.deepcopy(cur["status"])
                    else:
                        new.pop("status", None)
                m = new["metadata"]
                m["name"] = name
                if res.namespaced:
                    m["namespace"] = ns
                for k in ("uid", "creationTimestamp", "generation"):
                    if k in cur["metadata"]:
                        m[k] = cur["metadata"][k]
                if new.get("spec") != cur.get("spec"):
                    m["generation"] = cur["metadata"].get("generation", 1) + 1
            new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
            if new == cur:
                return copy.deepcopy(cur)  # a no-op write keeps its version
            return self.store.commit(res, (ns, name), new)

    def _delete(self, res: Resource, ns: str, name: str, options: dict) -> dict:
        with self.store.cond:
            cur = self.store.objects.get((res.plural, ns, name))
            if cur is None:
                raise not_found(res, name)
            pre = (options or {}).get("preconditions") or {}
            if pre.get("resourceVersion") and pre["resourceVersion"] != cur["metadata"]["resourceVersion"] or \
                    pre.get("uid") and pre["uid"] != cur["metadata"]["uid"]:
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {res.plural} "{name}": '
                               "the precondition is not met", {"name": name, "kind": res.plural})
            if res.plural == "namespaces":
                for key in [k for k in self.store.objects if k[1] == name and k[0] != "namespaces"]:
                    self.store.commit(resource(key[0]), key[1:], None)
            return self.store.commit(res, (ns, name), None)

    # -- lists
    def list(self, res: Resource, ns: str | None, q: dict) -> dict:
        label_ok = parse_label_selector(q.get("labelSelector"))
        field_ok = parse_field_selector(q.get("fieldSelector"), res)
        limit = int(q.get("limit") or 0)
        cont = q.get("continue")
        rv_param, match = q.get("resourceVersion", ""), q.get("resourceVersionMatch", "")
        start_after = None
        if cont:
            if rv_param:
                raise ApiError(400, "BadRequest", "specifying resource version is not allowed when using continue")
            try:
                token = json.loads(base64.urlsafe_b64decode(cont.encode()))
                snap, start_after = int(token["rv"]), tuple(token["start"])
            except Exception:
                raise ApiError(400, "BadRequest", "continue key is not valid")
            with self.store.cond:
                if snap < self.store.compacted:
                    raise ApiError(410, "Expired", "The provided continue parameter is too old to display a consistent "
                                   "list result. You can start a new list without the continue parameter, or use the "
                                   "continue token in this response to retrieve the remainder of the results. "
                                   "Continuing with the provided token results in an inconsistent list - objects "
                                   "that were created, modified, or deleted between the time the first chunk was "
                                   "returned and now may show up in the list.")
        elif rv_param and rv_param != "0":
            try:
                want = int(rv_param)
            except ValueError:
                raise ApiError(400, "BadRequest", f"invalid resource version {rv_param!r}")
            if want > self.store.rv:
                raise ApiError(504, "Timeout", f"Too large resource version: {want}, current: {self.store.rv}",
                               {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]})
            snap = want if match == "Exact" else self.store.rv
        else:
            if match == "Exact":
                raise ApiError(400, "BadRequest", "resourceVersionMatch: Exact needs a resourceVersion other than 0")
            snap = self.store.rv
        objects = self.store.objects_at(res, snap)
        keys = sorted(k for k in objects if ns is None or k[0] == ns)
        if start_after is not None:
            keys = [k for k in keys if k > start_after]
        selected = [k for k in keys if label_ok(objects[k]["metadata"].get("labels")) and field_ok(objects[k])]
        meta = {"resourceVersion": str(snap)}
        if limit and len(selected) > limit:
            last = selected[limit - 1]
            meta["continue"] = base64.urlsafe_b64encode(json.dumps({"rv": snap, "start": list(last)}).encode()).decode()
            meta["remainingItemCount"] = len(selected) - limit
            selected = selected[:limit]
        items = []
        for k in selected:
            o = copy.deepcopy(objects[k])
            o.pop("apiVersion", None)
            o.pop("kind", None)
            items.append(o)
        return {"kind": res.kind + "List", "apiVersion": res.api_version, "metadata": meta, "items": items}

    # -- token reviews
    def review(self, body: dict) -> dict:
        spec = body.get("spec") or {}
        token = spec.get("token", "")
        wanted = spec.get("audiences") or self.api_audiences
        status: dict = {"authenticated": False, "user": {}}
        entry = self.service_accounts.get(token)
        if entry is None:
            status["error"] = "[invalid bearer token, token lookup failed]"
        else:
            ns, sa, token_auds = entry[0], entry[1], list(entry[2] if len(entry) > 2 else self.api_audiences)
            common = [a for a in wanted if a in token_auds]
            if not common:
                status["error"] = (f"[invalid bearer token, token audiences {json.dumps(token_auds)} is invalid "
                                   f"for the target audiences {json.dumps(list(wanted))}]")
            else:
                status = {"authenticated": True, "audiences": common, "user": {
                    "username": f"system:serviceaccount:{ns}:{sa}",
                    "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sa/{ns}/{sa}")),
                    "groups": ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]}}
        return {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}


# --------------------------------------------------------------------------------------------
# HTTP


def _discovery_resources(group: str) -> list[dict]:
    out = []
    for r in RESOURCES:
        if r.group != group:
            continue
        d = {"name": r.plural, "singularName": r.kind.lower(), "namespaced": r.namespaced, "kind": r.kind,
             "verbs": list(r.verbs)}
        if r.short_names:
            d["shortNames"] = list(r.short_names)
        out.append(d)
        for sub in r.subresources:
            out.append({"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                        "kind": r.kind, "verbs": ["get", "patch", "update"]})
    return out


def _group_entry(group: str, version: str) -> dict:
    gv = {"groupVersion": f"{group}/{version}", "version": version}
    return {"name": group, "versions": [gv], "preferredVersion": gv}


class _HTTPServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # TLS handshakes and connections cut by the fault hooks
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    api: KubeApiServer
    protocol_version = "HTTP/1.1"
    server_version = "kube-apiserver-standin"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        with self.api._lock:
            self.api._conns.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            with self.api._lock:
                self.api._conns.discard(self.connection)

    # -- plumbing
    def _send_json(self, code: int, body: dict):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.write(data)
        self.api.requests.append((self.command, self.path, code))

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return {}
        ctype = self.headers.get("Content-Type", "")
        if "yaml" in ctype:
            raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted media types include: application/json ({ctype})")
        try:
            return json.loads(raw)
        except ValueError as e:
            raise ApiError(400, "BadRequest", f"the body of the request could not be decoded: {e}")

    def _handle(self):
        try:
            if self.api._delay:
                time.sleep(self.api._delay)
            parsed = urllib.parse.urlsplit(self.path)
            path = parsed.path.rstrip("/") or "/"
            q = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()}
            if path in ("/healthz", "/livez", "/readyz"):
                data = b"ok"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(data)
                return
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or auth[7:].strip() not in self.api.tokens:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            self._route(path, q)
        except ApiError as e:
            self._send_json(e.code, e.status())
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        except Exception as e:  # a bug in the stand-in: answer 500, keep serving
            try:
                self._send_json(500, status_object(500, "InternalError", f"stand-in error: {e!r}"))
            except OSError:
                self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def _route(self, path: str, q: dict):
        m = self.command
        if path == "/version":
            return self._send_json(200, SERVER_VERSION)
        if path == "/api" and m == "GET":
            return self._send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                         "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                                         "serverAddress": f"127.0.0.1:{self.api.port}"}]})
        if path == "/apis" and m == "GET":
            return self._send_json(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                         "groups": [_group_entry(g, v) for g, v in GROUPS.items() if g]})
        if path.startswith("/openapi"):
            raise ApiError(404, "NotFound", "the stand-in serves no OpenAPI document")
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 2 and parts[1] == "v1":
            group, rest = "", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 2 and parts[1] in GROUPS:
            if len(parts) == 2 and m == "GET":
                return self._send_json(200, {"kind": "APIGroup", "apiVersion": "v1",
                                             **_group_entry(parts[1], GROUPS[parts[1]])})
            if len(parts) < 3 or parts[2] != GROUPS[parts[1]]:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            group, rest = parts[1], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            if m != "GET":
                raise ApiError(405, "MethodNotAllowed", "method not allowed")
            return self._send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                         "groupVersion": f"{group}/v1" if group else "v1",
                                         "resources": _discovery_resources(group)})
        ns = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            ns, rest = rest[1], rest[2:]
        res = BY_PLURAL.get((group, rest[0]))
        if res is None or (ns is not None and not res.namespaced):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if len(rest) > 3 or (sub and sub not in res.subresources):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if res.namespaced and ns is None and name is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        nskey = ns if res.namespaced else ""
        api = self.api
        if res.plural == "tokenreviews":
            if m != "POST" or name:
                raise ApiError(405, "MethodNotAllowed", "tokenreviews: only create is allowed")
            return self._send_json(201, api.review(self._body()))
        if name is None:
            if m == "GET":
                if q.get("watch") in ("1", "true", "True"):
                    return self._watch(res, ns if res.namespaced else None, q)
                return self._send_json(200, api.list(res, ns if res.namespaced else None, q))
            if m == "POST":
                if res.namespaced and ns is None:
                    raise ApiError(405, "MethodNotAllowed", "create needs a namespace")
                body = self._body()
                self._check_kind(res, body)
                return self._send_json(201, api._create(res, nskey, body))
            raise ApiError(405, "MethodNotAllowed", f"{m} on a collection is not supported by the stand-in")
        if m == "GET":
            return self._send_json(200, api._get(res, nskey, name))
        if m == "PUT":
            body = self._body()
            self._check_kind(res, body)
            return self._send_json(200, api._update(res, nskey, name, body, keep_status=bool(res.subresources),
                                                    status_only=sub == "status"))
        if m == "PATCH":
            return self._send_json(200, self._patch(res, nskey, name, sub))
        if m == "DELETE":
            if sub:
                raise ApiError(405, "MethodNotAllowed", "method not allowed")
            return self._send_json(200, api._delete(res, nskey, name, self._body()))
        raise ApiError(405, "MethodNotAllowed", "method not allowed")

    def _check_kind(self, res: Resource, body: dict):
        if body.get("kind", res.kind) != res.kind or body.get("apiVersion", res.api_version) != res.api_version:
            raise ApiError(400, "BadRequest", f"the API version in the data ({body.get('apiVersion')}) does not match "
                           f"the expected API version ({res.api_version})")

    def _patch(self, res: Resource, ns: str, name: str, sub: str | None) -> dict:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype == "application/apply-patch+yaml":
            raise ApiError(415, "UnsupportedMediaType", "server-side apply is not supported by the stand-in")
        body = self._body()
        for _ in range(10):  # retry on a concurrent write, as the real server does
            cur = self.api._get(res, ns, name)
            if ctype == "application/merge-patch+json":
                new = merge_patch(cur, body)
            elif ctype == "application/strategic-merge-patch+json":
                new = strategic_merge_patch(cur, body)
            elif ctype == "application/json-patch+json":
                new = json_patch(cur, body)
            else:
                raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json")
            patched_rv = (body.get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
            if not patched_rv:
                new.setdefault("metadata", {})["resourceVersion"] = cur["metadata"]["resourceVersion"]
            try:
                return self.api._update(res, ns, name, new, keep_status=bool(res.subresources) and sub != "status",
                                        status_only=sub == "status")
            except ApiError as e:
                if e.code != 409 or patched_rv:
                    raise
        raise ApiError(409, "Conflict", "too many concurrent writes")

    # -- watch
    def _watch(self, res: Resource, ns: str | None, q: dict):
        api, store = self.api, self.api.store
        label_ok = parse_label_selector(q.get("labelSelector"))
        field_ok = parse_field_selector(q.get("fieldSelector"), res)
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true", "True")
        timeout = float(q.get("timeoutSeconds") or api.watch_timeout)
        rv_param = q.get("resourceVersion", "")
        deadline = time.monotonic() + timeout

        def matches(obj):
            return obj is not None and (ns is None or obj["metadata"].get("namespace") == ns) and \
                label_ok(obj["metadata"].get("labels")) and field_ok(obj)

        initial = []
        with store.cond:
            if rv_param in ("", "0"):
                pos = store.rv
                initial = [{"type": "ADDED", "object": copy.deepcopy(o)} for k, o in sorted(store.objects.items())
                           if k[0] == res.plural and matches(o)]
            else:
                try:
                    pos = int(rv_param)
                except ValueError:
                    raise ApiError(400, "BadRequest", f"invalid resource version {rv_param!r}")
            ctl = _WatchControl()
            api._watches.add(ctl)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        api.requests.append((self.command, self.path, 200))
        self.close_connection = True

        def chunk(data: bytes):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def line(ev: dict) -> bytes:
            return json.dumps(ev).encode() + b"\n"

        try:
            for ev in initial:
                chunk(line(ev))
            next_bookmark = time.monotonic() + api.bookmark_interval
            while True:
                out, action, expired = [], None, None
                with store.cond:
                    while True:
                        now = time.monotonic()
                        if api._stopping.is_set() or now >= deadline:
                            action = "end"
                            break
                        if ctl.action:
                            action = ctl.action
                            break
                        if pos < store.compacted:
                            expired = store.compacted
                            break
                        paused = now < api._paused_until
                        if not paused and pos < store.rv:
                            for e in store.history[pos - store.compacted:]:
                                out.append(e)
                            pos = store.rv
                            break
                        if bookmarks and now >= next_bookmark:
                            break
                        wake = deadline
                        if bookmarks:
                            wake = min(wake, next_bookmark)
                        if paused:
                            wake = min(wake, api._paused_until)
                        store.cond.wait(max(0.0, min(wake - now, 0.5)))
                if expired is not None:
                    chunk(line({"type": "ERROR", "object": status_object(
                        410, "Expired", f"too old resource version: {pos} ({expired})")}))
                    break
                if action == "end":
                    break
                if action == "error":
                    chunk(line({"type": "ERROR", "object": status_object(
                        ctl.code, "Expired" if ctl.code == 410 else "InternalError",
                        f"too old resource version: {pos} ({store.compacted})" if ctl.code == 410 else "watch failed")}))
                    break
                if action == "reset":
                    data = line({"type": "BOOKMARK", "object": {"kind": res.kind, "apiVersion": res.api_version,
                                                                "metadata": {"resourceVersion": str(pos)}}})
                    chunk(data[: len(data) // 2])
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                for e in out:
                    typ = self._filtered_type(e, matches) if e.res is res else None
                    if typ:
                        chunk(line({"type": typ, "object": e.obj}))
                if bookmarks and time.monotonic() >= next_bookmark:
                    chunk(line({"type": "BOOKMARK", "object": {"kind": res.kind, "apiVersion": res.api_version,
                                                               "metadata": {"resourceVersion": str(pos)}}}))
                    next_bookmark = time.monotonic() + api.bookmark_interval
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        finally:
            with store.cond:
                api._watches.discard(ctl)

    @staticmethod
    def _filtered_type(e: Event, matches) -> str | None:
        now_in = e.type != "DELETED" and matches(e.obj)
        before = matches(e.prev) if e.prev is not None else False
        if e.type == "DELETED":
            return "DELETED" if matches(e.prev) else None
        if now_in and before:
            return "MODIFIED"
        if now_in:
            return "ADDED"
        if before:
            return "DELETED"
        return None


# --------------------------------------------------------------------------------------------
# CLI


def main(argv=None):
    ap = argparse.ArgumentParser(description="A stand-in Kubernetes API server (see the module docstring).")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--data", help="YAML or JSON file of objects (a list or multi-document) created at start")
    ap.add_argument("--token", action="append", default=[], help="a valid bearer token (repeatable; default admin-token)")
    ap.add_argument("--sa-token", action="append", default=[],
                    help="TOKEN=NAMESPACE:SERVICEACCOUNT[:AUD1,AUD2] for TokenReview (repeatable)")
    ap.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
    ap.add_argument("--kubeconfig", help="write a kubeconfig here (first token)")
    ap.add_argument("--bookmark-interval", type=float, default=1.0)
    args = ap.parse_args(argv)
    tokens = args.token or ["admin-token"]
    sas = {}
    for spec in args.sa_token:
        tok, rest = spec.split("=", 1)
        parts = rest.split(":")
        sas[tok] = (parts[0], parts[1], parts[2].split(",") if len(parts) > 2 else list(DEFAULT_API_AUDIENCES))
    api = KubeApiServer(tokens=tokens, service_accounts=sas, tls=not args.http, port=args.port,
                        bookmark_interval=args.bookmark_interval)
    if args.data:
        import yaml
        with open(args.data) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        for d in (x for doc in docs for x in (doc if isinstance(doc, list) else doc.get("items", [doc]) if doc.get("kind", "").endswith("List") else [doc])):
            api.create(d)
    api.start()
    print(f"serving {api.url}" + (f" (CA {api.ca_path})" if api.tls else ""), flush=True)
    if args.kubeconfig:
        api.kubeconfig(args.kubeconfig, tokens[0])
        print(f"kubeconfig {args.kubeconfig}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        api.stop()


if __name__ == "__main__":
    sys.exit(main())
