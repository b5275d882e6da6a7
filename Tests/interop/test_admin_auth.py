"""Admin API authentication by source address (--admin-trusted-addresses, default 127.0.0.1,::1).

meshd listens on 127.0.0.1; the "remote" caller connects from 127.0.0.2 (another loopback
address, so no second host is needed: http.client's source_address binds the client socket to
it). That caller gets 401 with a JSON error on /api/* and /debug/* unless it sends
`Authorization: Bearer <DATA_DIR/admin-token>`; /ready, /healthz and /metrics stay open. A caller
from 127.0.0.1 needs no token, except to mint a workload token (test_admin_hardening.py).
"""

from __future__ import annotations

import socket
import stat

import pytest

import configs

REMOTE = "127.0.0.2"


def loopback_alias_usable() -> bool:
    try:
        with socket.socket() as s:
            s.bind((REMOTE, 0))
        return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not loopback_alias_usable(), reason=f"cannot bind a socket to {REMOTE}")


def calls(meshd, port: int):
    """(name, method, path, body, content type) of the protected calls exercised."""
    return [
        ("apply", "POST", "/api/v1/apply", configs.join(configs.service_entry(), configs.workload_entry("v1", port)),
         "application/yaml"),
        ("get config", "GET", "/api/v1/config/serviceentry/default/reviews", None, None),
        ("list config", "GET", "/api/v1/config/workloadentry?namespace=default", None, None),
        ("create token", "POST", "/api/v1/tokens",
         '{"namespace": "default", "serviceAccount": "reviews", "ttl": "1h"}', "application/json"),
        ("ca root", "GET", "/api/v1/ca/root", None, None),
        ("syncz", "GET", "/debug/syncz", None, None),
    ]


def assert_401(r, what):
    assert r.status == 401, f"{what} without a valid token: HTTP {r.status}: {r.text[:500]}"
    body = r.json()
    assert isinstance(body, dict) and "error" in body, f"{what}: 401 body is not a JSON error: {r.text[:500]}"


def test_remote_caller_needs_the_admin_token(meshd):
    token_file = meshd.data_path("admin-token")
    assert token_file.exists(), f"no admin token at {token_file}"
    mode = stat.S_IMODE(token_file.stat().st_mode)
    assert mode == 0o600, f"{token_file} has mode {oct(mode)}, expected 0600"
    admin_token = meshd.admin_token()
    assert admin_token, "the admin token file is empty"

    for name, method, path, body, ctype in calls(meshd, 9):
        r = meshd.request(method, path, body, ctype, source_address=REMOTE)
        assert_401(r, f"{name} from {REMOTE}")
        r = meshd.request(method, path, body, ctype, source_address=REMOTE,
                          headers={"Authorization": "Bearer " + admin_token + "x"})
        assert_401(r, name + " (wrong token)")
        r = meshd.request(method, path, body, ctype, source_address=REMOTE,
                          headers={"Authorization": "Basic " + admin_token})
        assert_401(r, name + " (not a Bearer token)")
    # nothing was applied by the refused calls
    assert meshd.get_raw("serviceentry", "default", "reviews").status == 404

    for path in ("/ready", "/healthz", "/metrics"):
        r = meshd.request("GET", path, source_address=REMOTE)
        assert r.status == 200, f"{path} from {REMOTE} must stay open: HTTP {r.status}: {r.text[:300]}"

    auth = {"Authorization": "Bearer " + admin_token}
    for name, method, path, body, ctype in calls(meshd, 9):
        r = meshd.request(method, path, body, ctype, source_address=REMOTE, headers=auth)
        assert 200 <= r.status < 300, f"{name} from {REMOTE} with the admin token: HTTP {r.status}: {r.text[:500]}"
        if name == "create token":
            assert r.json()["token"].count(".") == 2, r.text
        if name == "get config":
            assert r.json()["kind"] == "ServiceEntry", r.text


def test_trusted_address_needs_no_token(meshd):
    for name, method, path, body, ctype in calls(meshd, 9):
        r = meshd.request(method, path, body, ctype)
        if name == "create token":  # minting needs the admin token even from loopback
            assert_401(r, name + " from 127.0.0.1")
            continue
        assert 200 <= r.status < 300, f"{name} from 127.0.0.1 without a token: HTTP {r.status}: {r.text[:500]}"
    # http.client from an explicit 127.0.0.1 source too (the same path the remote caller takes)
    r = meshd.request("GET", "/api/v1/config/serviceentry/default/reviews", source_address="127.0.0.1")
    assert r.status == 200, r


def test_trusted_addresses_flag_can_include_the_remote(meshd_factory):
    m = meshd_factory(["--admin-trusted-addresses", f"127.0.0.1,{REMOTE}"])
    r = m.request("GET", "/debug/syncz", source_address=REMOTE)
    assert r.status == 200, f"{REMOTE} listed in --admin-trusted-addresses: HTTP {r.status}: {r.text[:300]}"
    m2 = meshd_factory(["--admin-trusted-addresses", "127.0.0.3"])
    r = m2.request("GET", "/debug/syncz")
    assert r.status == 401, f"127.0.0.1 not listed in --admin-trusted-addresses: HTTP {r.status}: {r.text[:300]}"
