#!/usr/bin/env python3
"""A stand-in for meshd that implements only the contract the interop tests rely on.

It is NOT meshd and proves nothing about it: it lets the interop suite itself be debugged
without a meshd binary (`MESHD_BIN=Tests/interop/fake_meshd.py pytest Tests/interop`).
Same command line, same log lines, the admin API subset of docs/admin-api.md the tests use,
xDS from fake_ads.FakeAds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402
import yaml  # noqa: E402

import fake_ads  # noqa: E402
import fake_traffic  # noqa: E402
from fake_ca import FakeCA  # noqa: E402
from google.protobuf import struct_pb2  # noqa: E402

MAX_BODY = 1024 * 1024
KINDS = {
    "VirtualService": ("virtualservice", "virtualservices", "vs"),
    "DestinationRule": ("destinationrule", "destinationrules", "dr"),
    "ServiceEntry": ("serviceentry", "serviceentries", "se"),
    "WorkloadEntry": ("workloadentry", "workloadentries", "we"),
}


def kind_of(name: str) -> str | None:
    for kind, aliases in KINDS.items():
        if name.lower() in aliases:
            return kind
    return None


class ApiError(Exception):
    STATUS = {"malformed": 400, "unknownKind": 400, "invalid": 422, "notFound": 404, "tooLarge": 413}

    def __init__(self, code, message, resource=None, field=None):
        super().__init__(message)
        self.code, self.message, self.resource, self.field = code, message, resource, field

    def body(self) -> dict:
        detail = ": ".join(x for x in (self.resource, self.field, self.message) if x)
        return {"error": {"code": self.code, "message": self.message, "resource": self.resource,
                          "field": self.field, "detail": detail}}


def fqdn(host: str, ns: str) -> str:
    return host if "." in host else f"{host}.{ns}.svc.cluster.local"


def validate(doc: dict) -> None:
    kind, meta = doc["kind"], doc.get("metadata") or {}
    ref = f"{kind} {meta.get('namespace', 'default')}/{meta.get('name')}"
    if not meta.get("name"):
        raise ApiError("invalid", "is required", ref, "metadata.name")
    if kind == "VirtualService":
        for i, http in enumerate((doc.get("spec") or {}).get("http") or []):
            routes = http.get("route") or []
            for j, r in enumerate(routes):
                if not isinstance(r.get("weight", 0), int) or r.get("weight", 0) < 0:
                    raise ApiError("invalid", "must not be negative", ref, f"spec.http[{i}].route[{j}].weight")
            if len(routes) > 1 and sum(r.get("weight", 0) for r in routes) == 0:
                raise ApiError("invalid", "weights must not all be zero", ref, f"spec.http[{i}].route")


class Store:
    def __init__(self, data_dir: str):
        self.path = Path(data_dir) / "fake-store.json"
        self.lock = threading.Lock()
        if self.path.exists():
            state = json.loads(self.path.read_text())
        else:
            state = {"revision": 0, "resources": {}}
        self.revision, self.resources = state["revision"], state["resources"]

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump({"revision": self.revision, "resources": self.resources}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    @staticmethod
    def key(doc) -> str:
        return f"{doc['kind']}/{doc['metadata'].get('namespace', 'default')}/{doc['metadata']['name']}"

    def apply(self, docs: list) -> dict:
        with self.lock:
            results, changed = [], []
            for doc in docs:
                meta = doc.setdefault("metadata", {})
                meta.setdefault("namespace", "default")
                key = self.key(doc)
                old = self.resources.get(key)
                new_body = {"spec": doc.get("spec"), "labels": meta.get("labels") or {},
                            "annotations": meta.get("annotations") or {}}
                if old is None:
                    action = "created"
                elif {"spec": old["spec"], "labels": old["metadata"]["labels"],
                      "annotations": old["metadata"]["annotations"]} == new_body:
                    action = "unchanged"
                else:
                    action = "configured"
                results.append({"kind": doc["kind"], "namespace": meta["namespace"], "name": meta["name"], "action": action})
                if action != "unchanged":
                    changed.append((key, doc, new_body))
            if changed:
                self.revision += 1
                for key, doc, body in changed:
                    self.resources[key] = {
                        "apiVersion": doc.get("apiVersion", "networking.istio.io/v1"), "kind": doc["kind"],
                        "metadata": {"name": doc["metadata"]["name"], "namespace": doc["metadata"]["namespace"],
                                     "labels": body["labels"], "annotations": body["annotations"],
                                     "resourceVersion": str(self.revision)},
                        "spec": body["spec"],
                    }
                self.save()
            return {"revision": self.revision, "results": results, "warnings": []}, bool(changed)

    def delete(self, refs: list) -> tuple:
        with self.lock:
            results, hit = [], False
            for kind, ns, name in refs:
                key = f"{kind}/{ns}/{name}"
                found = self.resources.pop(key, None) is not None
                hit = hit or found
                results.append({"kind": kind, "namespace": ns, "name": name, "action": "deleted" if found else "notFound"})
            if hit:
                self.revision += 1
                self.save()
            return {"revision": self.revision, "results": results}, hit

    def snapshot(self):
        with self.lock:
            return self.revision, json.loads(json.dumps(self.resources))


TRUST_DOMAIN = "cluster.local"


def translate(resources: dict) -> dict:
    by_kind = {k: [r for r in resources.values() if r["kind"] == k] for k in KINDS}
    out = {t: {} for t in ("LDS", "RDS", "CDS", "EDS")}
    subsets, routes, mutual = {}, {}, set()
    for dr in by_kind["DestinationRule"]:
        ns = dr["metadata"]["namespace"]
        subsets[fqdn(dr["spec"]["host"], ns)] = dr["spec"].get("subsets") or []
        if (((dr["spec"].get("trafficPolicy") or {}).get("tls") or {}).get("mode")) == "ISTIO_MUTUAL":
            mutual.add(fqdn(dr["spec"]["host"], ns))
    for vs in by_kind["VirtualService"]:
        ns = vs["metadata"]["namespace"]
        http = (vs["spec"].get("http") or [{}])[0]
        for h in vs["spec"].get("hosts") or []:
            routes[fqdn(h, ns)] = [(fqdn(r["destination"]["host"], ns), r["destination"].get("subset", ""),
                                    r.get("weight", 100 if len(http.get("route", [])) == 1 else 0))
                                   for r in http.get("route") or []]
    for se in by_kind["ServiceEntry"]:
        ns, spec = se["metadata"]["namespace"], se["spec"]
        selector = (spec.get("workloadSelector") or {}).get("labels") or {}
        workloads = [w for w in by_kind["WorkloadEntry"] if w["metadata"]["namespace"] == ns
                     and all((w["spec"].get("labels") or {}).get(k) == v for k, v in selector.items())]
        for host in spec.get("hosts") or []:
            for port in spec.get("ports") or []:
                num = port["number"]

                def eps(labels):
                    return [(w["spec"]["address"], (w["spec"].get("ports") or {}).get(port.get("name"), num))
                            for w in workloads
                            if all((w["spec"].get("labels") or {}).get(k) == v for k, v in labels.items())]

                name = f"{host}:{num}"
                out["LDS"][name] = fake_ads.api_listener(name)
                clusters = {f"outbound|{num}||{host}": {}}
                for s in subsets.get(host, []):
                    clusters[f"outbound|{num}|{s['name']}|{host}"] = s.get("labels") or {}
                sans = sorted({f"spiffe://{TRUST_DOMAIN}/ns/{ns}/sa/{w['spec'].get('serviceAccount') or 'default'}"
                               for w in workloads}) if host in mutual else None
                for cname, labels in clusters.items():
                    out["CDS"][cname] = fake_ads.eds_cluster(cname, sans)
                    telemetry = struct_pb2.Struct()
                    telemetry.update({"service_name": cname, "service_namespace": ns})
                    out["CDS"][cname].metadata.filter_metadata["com.google.csm.telemetry_labels"].CopyFrom(telemetry)
                    out["EDS"][cname] = fake_ads.load_assignment(cname, eps(labels))
                weights = {f"outbound|{num}|{s}|{h}": w for h, s, w in routes.get(host, [])} or {
                    f"outbound|{num}||{host}": 100}
                out["RDS"][name] = fake_ads.route_config(name, [host, name], weights)
    return out


class FakeMeshd:
    def __init__(self, args):
        self.store = Store(args.data_dir)
        self.ca = FakeCA(args.data_dir, args.ca_dir, args.trust_domain)
        key, chain = self.ca.serving_identity(args.tls_san or ["meshd.mesh-system.svc", "localhost"],
                                              [args.listen_address])
        creds = grpc.ssl_server_credentials([(key, chain)])
        self.prometheus_url = args.prometheus_url
        self.trusted = {a.strip() for a in args.admin_trusted_addresses.split(",") if a.strip()}
        self.ads = fake_ads.FakeAds().start(args.listen_address, args.grpc_port, handlers=[self.ca.handler()],
                                            tls=(args.tls_port, creds))
        self.debounce = float(args.debounce_after.rstrip("ms")) / (1000 if args.debounce_after.endswith("ms") else 1)
        self.pushed_revision = -1
        self.timer = None
        self.timer_lock = threading.Lock()
        self.push()

    def push(self) -> None:
        with self.timer_lock:
            self.timer = None
        revision, resources = self.store.snapshot()
        self.ads.set_resources(translate(resources))
        self.pushed_revision = revision

    def changed(self) -> None:
        with self.timer_lock:
            if self.timer is None:
                self.timer = threading.Timer(self.debounce, self.push)
                self.timer.daemon = True
                self.timer.start()

    def syncz(self) -> list:
        out = []
        with self.ads.lock:
            for node, types in self.ads.status.items():
                entry = {"proxyID": node, "connectedAt": "", "types": {}}
                for t, s in types.items():
                    status = "NOT SENT" if not s.get("sent") else ("SYNCED" if s.get("acked") == s.get("sent") else "STALE")
                    entry["types"][t] = {"status": status, "sentVersion": s.get("sent"), "ackedVersion": s.get("acked"),
                                         "sentNonce": s.get("nonce"), "error": s.get("error")}
                entry["synced"] = all(v["status"] == "SYNCED" for v in entry["types"].values())
                out.append(entry)
        return out


def parse_docs(body: bytes) -> list:
    try:
        loaded = [d for d in yaml.safe_load_all(body.decode("utf-8")) if d is not None]
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ApiError("malformed", f"cannot parse body: {str(exc).splitlines()[0]}")
    docs = []
    for d in loaded:
        if isinstance(d, list):
            docs += d
        elif isinstance(d, dict) and d.get("kind") == "List":
            docs += d.get("items") or []
        else:
            docs.append(d)
    for d in docs:
        if not isinstance(d, dict) or "kind" not in d:
            raise ApiError("malformed", "a document is not an object with a kind")
        kind = kind_of(str(d["kind"]))
        if kind is None:
            raise ApiError("unknownKind", f"unknown kind {d['kind']}")
        d["kind"] = kind
    return docs


def make_handler(m: FakeMeshd):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            sys.stderr.write("admin: " + (fmt % args) + "\n")

        def send(self, status: int, obj, content_type="application/json"):
            data = obj if isinstance(obj, bytes) else (json.dumps(obj) + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self) -> bytes:
            n = int(self.headers.get("Content-Length") or 0)
            if n > MAX_BODY:
                self.close_connection = True
                raise ApiError("tooLarge", f"body of {n} bytes is over {MAX_BODY}")
            return self.rfile.read(n)

        def route(self, method):
            try:
                path, _, query = self.path.partition("?")
                parts = [p for p in path.split("/") if p]
                if method == "GET" and path == "/ready":
                    return self.send(200, b"ready", "text/plain")
                if parts[:1] in (["api"], ["debug"]) and self.client_address[0] not in m.trusted:
                    if self.headers.get("Authorization", "") != "Bearer " + m.ca.admin_token:
                        self.body()
                        return self.send(401, {"error": {"code": "unauthenticated", "message": "admin token required"}})
                if method == "GET" and path == "/api/v1/ca/root":
                    return self.send(200, m.ca.root.encode(), "application/x-pem-file")
                if method == "POST" and path == "/api/v1/tokens":
                    try:
                        token = m.ca.token_request(self.body())
                    except (ValueError, KeyError) as exc:
                        raise ApiError("malformed", f"bad token request: {exc}")
                    return self.send(200, {"token": token})
                if method == "GET" and path == "/debug/syncz":
                    return self.send(200, m.syncz())
                if method == "GET" and path == "/debug/push_status":
                    return self.send(200, {"revision": m.pushed_revision, "pushContextVersion": str(m.pushed_revision)})
                if method == "GET" and path == "/metrics":
                    text = "".join(f'pilot_xds_pushes{{type="{t.lower()}"}} {n}\n' for t, n in m.ads.pushes.items())
                    text += f"meshd_config_revision {m.store.revision}\n"
                    text += m.ca.metrics()
                    return self.send(200, text.encode(), "text/plain")
                if method == "GET" and path == "/api/v1/overview":
                    _, resources = m.store.snapshot()
                    return self.send(200, {"revision": m.pushed_revision,
                                           "services": fake_traffic.services(resources, None), "proxies": m.syncz()})
                if method == "GET" and path == "/api/v1/traffic":
                    params = dict(urllib.parse.parse_qsl(query))
                    try:
                        window = fake_traffic.parse_window(params.get("window", "30s"))
                        if not m.prometheus_url:
                            raise fake_traffic.TrafficError(503, "unavailable", "observed traffic needs --prometheus-url")
                        _, resources = m.store.snapshot()
                        chosen = fake_traffic.services(resources, params.get("host"))
                        if "host" in params and not chosen:
                            raise ApiError("notFound", f'service "{params["host"]}" not found')
                        return self.send(200, fake_traffic.report(m.prometheus_url, chosen, window))
                    except fake_traffic.TrafficError as err:
                        return self.send(err.status, {"error": {"code": err.code, "message": err.message}})
                if method == "POST" and path in ("/api/v1/apply", "/api/v1/delete"):
                    docs = parse_docs(self.body())
                    if path.endswith("apply"):
                        for d in docs:
                            validate(d)
                        result, changed = m.store.apply(docs)
                    else:
                        result, changed = m.store.delete(
                            [(d["kind"], d.get("metadata", {}).get("namespace", "default"), d["metadata"]["name"]) for d in docs])
                    if changed:
                        m.changed()
                    return self.send(200, result)
                if parts[:3] == ["api", "v1", "config"] and len(parts) in (4, 6):
                    kind = kind_of(parts[3])
                    if kind is None:
                        raise ApiError("unknownKind", f"unknown kind {parts[3]}")
                    _, resources = m.store.snapshot()
                    if len(parts) == 4 and method == "GET":
                        ns = dict(re.findall(r"(\w+)=([^&]*)", query)).get("namespace")
                        items = [r for r in resources.values() if r["kind"] == kind
                                 and (ns is None or r["metadata"]["namespace"] == ns)]
                        items.sort(key=lambda r: (r["metadata"]["namespace"], r["metadata"]["name"]))
                        return self.send(200, {"items": items})
                    key = f"{kind}/{parts[4]}/{parts[5]}"
                    if method == "GET":
                        if key not in resources:
                            raise ApiError("notFound", f"{key} not found")
                        return self.send(200, resources[key])
                    if method == "DELETE":
                        result, changed = m.store.delete([(kind, parts[4], parts[5])])
                        if not changed:
                            raise ApiError("notFound", f"{key} not found")
                        m.changed()
                        return self.send(200, result)
                raise ApiError("notFound", f"no route {method} {path}")
            except ApiError as err:
                self.send(ApiError.STATUS[err.code], err.body())

        def do_GET(self):
            self.route("GET")

        def do_POST(self):
            self.route("POST")

        def do_DELETE(self):
            self.route("DELETE")

    return Handler


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", required=True)
    p.add_argument("--grpc-port", type=int, default=15010)
    p.add_argument("--admin-port", type=int, default=15014)
    p.add_argument("--listen-address", default="127.0.0.1")
    p.add_argument("--debounce-after", default="100ms")
    p.add_argument("--debounce-max", default="10s")
    p.add_argument("--tls-port", type=int, default=15012)
    p.add_argument("--tls-san", action="append", default=[])
    p.add_argument("--trust-domain", default="cluster.local")
    p.add_argument("--ca-dir")
    p.add_argument("--admin-trusted-addresses", default="127.0.0.1,::1")
    p.add_argument("--renew-port", type=int, default=15013)  # accepted, not served by the fake
    p.add_argument("--prometheus-url")
    args = p.parse_args()
    global TRUST_DOMAIN
    TRUST_DOMAIN = args.trust_domain
    m = FakeMeshd(args)
    httpd = ThreadingHTTPServer((args.listen_address, args.admin_port), make_handler(m))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    print(f"fake meshd xds_address={args.listen_address}:{m.ads.port}", file=sys.stderr, flush=True)
    print(f"fake meshd admin_address={args.listen_address}:{httpd.server_address[1]}", file=sys.stderr, flush=True)
    print(f"fake meshd tls_address={args.listen_address}:{m.ads.tls_port}", file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    print("fake meshd: SIGTERM, shutting down", file=sys.stderr, flush=True)
    httpd.shutdown()
    m.ads.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
