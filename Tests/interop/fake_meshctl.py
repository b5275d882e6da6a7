#!/usr/bin/env python3
"""A stand-in for meshctl (only what test_meshctl.py uses), to debug the suite without the
real binary: `MESHCTL_BIN=Tests/interop/fake_meshctl.py`. It proves nothing about meshctl."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request

import yaml


def call(server, method, path, body=None):
    req = urllib.request.Request(server + path, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/yaml")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def fail(body: bytes) -> int:
    try:
        print("error: " + json.loads(body)["error"]["detail"], file=sys.stderr)
    except Exception:
        print("error: " + body.decode(errors="replace"), file=sys.stderr)
    return 1


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--server", default="http://127.0.0.1:15014")
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("apply")
    a.add_argument("-f", required=True)
    g = sub.add_parser("get")
    g.add_argument("kind")
    g.add_argument("name", nargs="?")
    g.add_argument("-n", default=None)
    g.add_argument("-o", default="table")
    d = sub.add_parser("delete")
    d.add_argument("kind")
    d.add_argument("name")
    d.add_argument("-n", default="default")
    sub.add_parser("proxy-status")
    t = sub.add_parser("token").add_subparsers(dest="sub", required=True).add_parser("create")
    t.add_argument("-n", "--namespace", default="default")
    t.add_argument("--service-account", required=True)
    t.add_argument("--ttl", default="24h")
    sub.add_parser("ca").add_subparsers(dest="sub", required=True).add_parser("root")
    b = sub.add_parser("bootstrap")
    b.add_argument("--xds-address")
    b.add_argument("--node-id", default="client")
    b.add_argument("--cert-dir")
    x = sub.add_parser("x").add_subparsers(dest="sub", required=True).add_parser("traffic")
    x.add_argument("host")
    x.add_argument("--window", default="30s")
    x.add_argument("-o", "--output", default="table")
    args = p.parse_args()
    s = args.server
    if args.cmd == "apply":
        status, body = call(s, "POST", "/api/v1/apply", open(args.f, "rb").read())
        if status != 200:
            return fail(body)
        for r in json.loads(body)["results"]:
            print(f"{r['kind'].lower()} {r['namespace']}/{r['name']} {r['action']}")
    elif args.cmd == "get":
        path = f"/api/v1/config/{args.kind}/{args.n or 'default'}/{args.name}" if args.name else (
            f"/api/v1/config/{args.kind}" + (f"?namespace={args.n}" if args.n else ""))
        status, body = call(s, "GET", path)
        if status != 200:
            return fail(body)
        obj = json.loads(body)
        print(yaml.safe_dump(obj) if args.o == "yaml" else json.dumps(obj, indent=2))
    elif args.cmd == "delete":
        status, body = call(s, "DELETE", f"/api/v1/config/{args.kind}/{args.n}/{args.name}")
        if status != 200:
            return fail(body)
        print(f"{args.kind} {args.n}/{args.name} deleted")
    elif args.cmd == "token":
        body = json.dumps({"namespace": args.namespace, "serviceAccount": args.service_account, "ttl": args.ttl})
        req = urllib.request.Request(s + "/api/v1/tokens", data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                print(json.loads(r.read())["token"])
        except urllib.error.HTTPError as e:
            return fail(e.read())
    elif args.cmd == "ca":
        status, body = call(s, "GET", "/api/v1/ca/root")
        if status != 200:
            return fail(body)
        sys.stdout.write(body.decode())
    elif args.cmd == "x":
        status, body = call(s, "GET", f"/api/v1/traffic?host={args.host}&window={args.window}")
        if status != 200:
            print("error: " + json.loads(body)["error"]["message"], file=sys.stderr)
            return 1
        answer = json.loads(body)
        if args.output == "json":
            print(json.dumps(answer, indent=2))
            return 0
        for svc in answer["services"]:
            print(f"{svc['host']} (over {answer['window']}, from {answer['prometheus']})")
            rows = [["SOURCE", "SUBSET", "WEIGHT", "OBSERVED", "RPS", "ERRORS", "P50", "P99"]]
            for source in ("client", "destination", "envoy"):
                found = svc["sources"][source]["rows"]
                if not found:
                    rows.append([source, "-", "-", "no traffic seen", "-", "-", "-", "-"])
                for r in found:
                    pct = (lambda v: "-" if v is None else f"{v:.1f}%")
                    ms = (lambda v: "-" if v is None else f"{v:.2f}ms")
                    rows.append([source, r["subset"] or "(none)", "-" if r["weight"] is None else f"{r['weight']}%",
                                 pct(r["sharePercent"]), f"{r['requestsPerSecond']:.1f}", pct(r["errorPercent"]),
                                 ms(r["p50Ms"]), ms(r["p99Ms"])])
            widths = [max(len(r[i]) for r in rows) for i in range(8)]
            for r in rows:
                print("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    elif args.cmd == "proxy-status":
        status, body = call(s, "GET", "/debug/syncz")
        for e in json.loads(body):
            print(e["proxyID"], "SYNCED" if e["synced"] else "STALE")
    elif args.cmd == "bootstrap":
        host = s.split("://")[-1].rsplit(":", 1)[0]
        boot = {"xds_servers": [{"server_uri": args.xds_address or f"{host}:15010",
                                 "channel_creds": [{"type": "insecure"}],
                                 "server_features": ["xds_v3"]}], "node": {"id": args.node_id}}
        if args.cert_dir:
            d = os.path.abspath(args.cert_dir)
            boot["certificate_providers"] = {"default": {"plugin_name": "file_watcher", "config": {
                "certificate_file": os.path.join(d, "cert-chain.pem"),
                "private_key_file": os.path.join(d, "key.pem"),
                "ca_certificate_file": os.path.join(d, "root-cert.pem"),
                "refresh_interval": "900s"}}}
        print(json.dumps(boot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
