#!/usr/bin/env python3
"""Benchmark of sidecar injection and the installer (issue 27), release binaries, not a test.

    .venv/bin/python Tests/interop/bench_injection.py --meshd /tmp/rbin/meshd --meshctl /tmp/rbin/meshctl \
        [--reviews 2000 --threads 8 --deployments 1000]

1. `/inject` answer time: meshd `--registry kubernetes` against the stand-in API server (as
   test_injection_webhook.py runs it), one HTTPS keep-alive connection, R AdmissionReviews of
   bookinfo's reviews-v1 pod (as its ReplicaSet creates it: generateName, pod-template-hash,
   the projected token volume) sent one after another: p50/p90/p99/max of the time from the
   request's first byte to the whole answer, checked to carry a JSONPatch. Then the same from
   T threads, each with its own connection: answers per second.
2. `meshctl kube-inject` of D Deployments (one file): wall time of the whole command, median of
   three runs, and per Deployment.
3. `meshctl install --wait=false` against an empty stand-in (every object created), then again
   (nothing changes): wall time of each, median of three fresh clusters.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import re
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml  # noqa: E402

from kube_apiserver import KubeApiServer  # noqa: E402

TOKEN = "bench-token"


def reviews_pod() -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"generateName": "reviews-v1-7d9f8b6c4d-", "namespace": "bookinfo",
                     "labels": {"app": "reviews", "version": "v1", "pod-template-hash": "7d9f8b6c4d"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "reviews-v1-7d9f8b6c4d",
                                          "uid": "0b9a3c1e-1111-2222-3333-444455556666", "controller": True}]},
        "spec": {"serviceAccountName": "bookinfo-reviews",
                 "containers": [{"name": "reviews", "image": "docker.io/istio/examples-bookinfo-reviews-v1:1.20.2",
                                 "ports": [{"containerPort": 9080}],
                                 "volumeMounts": [{"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                                                   "readOnly": True}]}],
                 "volumes": [{"name": "kube-api-access", "projected": {"sources": [
                     {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                     {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}]},
    }


def review(uid: int) -> bytes:
    return json.dumps({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": f"bench-{uid}", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                    "resource": {"group": "", "version": "v1", "resource": "pods"},
                    "namespace": "bookinfo", "operation": "CREATE", "object": reviews_pod(), "dryRun": False},
    }).encode()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def start_meshd(binary: str, kubeconfig: str, workdir: str) -> tuple[subprocess.Popen, str, Path]:
    log = Path(workdir) / "meshd.log"
    proc = subprocess.Popen(
        [binary, "--registry", "kubernetes", "--kubeconfig", kubeconfig, "--data-dir", str(Path(workdir) / "data"),
         "--grpc-port", "0", "--admin-port", "0", "--tls-port", "0", "--renew-port", "0", "--webhook-port", "0",
         "--log-level", "info"],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = re.search(r"webhook_address=(\S+):(\d+)", log.read_text(errors="replace"))
        if m:
            return proc, f"{m.group(1)}:{m.group(2)}", log
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("meshd did not log its webhook address:\n" + log.read_text(errors="replace")[-2000:])


def bench_webhook(args) -> None:
    with tempfile.TemporaryDirectory() as work:
        api = KubeApiServer(tokens={TOKEN}, workdir=work)
        api.start()
        try:
            kubeconfig = api.kubeconfig(str(Path(work) / "kubeconfig"), TOKEN)
            proc, address, _ = start_meshd(args.meshd, kubeconfig, work)
            try:
                host, port = address.rsplit(":", 1)
                context = ssl._create_unverified_context()
                connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=10)
                bodies = [review(i) for i in range(args.reviews)]
                for body in bodies[:50]:  # warm-up: TLS handshake, first allocations
                    connection.request("POST", "/inject", body, {"Content-Type": "application/json"})
                    connection.getresponse().read()
                times = []
                for body in bodies:
                    t0 = time.perf_counter()
                    connection.request("POST", "/inject", body, {"Content-Type": "application/json"})
                    answer = json.loads(connection.getresponse().read())
                    times.append(time.perf_counter() - t0)
                    assert answer["response"]["patchType"] == "JSONPatch", answer
                patch = json.loads(base64.b64decode(answer["response"]["patch"]))
                print(f"/inject, one connection, {len(times)} reviews: p50 {percentile(times, 50) * 1e3:.2f} ms, "
                      f"p90 {percentile(times, 90) * 1e3:.2f} ms, p99 {percentile(times, 99) * 1e3:.2f} ms, "
                      f"max {max(times) * 1e3:.2f} ms; {len(patch)} patch operations, "
                      f"{len(bodies[0])} bytes in, answer {len(answer['response']['patch'])} bytes of base64")

                done = [0] * args.threads

                def worker(i: int, stop: float) -> None:
                    c = http.client.HTTPSConnection(host, int(port), context=context, timeout=10)
                    body = review(i)
                    while time.perf_counter() < stop:
                        c.request("POST", "/inject", body, {"Content-Type": "application/json"})
                        c.getresponse().read()
                        done[i] += 1
                stop = time.perf_counter() + args.seconds
                threads = [threading.Thread(target=worker, args=(i, stop)) for i in range(args.threads)]
                t0 = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                elapsed = time.perf_counter() - t0
                print(f"/inject, {args.threads} connections for {args.seconds:.0f} s: {sum(done) / elapsed:.0f} answers/s "
                      f"(client and server share the machine's 2 cores)")
            finally:
                proc.terminate()
                proc.wait(timeout=15)
        finally:
            api.stop()


def bench_kube_inject(args) -> None:
    docs = []
    for i in range(args.deployments):
        pod = reviews_pod()
        docs.append({"apiVersion": "apps/v1", "kind": "Deployment",
                     "metadata": {"name": f"app-{i}", "namespace": "bookinfo"},
                     "spec": {"selector": {"matchLabels": {"app": f"app-{i}"}},
                              "template": {"metadata": {"labels": {"app": f"app-{i}", "version": "v1"}},
                                           "spec": pod["spec"]}}})
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "apps.yaml"
        path.write_text(yaml.safe_dump_all(docs))
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            p = subprocess.run([args.meshctl, "kube-inject", "-f", str(path)], capture_output=True, timeout=300)
            times.append(time.perf_counter() - t0)
            assert p.returncode == 0, p.stderr
        injected = p.stdout.count(b"name: istio-proxy")
        assert injected == args.deployments, injected
        median = statistics.median(times)
        print(f"kube-inject of {args.deployments} Deployments ({path.stat().st_size // 1024} KiB): median {median:.2f} s "
              f"of 3, {median / args.deployments * 1e3:.2f} ms per Deployment")


def bench_install(args) -> None:
    first, second = [], []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as work:
            api = KubeApiServer(tokens={TOKEN}, workdir=work)
            api.start()
            try:
                kubeconfig = api.kubeconfig(str(Path(work) / "kubeconfig"), TOKEN)
                for times in (first, second):
                    t0 = time.perf_counter()
                    p = subprocess.run([args.meshctl, "install", "--kubeconfig", kubeconfig, "--wait=false"],
                                       capture_output=True, text=True, timeout=120)
                    times.append(time.perf_counter() - t0)
                    assert p.returncode == 0, p.stderr
                changed = re.search(r"\((\d+) changed\)", p.stderr).group(1)
                assert changed == "0", p.stderr
            finally:
                api.stop()
    print(f"meshctl install --wait=false against the stand-in: first (creates) median {statistics.median(first):.2f} s, "
          f"second (changes nothing) median {statistics.median(second):.2f} s, of 3 clusters")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meshd", required=True)
    parser.add_argument("--meshctl", required=True)
    parser.add_argument("--reviews", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--deployments", type=int, default=1000)
    args = parser.parse_args()
    bench_webhook(args)
    bench_kube_inject(args)
    bench_install(args)


if __name__ == "__main__":
    main()
