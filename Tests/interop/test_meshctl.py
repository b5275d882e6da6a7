"""meshctl against a real meshd: apply, get (json/yaml), delete, proxy-status, bootstrap, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

import configs
from meshd_process import meshctl_bin


@pytest.fixture
def meshctl(meshd):
    binary = meshctl_bin()
    if not os.path.exists(binary):
        pytest.fail(f"meshctl binary not found at {binary}: build it first (swift build) or set MESHCTL_BIN")

    def run(*args, check: bool = True, timeout: float = 30.0) -> subprocess.CompletedProcess:
        launcher = [sys.executable, binary] if binary.endswith(".py") else [binary]  # .py: fake_meshctl.py
        argv = [*launcher, "--server", meshd.admin_url, *args]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}\n{meshd.tail(30)}")
        return p

    return run


def items_of(doc) -> list:
    """meshctl -o json of a list: {"items": [...]}, a kind: List, or a bare array."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict) and "items" in doc:
        return doc["items"]
    return [doc]


def test_apply_get_delete(meshctl, meshd, backends, tmp_path):
    ports = {n: b.port for n, b in backends.items()}
    f = tmp_path / "canary.yaml"
    f.write_text(configs.canary(ports["v1"], ports["v2"]))
    applied = meshctl("apply", "-f", str(f))
    assert "reviews" in applied.stdout, f"apply printed nothing about the resources: {applied.stdout!r}"
    assert meshd.get("vs", "default", "reviews")["kind"] == "VirtualService"

    out = meshctl("get", "vs", "-n", "default", "-o", "json").stdout
    try:
        vs = items_of(json.loads(out))
    except ValueError:
        raise AssertionError(f"get vs -o json is not JSON: {out!r}")
    assert [(v["kind"], v["metadata"]["namespace"], v["metadata"]["name"]) for v in vs] == [
        ("VirtualService", "default", "reviews")], vs
    assert [r["weight"] for r in vs[0]["spec"]["http"][0]["route"]] == [50, 50], vs[0]["spec"]

    out = meshctl("get", "dr", "reviews", "-o", "yaml").stdout
    try:
        docs = [d for d in yaml.safe_load_all(out) if d is not None]
    except yaml.YAMLError:
        raise AssertionError(f"get dr reviews -o yaml is not YAML: {out!r}")
    assert len(docs) == 1, f"get dr reviews -o yaml: expected one document: {out!r}"
    dr = items_of(docs[0])[0]
    assert dr["kind"] == "DestinationRule" and dr["metadata"]["name"] == "reviews", dr
    assert [s["name"] for s in dr["spec"]["subsets"]] == ["v1", "v2"], dr["spec"]

    meshctl("delete", "vs", "reviews")
    assert meshd.get_raw("vs", "default", "reviews").status == 404
    assert meshd.get_raw("dr", "default", "reviews").status == 200


def test_bad_file_fails_naming_resource_and_field(meshctl, meshd, tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(configs.virtual_service({"v1": 110, "v2": -10}))
    p = meshctl("apply", "-f", str(f), check=False)
    assert p.returncode != 0, f"meshctl apply of a bad file exited 0: {p.stdout!r} {p.stderr!r}"
    assert "VirtualService default/reviews" in p.stderr, p.stderr
    assert "spec.http[0].route[1].weight" in p.stderr, p.stderr
    assert meshd.get_raw("vs", "default", "reviews").status == 404


def test_bootstrap_drives_a_grpcio_client_and_proxy_status_lists_it(
        meshctl, meshd, backends, xds_clients, node_id):
    ports = {n: b.port for n, b in backends.items()}
    applied = meshd.apply(configs.canary(ports["v1"], ports["v2"]))
    meshd.wait_pushed(applied["revision"])

    # Without --xds-address the bootstrap points at the --server host.
    boot = parse_json(meshctl("bootstrap").stdout, "bootstrap")
    uri = boot["xds_servers"][0]["server_uri"]
    assert uri.rsplit(":", 1)[0].split("///")[-1] == "127.0.0.1", f"bootstrap server_uri {uri!r} is not the --server host"

    # With meshd's real xDS address, the bootstrap works as is for grpcio.
    proxy = node_id("meshctl-boot")
    out = meshctl("bootstrap", "--xds-address", meshd.xds_address, "--node-id", proxy).stdout
    boot = parse_json(out, "bootstrap")
    assert boot["xds_servers"][0]["server_uri"].endswith(meshd.xds_address), boot
    assert boot["node"]["id"] == proxy, boot
    client = xds_clients(meshd.xds_address, proxy, bootstrap_json=out)
    ready = client.wait_ready()
    assert ready.get("ok"), f"grpcio with meshctl's bootstrap could not reach a backend: {ready}"
    window = client.run(20)
    assert window["failures"] == 0 and window["total"] == 20, window
    meshd.wait_synced(proxy)

    out = meshctl("proxy-status").stdout
    assert proxy in out, f"proxy-status does not list {proxy}:\n{out}"
    assert "SYNCED" in out, f"proxy-status does not show the proxy SYNCED:\n{out}"


def parse_json(out: str, what: str):
    try:
        return json.loads(out)
    except ValueError:
        raise AssertionError(f"{what} output is not JSON: {out!r}")
