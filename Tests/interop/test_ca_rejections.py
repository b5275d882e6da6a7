"""CreateCertificate refusals: each bad request gets its status and moves the right counters.

Every case first makes one good request (the same CSR, the real token) so that a refusal is
known to come from the one thing the case spoils. Forged tokens are the real token's header and
claims re-signed: with a key of our own ("foreign_key"), unsigned with `alg: none`, HS256 keyed
with meshd's public key (algorithm confusion), or with meshd's own key from the data dir and one
claim spoiled: `exp` an hour in the past ("expired": that isolates the expiry check), `nbf` an
hour ahead, another audience. For those, a copy re-signed with meshd's key and the claims
unchanged is checked to be accepted first, so the test is known to sign the way meshd does.
Counters (from /metrics): csr_count +1 for every request; authentication failures +1 for the
token cases; CSR parsing errors +1 for the CSR cases (malformed, bad signature, RSA 1024 key);
successful issuances unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import grpc
import pytest

from ca_tools import (CAClient, b64url, ca_counters, expired_claims, gen_ec_key, gen_rsa_key, jwt_parts, make_csr,
                      new_csr, public_key_of_key, resign, settled_deltas, tamper_csr_signature)

GARBAGE_CSR = "-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgY2VydGlmaWNhdGUgcmVxdWVzdA==\n-----END CERTIFICATE REQUEST-----\n"
DAY = 86400

# case -> (status, counter deltas besides csr +1 / success +0)
CASES = {
    "tampered_csr": (grpc.StatusCode.INVALID_ARGUMENT, {"parse_error": 1}),
    "garbage_csr": (grpc.StatusCode.INVALID_ARGUMENT, {"parse_error": 1}),
    "rsa_1024_csr": (grpc.StatusCode.INVALID_ARGUMENT, {"parse_error": 1}),
    "no_token": (grpc.StatusCode.UNAUTHENTICATED, {"auth_failure": 1}),
    "malformed_token": (grpc.StatusCode.UNAUTHENTICATED, {"auth_failure": 1}),
    "expired_token": (grpc.StatusCode.UNAUTHENTICATED, {"auth_failure": 1}),
    "foreign_key_token": (grpc.StatusCode.UNAUTHENTICATED, {"auth_failure": 1}),
    "alg_none_token": (grpc.StatusCode.UNAUTHENTICATED, {"auth_failure": 1}),
    "hs256_token": (grpc.StatusCode.UNAUTHENTICATED, {"auth_failure": 1}),
    "future_nbf_token": (grpc.StatusCode.UNAUTHENTICATED, {"auth_failure": 1}),
    "wrong_audience_token": (grpc.StatusCode.UNAUTHENTICATED, {"auth_failure": 1}),
    "ttl_91_days": (grpc.StatusCode.INVALID_ARGUMENT, {}),
}


def signing_key(meshd):
    path = meshd.data_path("token-signing-key.pem")
    assert path.exists(), f"meshd's token signing key is not at {path}"
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_bad_request_is_refused_and_counted(meshd, tmp_path, case):
    root = meshd.ca_root()
    token = meshd.create_token("default", "reviews")
    header, claims, _ = jwt_parts(token)
    assert "exp" in claims, f"meshd's token has no exp claim: {claims}"
    _, csr = new_csr(tmp_path, "good")
    csr_to_send, token_to_send, validity = csr, token, 3600

    with CAClient(meshd.tls_address, root) as ca:
        code, details = ca.status_of(csr, token, 3600)
        assert code == grpc.StatusCode.OK, f"control request refused: {code.name}: {details}\n{meshd.tail(30)}"

        if case == "tampered_csr":
            csr_to_send = tamper_csr_signature(csr)
        elif case == "garbage_csr":
            csr_to_send = GARBAGE_CSR
        elif case == "no_token":
            token_to_send = None
        elif case == "malformed_token":
            token_to_send = "not-a-jwt"
        elif case == "rsa_1024_csr":
            csr_to_send = make_csr(gen_rsa_key(tmp_path / "weak.pem", 1024), tmp_path / "weak.csr")
        elif case in ("expired_token", "future_nbf_token", "wrong_audience_token"):
            key = signing_key(meshd)
            same = resign(token, key)
            code, details = ca.status_of(csr, same, 3600)
            assert code == grpc.StatusCode.OK, (
                f"the real token re-signed with {key} (claims unchanged) was refused: {code.name}: {details};"
                f" the test cannot forge tokens the way meshd signs them (header {header})")
            if case == "expired_token":
                spoiled = expired_claims(claims)
            elif case == "future_nbf_token":
                spoiled = {"nbf": int(time.time()) + 3600}
            else:
                aud = claims.get("aud")
                assert aud, f"meshd's token has no aud claim: {claims}"
                spoiled = {"aud": ["not-istio-ca"] if isinstance(aud, list) else "not-istio-ca"}
            token_to_send = resign(token, key, claims_update=spoiled)
        elif case == "hs256_token":
            # algorithm confusion: HMAC keyed with meshd's public key (PEM, as a naive verifier would use it)
            public_pem = (public_key_of_key(signing_key(meshd)) + "\n").encode()
            signing_input = resign(token, None, header_update={"alg": "HS256"}).rstrip(".")
            mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
            token_to_send = signing_input + "." + b64url(mac)
        elif case == "foreign_key_token":
            token_to_send = resign(token, gen_ec_key(tmp_path / "foreign-key.pem"))
        elif case == "alg_none_token":
            token_to_send = resign(token, None, header_update={"alg": "none"})
        elif case == "ttl_91_days":
            validity = 91 * DAY

        before = ca_counters(meshd)
        code, details = ca.status_of(csr_to_send, token_to_send, validity)

    want_code, want_deltas = CASES[case]
    assert code == want_code, f"{case}: expected {want_code.name}, got {code.name}: {details}"
    expected = {"csr": 1, "auth_failure": 0, "parse_error": 0, "success": 0, **want_deltas}
    got = settled_deltas(meshd, before, expected)
    assert got == expected, f"{case}: counter deltas {got}, expected {expected}"


def test_plaintext_port_refuses_create_certificate(meshd, tmp_path):
    token = meshd.create_token("default", "reviews")
    _, csr = new_csr(tmp_path, "plain")
    before = ca_counters(meshd)
    with CAClient(meshd.xds_address, None) as plain:
        code, details = plain.status_of(csr, token, 3600)
    assert code == grpc.StatusCode.PERMISSION_DENIED, f"plaintext CreateCertificate: {code.name}: {details}"
    assert ca_counters(meshd)["success"] == before["success"], "the plaintext port issued a certificate"
