"""A Prometheus stand-in for tests and benchmarks that need meshd's observed-traffic queries
answered (POST /api/v1/query, Sources/ObservedTraffic) without a traffic pipeline: proxyless
clients sending `rps[subset]` requests a second to each subset of each host, none failing, all
within the first latency bucket; the other sources have no series. It is not Prometheus and
proves nothing about PromQL: test_observed_traffic.py does that against the real one."""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.parse


class PrometheusStandIn:
    """Serves on a free loopback port (`url`); `queries` keeps what was asked, in order."""

    def __init__(self, hosts: list, rps: dict):
        self.hosts = list(hosts)
        self.rps = dict(rps)
        self.queries: list[str] = []
        self.lock = threading.Lock()
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                query = urllib.parse.parse_qs(body).get("query", [""])[0]
                with stand_in.lock:
                    stand_in.queries.append(query)
                answer = json.dumps({"status": "success", "data": {"resultType": "vector", "result": stand_in.answer(query)}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, query: str) -> list:
        if "grpc_client_attempt_duration_seconds" not in query:
            return []
        series = []
        for host in self.hosts:
            for subset, rate in self.rps.items():
                labels = {"meshd_host": host, "meshd_subset": subset}
                if "_bucket" in query:
                    series += [({**labels, "le": le}, rate) for le in ("0.005", "+Inf")]
                else:
                    series.append((labels, 0 if 'grpc_status!="OK"' in query else rate))
        return [{"metric": labels, "value": [time.time(), str(value)]} for labels, value in series]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
