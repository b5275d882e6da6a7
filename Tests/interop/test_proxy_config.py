"""`meshctl proxy-config`: what meshd sends one connected proxy, as istioctl-like tables.

A real ADS client (grpcio, xds-protos) connects with an Istio-shaped node id; the tables must
list exactly the resources meshd's config dump holds for it, and `-o json` must be that dump.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest

import configs
from meshd_process import run_meshctl


def table(text: str) -> list[list[str]]:
    """Rows of a meshctl table split on runs of 3+ spaces (cells never contain those)."""
    lines = [line for line in text.splitlines() if line.strip()]
    return [re.split(r" {3,}", line) for line in lines]


@pytest.fixture
def connected(meshd, ads_clients):
    applied = meshd.apply(configs.join(
        configs.service_entry(), configs.workload_entry("v1", 18001), configs.workload_entry("v2", 18002),
        configs.destination_rule(tls_mode="ISTIO_MUTUAL"), configs.virtual_service({"v1": 50, "v2": 50})))
    meshd.wait_pushed(applied["revision"])
    pod = f"pc-{uuid.uuid4().hex[:6]}"
    proxy = f"sidecar~127.0.0.1~{pod}.default~default.svc.cluster.local"
    client = ads_clients(meshd.xds_address, proxy)
    client.wait_complete()
    meshd.wait_synced(proxy)
    dump = meshd.request("GET", f"/debug/config_dump?proxyID={proxy}").json()
    return proxy, f"{pod}.default", dump


def pc(meshd, *args) -> str:
    return run_meshctl(meshd.admin_url, "proxy-config", *args).stdout


def names(dump, short: str) -> list[str]:
    return sorted(entry["name"] for entry in dump["resources"].get(short, []))


def test_clusters_table_lists_every_cluster_split_into_istio_columns(meshd, connected):
    proxy, _, dump = connected
    rows = table(pc(meshd, "clusters", proxy))
    assert rows[0] == ["SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "DESTINATION RULE"]
    rebuilt = sorted(f"{r[3]}|{r[1]}|{'' if r[2] == '-' else r[2]}|{r[0]}" for r in rows[1:])
    assert rebuilt == names(dump, "CDS")
    assert ["reviews.default.svc.cluster.local", "9080", "v1", "outbound", "EDS"] == \
        next(r[:5] for r in rows if r[2] == "v1")


def test_listeners_routes_endpoints_tables(meshd, connected):
    proxy, _, dump = connected
    listeners = table(pc(meshd, "listeners", proxy))
    assert listeners[0] == ["NAME", "ADDRESSES", "PORT", "MATCH", "DESTINATION"]
    assert sorted(r[0] for r in listeners[1:]) == names(dump, "LDS")
    assert all(r[4].startswith("Route: ") for r in listeners[1:]), listeners

    routes = table(pc(meshd, "routes", proxy))
    assert routes[0] == ["NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE"]
    assert {r[0] for r in routes[1:]} == set(names(dump, "RDS"))
    assert any("reviews.default.svc.cluster.local" in r[2] for r in routes[1:]), routes

    endpoints = table(pc(meshd, "endpoints", proxy))
    assert endpoints[0] == ["ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER"]
    assert sorted((r[3], r[0]) for r in endpoints[1:]) == sorted([
        (configs.cluster(), "127.0.0.1:18001"), (configs.cluster(), "127.0.0.1:18002"),
        (configs.cluster("v1"), "127.0.0.1:18001"), (configs.cluster("v2"), "127.0.0.1:18002")])
    assert {r[1] for r in endpoints[1:]} == {"HEALTHY"}


def test_secrets_lists_what_the_clusters_reference(meshd, connected):
    proxy, _, _ = connected
    rows = table(pc(meshd, "secrets", proxy))
    assert rows[0] == ["RESOURCE NAME", "TYPE", "SOURCE", "STATUS", "SERIAL", "NOT AFTER", "REFERENCED BY"]
    # ISTIO_MUTUAL for a proxyless client: gRPC's certificate provider instance 'default' holds
    # the identity ('default') and the root ('ROOTCA').
    assert {(r[0], r[1], r[2]) for r in rows[1:]} >= {("default", "certificate provider", "default"),
                                                      ("ROOTCA", "certificate provider", "default")}, rows
    # Served by the client's own certificate provider, not by meshd: no status, serial or expiry.
    assert all(r[3:6] == ["-", "-", "-"] for r in rows[1:]), rows


def test_json_is_the_dump_and_pod_namespace_finds_the_proxy(meshd, connected):
    proxy, pod_namespace, dump = connected
    clusters = json.loads(pc(meshd, "clusters", pod_namespace, "-o", "json"))
    assert clusters == [entry["resource"] for entry in sorted(dump["resources"]["CDS"], key=lambda e: e["name"])]
    whole = json.loads(pc(meshd, "all", proxy, "-o", "json"))
    assert whole["proxyID"] == proxy and set(whole["resources"]) == set(dump["resources"])


def test_an_unknown_proxy_is_an_error(meshd, connected):
    p = run_meshctl(meshd.admin_url, "proxy-config", "clusters", "nobody.default", check=False)
    assert p.returncode != 0 and "no proxy 'nobody.default' is connected" in p.stderr, p.stderr
