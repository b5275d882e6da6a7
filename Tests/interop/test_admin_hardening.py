"""The admin port's hardening against a real meshd (docs/security.md, "Admin API"):

- minting a workload token needs the admin token even from loopback, unless meshd runs with
  --allow-loopback-token-minting; meshctl finds the token in --data-dir as before;
- meshctl sends the data-dir token to loopback servers only, never to a name that merely starts
  with "127.";
- browser requests (Origin / Sec-Fetch-Site) are not trusted by address; foreign Origin, cross-site
  requests and foreign Host names (DNS rebinding) get 403;
- apply bodies must be declared YAML or JSON (415 otherwise);
- /ready answers JSON naming degradations, /healthz is the liveness probe;
- the data directory is 0700 and config.db 0600;
- a 500 never shows SQL or internal error text, only an error id that the log repeats.
"""

from __future__ import annotations

import http.server
import json
import os
import sqlite3
import time
import stat
import subprocess
import threading
from pathlib import Path

import pytest

import configs
from meshd_process import launcher, meshctl_bin, run_meshctl

TOKEN_BODY = json.dumps({"namespace": "default", "serviceAccount": "reviews", "ttl": "1h"})


def error_of(r, status: int, code: str | None = None) -> dict:
    assert r.status == status, f"expected HTTP {status}, got {r.status}: {r.text[:1000]}"
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), f"not a JSON error: {r.text[:1000]}"
    if code is not None:
        assert body["error"].get("code") == code, body
    return body["error"]


def bearer(meshd) -> dict:
    return {"Authorization": "Bearer " + meshd.admin_token()}


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ------------------------------------------------------------------ token minting


def test_minting_from_loopback_needs_the_admin_token(meshd):
    err = error_of(meshd.create_token_raw("default", "reviews", with_admin_token=False), 401, "unauthenticated")
    assert "admin token" in err["message"], err
    r = meshd.create_token_raw("default", "reviews", with_admin_token=True)
    assert r.status == 200, r
    assert r.json()["token"].count(".") == 2, r.text


def test_loopback_minting_can_be_switched_back_on(meshd_factory):
    m = meshd_factory(["--allow-loopback-token-minting"])
    r = m.create_token_raw("default", "reviews", with_admin_token=False)
    assert r.status == 200, f"--allow-loopback-token-minting: HTTP {r.status}: {r.text[:500]}"


def test_meshctl_token_create_uses_the_data_dir_token(meshd, tmp_path):
    out = run_meshctl(meshd.admin_url, "--data-dir", meshd.data_dir, "token", "create",
                      "-n", "default", "--service-account", "reviews").stdout.strip()
    assert out.count(".") == 2, f"meshctl token create printed {out!r}"
    # without the data directory (nothing readable in the default places) meshd refuses it
    env = {k: v for k, v in os.environ.items() if k not in ("MESHCTL_TOKEN", "MESHD_DATA_DIR", "MESHCTL_SERVER")}
    env["HOME"] = str(tmp_path)
    p = subprocess.run([*launcher(meshctl_bin()), "--server", meshd.admin_url, "token", "create",
                        "-n", "default", "--service-account", "reviews"],
                       capture_output=True, text=True, timeout=30, env=env, stdin=subprocess.DEVNULL)
    assert p.returncode != 0, f"token create without the admin token succeeded: {p.stdout!r}"
    assert "admin token" in p.stderr, p.stderr


# ------------------------------------------------------------------ meshctl: where the data-dir token goes


class RecordingServer:
    """A tiny admin API stand-in on 127.0.0.1 that records each request's Authorization header."""

    def __init__(self):
        self.seen: list[str | None] = []
        seen = self.seen

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append(self.headers.get("Authorization"))
                body = b'{"items": []}\n'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def recording_server():
    s = RecordingServer()
    try:
        yield s
    finally:
        s.close()


