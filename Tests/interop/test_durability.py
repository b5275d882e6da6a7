"""Applied config survives kill -9, and a reconnecting client gets byte-identical resources with
the same per-type version_info as before the kill."""

from __future__ import annotations

import configs
from results import record_result

KINDS = {
    "ServiceEntry": ["reviews"],
    "WorkloadEntry": ["reviews-v1", "reviews-v2"],
    "DestinationRule": ["reviews"],
    "VirtualService": ["reviews"],
}


def read_config(meshd) -> dict:
    out = {}
    for kind, names in KINDS.items():
        for name in names:
            out[(kind, name)] = meshd.get(kind, configs.NAMESPACE, name)
        out[(kind, "*")] = meshd.get(kind, configs.NAMESPACE)
    return out


def test_config_and_xds_survive_kill9(meshd, backends, ads_clients, node_id):
    ports = {n: b.port for n, b in backends.items()}
    applied = meshd.apply(configs.canary(ports["v1"], ports["v2"], {"v1": 80, "v2": 20}))
    meshd.wait_pushed(applied["revision"])
    before_config = read_config(meshd)
    for (kind, name), value in before_config.items():
        if name != "*":
            assert value["kind"] == kind and value["metadata"]["name"] == name, value

    proxy = node_id("ads")
    first = ads_clients(meshd.xds_address, proxy)
    first.wait_quiet(0.3, timeout=10)
    before = first.snapshot()
    first.close()
    assert set(before) == {"LDS", "RDS", "CDS", "EDS"}, before.keys()

    old_pid = meshd.proc.pid
    meshd.kill9()
    meshd.start()
    assert meshd.proc.pid != old_pid

    after_config = read_config(meshd)
    for key in before_config:
        assert after_config[key] == before_config[key], (
            f"{key} changed across kill -9:\nbefore: {before_config[key]}\nafter:  {after_config[key]}")

    second = ads_clients(meshd.xds_address, proxy)
    second.wait_quiet(0.3, timeout=10)
    after = second.snapshot()
    for t in ("LDS", "RDS", "CDS", "EDS"):
        assert after[t]["version"] == before[t]["version"], (
            f"{t} version_info changed across restart: {before[t]['version']!r} -> {after[t]['version']!r}")
        assert sorted(after[t]["resources"]) == sorted(before[t]["resources"]), (
            f"{t} resource names changed: {sorted(before[t]['resources'])} -> {sorted(after[t]['resources'])}")
        for name, data in before[t]["resources"].items():
            assert after[t]["resources"][name] == data, f"{t} {name}: serialized bytes differ after restart"
    record_result("durability", "versions " + ", ".join(f"{t}={after[t]['version']}" for t in after))
