"""A loopback JWKS server for the JWT tests: signing keys, their public halves served as a JWKS,
and the failures a JWKS endpoint can have.

`JwksServer()` generates an RSA-2048 key (kid `rsa-1`, RS256) and an EC P-256 key (kid `ec-1`,
ES256) with `cryptography`, and serves on 127.0.0.1, port 0 (a free one):
- `GET /jwks.json`: `{"keys": [...]}`, the public JWKs (kid, alg, use) of the published keys;
- `GET /.well-known/openid-configuration`: `{"issuer", "jwks_uri"}` (istiod's OpenID discovery
  when a rule has no jwksUri; `issuer` is `http://127.0.0.1:PORT`);
- anything else: 404.

Changeable while serving (every mode holds until changed; `normal()` ends them all):
- `rotate(kind)` publishes a new key in place of that kind's (`keep_old=True`: beside it);
  `new_key(kind)` makes one that is not published (a forger's key); `publish` / `retire`;
- `go_down("refuse")` closes the listening socket (connections refused) and `come_back()`
  listens again on the same port; `go_down("503")` answers 503;
- `serve_oversized(n)` answers a valid JWKS padded to exactly n bytes; `serve_body(...)` answers
  anything (a non-JSON 200, a JSON without `keys`, ...); `slow(s)` delays every answer s seconds.
Every request is recorded (`requests`, `count()`, `wait_for(n)`).

`mint(claims, key=, kid=, alg=, headers=)` signs a token with PyJWT: by default with the first
published key, its kid and alg; `kid=None` leaves the kid out; `claims(...)` builds the usual set.

Thread-based (http.server's ThreadingHTTPServer); `stop()` (or leaving `with`) shuts the server
down, wakes any delayed answer and joins the threads.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

JWKS_PATH = "/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"
_UNSET = object()


@dataclass
class SigningKey:
    kid: str
    alg: str
    kind: str  # "rsa" or "ec"
    private_key: object

    @property
    def public_jwk(self) -> dict:
        to_jwk = RSAAlgorithm.to_jwk if self.kind == "rsa" else ECAlgorithm.to_jwk
        jwk = to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}


def generate_key(kind: str = "rsa", kid: str | None = None) -> SigningKey:
    if kind == "rsa":
        return SigningKey(kid or "rsa", "RS256", "rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    if kind == "ec":
        return SigningKey(kid or "ec", "ES256", "ec", ec.generate_private_key(ec.SECP256R1()))
    raise ValueError(f"key kind {kind!r}: rsa or ec")


def jwks_document(keys) -> dict:
    return {"keys": [k.public_jwk for k in keys]}


def claims(issuer: str, subject: str = "alice", audience: str | list | None = None, lifetime: float = 3600,
           now: float | None = None, **extra) -> dict:
    """iss, sub, iat, exp (now + lifetime; negative: already expired), aud if given, and extra."""
    now = int(time.time() if now is None else now)
    out = {"iss": issuer, "sub": subject, "iat": now, "exp": int(now + lifetime)}
    if audience is not None:
        out["aud"] = audience
    return {**out, **extra}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - http.server's naming
        status, body, content_type = self.server.owner._answer(self.path, self.server.closing)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (a slow answer past its timeout)

    def log_message(self, *args):
        pass


class JwksServer:
    def __init__(self, kinds=("rsa", "ec"), host: str = "127.0.0.1"):
        self.host, self.port = host, 0
        self._serial = {k: itertools.count(1) for k in ("rsa", "ec")}
        self._lock = threading.Condition()
        self.keys: list[SigningKey] = [self.new_key(k) for k in kinds]  # published, in order
        self._mode, self._body, self._delay = "normal", None, 0.0
        self.requests: list[str] = []  # paths, in arrival order
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle
    def start(self) -> "JwksServer":
        self._listen(0)
        return self

    def _listen(self, port: int) -> None:
        server = ThreadingHTTPServer((self.host, port), _Handler)  # allow_reuse_address is on
        server.daemon_threads = True
        server.owner, server.closing = self, threading.Event()
        self._server, self.port = server, server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"jwks-server:{self.port}", daemon=True)
        self._thread.start()

    def _close(self) -> None:
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is not None:
            server.closing.set()  # wakes delayed answers
            server.shutdown()
            server.server_close()  # joins the handler threads
            thread.join(timeout=5)

    def stop(self) -> None:
        self._close()

    def __enter__(self) -> "JwksServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def issuer(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return self.issuer + JWKS_PATH

    @property
    def discovery_url(self) -> str:
        return self.issuer + DISCOVERY_PATH

    # ---- keys
    def new_key(self, kind: str = "rsa") -> SigningKey:
        """A fresh key with the next kid of its kind (`rsa-2`, ...), not published."""
        return generate_key(kind, f"{kind}-{next(self._serial[kind])}")

    def jwks(self) -> dict:
        with self._lock:
            return jwks_document(self.keys)

    def jwks_json(self) -> str:
        return json.dumps(self.jwks())

    def publish(self, key: SigningKey) -> None:
        with self._lock:
            self.keys = [*self.keys, key]

    def retire(self, key: SigningKey) -> None:
        with self._lock:
            self.keys = [k for k in self.keys if k.kid != key.kid]

    def rotate(self, kind: str = "rsa", keep_old: bool = False) -> SigningKey:
        """Publish a new key of `kind` in place of the current one(s) of that kind (first in the
        set); keep_old=True publishes it beside them. Returns the new key."""
        new = self.new_key(kind)
        with self._lock:
            self.keys = [new] + [k for k in self.keys if keep_old or k.kind != kind]
        return new

    def key(self, kind: str | None = None) -> SigningKey:
        """The first published key (of `kind`)."""
        with self._lock:
            return next(k for k in self.keys if kind in (None, k.kind))

    def mint(self, claims: dict, key: SigningKey | None = None, kid=_UNSET, alg: str | None = None,
             headers: dict | None = None) -> str:
        key = key or self.key()
        header = dict(headers or {})
        kid = key.kid if kid is _UNSET else kid
        if kid is not None:
            header["kid"] = kid
        return pyjwt.encode(claims, key.private_key, algorithm=alg or key.alg, headers=header)

    # ---- modes
    def go_down(self, mode: str = "refuse") -> None:
        if mode == "refuse":
            self._close()
        elif mode == "503":
            self._set_mode("503")
        else:
            raise ValueError(f"go_down({mode!r}): refuse or 503")

    def come_back(self) -> None:
        """Listen again (same port) and answer normally; delays stay."""
        if self._server is None:
            self._listen(self.port)
        self._set_mode("normal")

    def serve_oversized(self, n_bytes: int) -> None:
        doc = {**self.jwks(), "padding": ""}
        base = len(json.dumps(doc).encode())
        if n_bytes < base:
            raise ValueError(f"the JWKS alone is {base} bytes")
        doc["padding"] = "x" * (n_bytes - base)
        self._set_mode("body", (200, json.dumps(doc).encode(), "application/json"))

    def serve_body(self, body: bytes | str, status: int = 200, content_type: str = "application/json") -> None:
        self._set_mode("body", (status, body.encode() if isinstance(body, str) else body, content_type))

    def slow(self, seconds: float) -> None:
        with self._lock:
            self._delay = seconds

    def normal(self) -> None:
        """Back to answering the JWKS at once (the listener too, if it was down)."""
        self.slow(0)
        self.come_back()

    def _set_mode(self, mode: str, body=None) -> None:
        with self._lock:
            self._mode, self._body = mode, body

    # ---- requests
    def count(self, path: str | None = JWKS_PATH) -> int:
        """Requests for `path` so far (None: all)."""
        with self._lock:
            return sum(1 for p in self.requests if path in (None, p))

    @property
    def request_count(self) -> int:
        return self.count(None)

    def reset_counts(self) -> None:
        with self._lock:
            self.requests = []

    def wait_for(self, n: int, path: str | None = JWKS_PATH, timeout: float = 10.0) -> bool:
        """Wait until `n` requests for `path` have arrived."""
        with self._lock:
            return self._lock.wait_for(lambda: sum(1 for p in self.requests if path in (None, p)) >= n, timeout)

    def _answer(self, raw_path: str, closing: threading.Event) -> tuple[int, bytes, str]:
        path = raw_path.split("?", 1)[0]
        with self._lock:
            self.requests.append(path)
            self._lock.notify_all()
            mode, body, delay = self._mode, self._body, self._delay
            document = jwks_document(self.keys)
        if delay:
            closing.wait(delay)
        if path not in (JWKS_PATH, DISCOVERY_PATH):
            return 404, b'{"error": "not found"}', "application/json"
        if mode == "503":
            return 503, b"upstream unavailable", "text/plain"
        if path == DISCOVERY_PATH:
            return 200, json.dumps({"issuer": self.issuer, "jwks_uri": self.url}).encode(), "application/json"
        if mode == "body":
            return body
        return 200, json.dumps(document).encode(), "application/json"