def test_meshctl_sends_the_data_dir_token_only_to_loopback(recording_server, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "admin-token").write_text("data-dir-token\n")

    def get_vs(server: str, *extra: str) -> str | None:
        before = len(recording_server.seen)
        env = {k: v for k, v in os.environ.items() if k not in ("MESHCTL_TOKEN", "MESHCTL_SERVER")}
        p = subprocess.run([*launcher(meshctl_bin()), "--server", server, "--data-dir", str(data), *extra,
                            "get", "vs", "-o", "json"],
                           capture_output=True, text=True, timeout=30, env=env, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, f"meshctl --server {server}: {p.stderr}"
        assert len(recording_server.seen) == before + 1, recording_server.seen
        return recording_server.seen[-1]

    port = recording_server.port
    assert get_vs(f"http://127.0.0.1:{port}") == "Bearer data-dir-token"
    # "127.1" reaches 127.0.0.1 through the resolver, but it is a host *name* that merely starts
    # with "127." (like 127.0.0.1.evil.example): the data-dir token must not go there
    assert get_vs(f"http://127.1:{port}") is None
    # an explicit token goes wherever --server points
    assert get_vs(f"http://127.1:{port}", "--token", "given") == "Bearer given"


# ------------------------------------------------------------------ browsers, Host, content types


def test_requests_from_browsers_need_the_token(meshd):
    own_origin = "http://" + meshd.admin_address
    for headers in ({"Origin": own_origin}, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}):
        for path in ("/api/v1/config/vs", "/api/v1/ca/root", "/debug/syncz"):
            error_of(meshd.request("GET", path, headers=headers), 401, "unauthenticated")
            r = meshd.request("GET", path, headers={**headers, **bearer(meshd)})
            assert r.status == 200, f"{headers} {path} with the admin token: {r}"
        r = meshd.request("POST", "/api/v1/apply", configs.service_entry(), "application/yaml", headers=headers)
        error_of(r, 401, "unauthenticated")
    assert meshd.get_raw("serviceentry", "default", "reviews").status == 404


def test_foreign_origins_and_cross_site_requests_are_403(meshd):
    doc = configs.service_entry()
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"}, {"Origin": "http://localhost:3000"},
                    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
        error_of(meshd.request("POST", "/api/v1/apply", doc, "application/yaml", headers=headers), 403, "forbidden")
        # the admin token does not make another site's page welcome
        r = meshd.request("GET", "/api/v1/config/vs", headers={**headers, **bearer(meshd)})
        error_of(r, 403, "forbidden")
    assert meshd.get_raw("serviceentry", "default", "reviews").status == 404


def test_foreign_host_is_403(meshd_factory):
    m = meshd_factory(["--admin-allowed-hosts", "meshd.example"])
    port = m.admin_address.rsplit(":", 1)[1]
    for host in (f"127.0.0.1.evil.example:{port}", f"rebind.evil.example:{port}", f"127.1:{port}"):
        error_of(m.request("GET", "/api/v1/config/vs", headers={"Host": host}), 403, "forbidden")
        error_of(m.request("GET", "/debug/syncz", headers={"Host": host, **bearer(m)}), 403, "forbidden")
        r = m.request("POST", "/api/v1/apply", configs.service_entry(), "application/yaml", headers={"Host": host})
        error_of(r, 403, "forbidden")
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"meshd.example:{port}", "MESHD.EXAMPLE"):
        r = m.request("GET", "/api/v1/config/vs", headers={"Host": host})
        assert r.status == 200, f"Host {host}: {r}"
    # probes and scrapers are open whatever Host they send
    for path in ("/ready", "/healthz", "/metrics"):
        r = m.request("GET", path, headers={"Host": f"rebind.evil.example:{port}"})
        assert r.status == 200, f"{path} with a foreign Host: {r}"


