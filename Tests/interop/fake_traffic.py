"""fake_meshd.py's `GET /api/v1/traffic`: the observed-traffic contract over a real Prometheus,
to debug test_observed_traffic.py without meshd. It is NOT meshd's implementation and proves
nothing about it; it follows the same PromQL shapes (Sources/ObservedTraffic/TrafficQuery.swift).

services(resources) reads the fake's store: per ServiceEntry host its namespace, the subsets of
its DestinationRule, its workloads' `app` label and the weights of its VirtualService.
report(prometheus_url, services, window) asks Prometheus and shapes the answer; errors are
TrafficError(status, code, message).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request

SOURCES = {
    "client": {"label": "csm_service_name", "count": "grpc_client_attempt_duration_seconds_count",
               "errors": 'grpc_status!="OK"', "bucket": "grpc_client_attempt_duration_seconds_bucket", "ms": 1000},
    "destination": {"count": "grpc_server_call_duration_seconds_count", "errors": 'grpc_status!="OK"',
                    "bucket": "grpc_server_call_duration_seconds_bucket", "ms": 1000},
    "envoy": {"label": "envoy_cluster_name", "count": "envoy_cluster_upstream_rq_xx",
              "errors": 'envoy_response_code_class="5"', "bucket": "envoy_cluster_upstream_rq_time_bucket", "ms": 1},
}


class TrafficError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def parse_window(text: str) -> int:
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text or "")
    if not text or not m or not any(m.groups()):
        raise TrafficError(400, "malformed", f'window "{text}" is not a duration such as 30s, 1m or 5m')
    seconds = int(m.group(1) or 0) * 3600 + int(m.group(2) or 0) * 60 + int(m.group(3) or 0)
    if not 5 <= seconds <= 3600:
        raise TrafficError(400, "malformed", f'window "{text}" must be whole seconds from 5s to 1h')
    return seconds


def _fqdn(host: str, ns: str) -> str:
    return host if "." in host else f"{host}.{ns}.svc.cluster.local"


def services(resources: dict, host: str | None) -> list:
    docs = list(resources.values())
    out = []
    for se in (d for d in docs if d["kind"] == "ServiceEntry"):
        ns = se["metadata"]["namespace"]
        selector = (se["spec"].get("workloadSelector") or {}).get("labels") or {}
        for h in se["spec"].get("hosts") or []:
            h = _fqdn(h, ns)
            if host is not None and not (h == host or ("." not in host and h.startswith(host + "."))):
                continue
            dr = next((d for d in docs if d["kind"] == "DestinationRule" and _fqdn(d["spec"]["host"], d["metadata"]["namespace"]) == h), None)
            vs = next((d for d in docs if d["kind"] == "VirtualService"
                       and h in [_fqdn(x, d["metadata"]["namespace"]) for x in d["spec"].get("hosts") or []]), None)
            weights = None
            if vs is not None:
                weights = {}
                route = ((vs["spec"].get("http") or [{}])[0]).get("route") or []
                for r in route:
                    subset = r["destination"].get("subset", "")
                    weights[subset] = weights.get(subset, 0) + r.get("weight", 100 if len(route) == 1 else 0)
            out.append({"host": h, "namespace": ns, "app": selector.get("app"), "weights": weights,
                        "subsets": [{"name": s["name"], "labels": s.get("labels") or {}} for s in (dr or {}).get("spec", {}).get("subsets") or []]})
    return out


def _query(url: str, promql: str) -> list:
    full = url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(full, timeout=5) as r:
            body = json.loads(r.read())
    except (OSError, urllib.error.URLError, ValueError) as exc:
        raise TrafficError(503, "unavailable", f"Prometheus at {url} did not answer: {exc}")
    if body.get("status") != "success":
        raise TrafficError(503, "unavailable", f"Prometheus at {url} refused a query: {body.get('error')}")
    return body["data"]["result"]


def _cluster_values(url: str, spec: dict, measure: str, window: int, host: str) -> dict:
    label = spec["label"]
    host_regex = host.replace(".", "\\\\.")  # `\\.` in a PromQL string: a literal dot
    matchers = f'{label}=~"outbound\\\\|[0-9]+\\\\|[^|]*\\\\|{host_regex}"'
    if measure == "errors":
        matchers += "," + spec["errors"]
    metric = spec["bucket"] if measure in ("p50", "p99") else spec["count"]
    rate = f"rate({metric}{{{matchers}}}[{window}s])"
    rate = f'label_replace({rate}, "meshd_subset", "$1", "{label}", "outbound\\\\|[0-9]+\\\\|([^|]*)\\\\|.*")'
    if measure in ("p50", "p99"):
        q = "0.5" if measure == "p50" else "0.99"
        promql = f"histogram_quantile({q}, sum by (meshd_subset, le) ({rate})) * {spec['ms']}"
    else:
        promql = f"sum by (meshd_subset) ({rate})"
    return {s["metric"].get("meshd_subset", ""): float(s["value"][1]) for s in _query(url, promql)}


def _workload_values(url: str, spec: dict, measure: str, window: int, service: dict) -> dict:
    out = {}
    if not service["app"]:
        return out
    for subset in service["subsets"] or [{"name": "", "labels": {}}]:
        labels = {"namespace": service["namespace"], "app": service["app"], **subset["labels"]}
        matchers = ",".join(f'{re.sub(r"[^a-zA-Z0-9_]", "_", k)}="{v}"' for k, v in sorted(labels.items()))
        if measure == "errors":
            matchers += "," + spec["errors"]
        metric = spec["bucket"] if measure in ("p50", "p99") else spec["count"]
        rate = f"rate({metric}{{{matchers}}}[{window}s])"
        if measure in ("p50", "p99"):
            q = "0.5" if measure == "p50" else "0.99"
            promql = f"histogram_quantile({q}, sum by (le) ({rate})) * {spec['ms']}"
        else:
            promql = f"sum({rate})"
        result = _query(url, promql)
        if result:
            out[subset["name"]] = float(result[0]["value"][1])
    return out


def _number(v):
    return None if v is None or v != v or v in (float("inf"), float("-inf")) else round(v, 3)


def report(url: str, chosen: list, window: int) -> dict:
    answer = {"window": f"{window}s", "prometheus": url, "services": []}
    for service in chosen:
        sources = {}
        for name, spec in SOURCES.items():
            values = {}
            for measure in ("requests", "errors", "p50", "p99"):
                values[measure] = (_cluster_values(url, spec, measure, window, service["host"]) if "label" in spec
                                   else _workload_values(url, spec, measure, window, service))
            requests = values["requests"]
            total = sum(requests.values())
            rows = []
            for subset in sorted(requests):
                rps = requests[subset]
                if name == "destination" and rps == 0 and not values["errors"].get(subset):
                    continue
                rows.append({"subset": subset, "requestsPerSecond": _number(rps),
                             "sharePercent": _number(rps / total * 100) if total > 0 else None,
                             "errorPercent": _number(values["errors"].get(subset, 0) / rps * 100) if rps > 0 else None,
                             "p50Ms": _number(values["p50"].get(subset)), "p99Ms": _number(values["p99"].get(subset)),
                             "weight": (service["weights"] or {}).get(subset)})
            sources[name] = {"requestsPerSecond": _number(total), "rows": rows}
        answer["services"].append({"host": service["host"], "namespace": service["namespace"],
                                   "weights": service["weights"], "sources": sources})
    return answer
