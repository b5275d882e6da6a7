"""What the tests of deploy/'s manifests share: reading them, strict offline validation with
kubernetes-validate, and a fixture that refuses any network connection.

A module that imports `no_network` gets it as an autouse fixture: kubernetes-validate ships its
schemas, and the tests make sure nothing is fetched.
"""

from __future__ import annotations

import pathlib
import socket

import pytest
import yaml

kv = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is not installed (requirements.txt)")

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES_VERSION = "1.32.0"


def documents(path: pathlib.Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def validate(doc: dict) -> str:
    """The Kubernetes version the document validated against; raises kv.ValidationError (an
    unknown field included) or SchemaNotFoundError (a kind with no built-in schema)."""
    return kv.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Schemas come from the package: any connection attempt fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
