"""Self-test of the jwks_server fixture (needs no meshd): what it serves, its failure modes and
its tokens, checked over real loopback HTTP with bounded timeouts; minted tokens verify with
PyJWT and with jwt_sim's verifier. Each test runs in under 5 s (checked)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import jwt as pyjwt
import pytest

import jwt_sim
from jwks_server import JwksServer, claims

TIMEOUT = 3.0


@pytest.fixture(autouse=True)
def _bounded():
    start = time.monotonic()
    yield
    assert time.monotonic() - start < 5.0, "a jwks_server test must take under 5 s"


@pytest.fixture
def server():
    with JwksServer() as s:
        yield s


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_serves_public_keys_and_discovery(server):
    status, body = get(server.url)
    doc = json.loads(body)
    assert status == 200
    assert [(k["kid"], k["alg"], k["kty"]) for k in doc["keys"]] == [("rsa-1", "RS256", "RSA"), ("ec-1", "ES256", "EC")]
    assert not any(private in k for k in doc["keys"] for private in ("d", "p", "q")), "public halves only"
    assert json.loads(get(server.discovery_url)[1]) == {"issuer": server.issuer, "jwks_uri": server.url}
    assert get(server.issuer + "/other")[0] == 404
    assert server.count() == 1 and server.request_count == 3


def test_minted_tokens_verify_against_what_is_served(server):
    doc = get(server.url)[1].decode()
    for key in (server.key("rsa"), server.key("ec")):
        tok = server.mint(claims(server.issuer, audience="web"), key=key)
        header = pyjwt.get_unverified_header(tok)
        assert (header["kid"], header["alg"]) == (key.kid, key.alg)
        decoded = pyjwt.decode(tok, pyjwt.PyJWK(key.public_jwk).key, algorithms=[key.alg], audience="web")
        assert decoded["iss"] == server.issuer
        assert jwt_sim.verify_signature(jwt_sim.parse_jwt(tok)[1], jwt_sim.load_jwks(doc)) == jwt_sim.Status.OK
    assert "kid" not in pyjwt.get_unverified_header(server.mint({"sub": "x"}, kid=None))
    forged = server.mint({"sub": "x"}, key=server.new_key("rsa"), kid="rsa-1")
    assert jwt_sim.verify_signature(jwt_sim.parse_jwt(forged)[1], jwt_sim.load_jwks(doc)) == jwt_sim.Status.VERIFICATION_FAIL


def test_rotation(server):
    old = server.key("rsa")
    new = server.rotate("rsa")
    kids = [k["kid"] for k in json.loads(get(server.url)[1])["keys"]]
    assert kids == [new.kid, "ec-1"] and new.kid == "rsa-2" and old.kid not in kids
    newer = server.rotate("rsa", keep_old=True)
    assert [k["kid"] for k in server.jwks()["keys"]] == [newer.kid, new.kid, "ec-1"]
    assert server.key() is newer, "mint signs with the newest key by default"


def test_down_refused_then_503_then_back(server):
    port = server.port
    server.go_down("refuse")
    with pytest.raises(urllib.error.URLError) as refused:
        urllib.request.urlopen(server.url, timeout=TIMEOUT)
    assert isinstance(refused.value.reason, ConnectionRefusedError)
    server.come_back()
    assert server.port == port and get(server.url)[0] == 200
    server.go_down("503")
    assert get(server.url)[0] == 503
    server.come_back()
    assert get(server.url)[0] == 200


def test_oversized_and_arbitrary_bodies(server):
    server.serve_oversized(70_000)
    status, body = get(server.url)
    assert status == 200 and len(body) == 70_000 and len(json.loads(body)["keys"]) == 2
    server.serve_body("<html>not json</html>", content_type="text/html")
    assert get(server.url) == (200, b"<html>not json</html>")
    server.normal()
    assert json.loads(get(server.url)[1]) == server.jwks()


def test_slow_answers_and_a_prompt_stop():
    server = JwksServer().start()
    try:
        server.slow(0.5)
        start = time.monotonic()
        assert get(server.url)[0] == 200 and time.monotonic() - start >= 0.5
        server.slow(30)
        with pytest.raises(OSError):  # the client times out first
            urllib.request.urlopen(server.url, timeout=0.3)
        assert server.wait_for(2, timeout=TIMEOUT)
    finally:
        start = time.monotonic()
        server.stop()
    assert time.monotonic() - start < 2.0, "stop() wakes a delayed answer instead of waiting 30 s"