def test_default_allowed_hosts_are_the_tls_names(meshd):
    port = meshd.admin_address.rsplit(":", 1)[1]
    r = meshd.request("GET", "/api/v1/config/vs", headers={"Host": f"meshd.mesh-system.svc:{port}"})
    assert r.status == 200, r
    error_of(meshd.request("GET", "/api/v1/config/vs", headers={"Host": f"meshd.evil.example:{port}"}), 403)


def test_apply_accepts_only_yaml_or_json(meshd, tmp_path):
    doc = configs.service_entry()
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        error_of(meshd.request("POST", "/api/v1/apply", doc, ctype), 415, "unsupportedMediaType")
        error_of(meshd.request("POST", "/api/v1/delete", doc, ctype), 415, "unsupportedMediaType")
    # no Content-Type at all (http.client adds none; urllib would add a form type)
    error_of(meshd.request("POST", "/api/v1/apply", doc, None, source_address="127.0.0.1"), 415, "unsupportedMediaType")
    assert meshd.get_raw("serviceentry", "default", "reviews").status == 404
    for ctype in ("application/yaml", "application/x-yaml", "text/yaml; charset=utf-8"):
        r = meshd.request("POST", "/api/v1/apply", doc, ctype)
        assert r.status == 200, f"{ctype}: {r}"
    # meshctl declares what it sends, YAML and JSON alike
    as_json = tmp_path / "se.json"
    resource = meshd.get("serviceentry", "default", "reviews")
    resource["metadata"] = {"name": "reviews-json", "namespace": "default"}
    as_json.write_text(json.dumps(resource))
    run_meshctl(meshd.admin_url, "apply", "-f", str(as_json))
    assert meshd.get_raw("serviceentry", "default", "reviews-json").status == 200


# ------------------------------------------------------------------ health


def test_ready_is_json_and_healthz_is_open(meshd):
    r = meshd.request("GET", "/ready")
    assert r.status == 200, r
    body = r.json()
    assert body["ready"] is True and body["status"] == "ready" and body["degradations"] == [], body
    r = meshd.request("GET", "/healthz")
    assert r.status == 200 and r.json() == {"status": "ok"}, r


# ------------------------------------------------------------------ files


def test_data_directory_is_0700_and_config_db_0600(meshd_factory, tmp_path):
    fresh = tmp_path / "new" / "data"
    m = meshd_factory(data_dir=str(fresh))
    m.apply(configs.service_entry())
    assert mode_of(fresh) == 0o700, oct(mode_of(fresh))
    for name in ("config.db", "config.db-wal", "config.db-shm"):
        f = fresh / name
        if name == "config.db" or f.exists():
            assert mode_of(f) == 0o600, f"{name}: {oct(mode_of(f))}"
    m.stop()

    # an existing installation with loose modes is tightened on start
    os.chmod(fresh, 0o755)
    os.chmod(fresh / "config.db", 0o644)
    m.start()
    assert mode_of(fresh) == 0o700, oct(mode_of(fresh))
    assert mode_of(fresh / "config.db") == 0o600, oct(mode_of(fresh / "config.db"))
    assert m.get("serviceentry", "default", "reviews")["kind"] == "ServiceEntry"


def test_a_500_shows_no_sql(meshd):
    meshd.apply(configs.service_entry())
    # break the store under meshd: its next read fails inside SQLite
    with sqlite3.connect(meshd.data_path("config.db"), timeout=10) as db:
        db.execute("DROP TABLE config")
    r = meshd.request("GET", "/api/v1/config/serviceentry")
    err = error_of(r, 500, "internal")
    for leak in ("SELECT", "FROM config", "no such table", "SQLite", "config.db", meshd.data_dir):
        assert leak not in r.text, f"500 body shows {leak!r}: {r.text}"
    error_id = err.get("errorId")
    assert error_id and error_id in err["message"], err
    # meshd logs before it answers, but its output is read by another thread: poll for the line.
    deadline = time.monotonic() + 10
    while not (logged := [line for line in meshd.lines if error_id in line]) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert logged and any("no such table" in line for line in logged), f"no log line with {error_id}: {meshd.tail(20)}"
