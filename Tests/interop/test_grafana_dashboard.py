"""deploy/grafana/meshd-dashboard.json names only metrics meshd really exports: every metric in
the panels' expressions (and the instance variable's query) appears in a live meshd's /metrics
once proxies have connected, been pushed to, and NACKed — histograms through their own
_bucket/_sum/_count series."""

from __future__ import annotations

import json
import pathlib
import re
import time

import configs

DASHBOARD = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "meshd-dashboard.json"

# PromQL words that are neither metrics nor followed by "(": aggregation operators (written
# `sum by (x) (...)`), modifiers and the label names the expressions group by.
KEYWORDS = {"sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk", "bottomk", "quantile",
            "count_values", "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
            "le", "type", "instance", "proxy_kind"}


def expressions(dashboard: dict) -> list[str]:
    exprs = []

    def walk(panels):
        for panel in panels:
            exprs.extend(t["expr"] for t in panel.get("targets", []))
            walk(panel.get("panels", []))

    walk(dashboard["panels"])
    for variable in dashboard["templating"]["list"]:
        query = variable["query"]
        exprs.append(query["query"] if isinstance(query, dict) else query)
    return exprs


def metric_names(expr: str) -> set[str]:
    """Metrics are written with a selector (`name{...}`) in every expression, and
    `label_values(name, label)` in variable queries; any other bare identifier must be a
    function (followed by "(") or a keyword — so a metric cannot hide from the check."""
    names = set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", expr))
    names |= set(re.findall(r"label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,", expr))
    stripped = re.sub(r"\{[^}]*\}", "", expr)
    stripped = re.sub(r"\[[^\]]*\]", "", stripped)
    stripped = re.sub(r'"[^"]*"', "", stripped)
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", stripped):
        word = m.group(0)
        rest = stripped[m.end():].lstrip()
        if word in names or word in KEYWORDS or rest.startswith("("):
            continue
        if expr.startswith("label_values(") and word == "instance":
            continue
        raise AssertionError(f"{word!r} in {expr!r} is neither a metric selector, a function nor a known keyword")
    return names


def exported_series(metrics_text: str) -> set[str]:
    return {m.group(1) for line in metrics_text.splitlines()
            if not line.startswith("#") and (m := re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", line))}


def test_dashboard_shape():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 36, dashboard["schemaVersion"]
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    ids = []

    def walk(panels):
        for panel in panels:
            ids.append(panel["id"])
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
                assert panel["targets"], panel["title"]
                for target in panel["targets"]:
                    assert target["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
            walk(panel.get("panels", []))

    walk(dashboard["panels"])
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    names = set().union(*(metric_names(e) for e in expressions(dashboard)))
    # The panels the issue asks for: pushes, convergence, NACKs, proxies, CSRs, config events, store errors.
    for required in ("pilot_xds_pushes", "pilot_proxy_convergence_time_bucket", "pilot_xds_push_time_bucket",
                     "pilot_total_xds_rejects", "pilot_xds", "citadel_server_csr_count",
                     "citadel_server_success_cert_issuance_count", "meshd_config_revision",
                     "meshd_push_context_build_failures"):
        assert required in names, f"the dashboard has no panel over {required}"


def test_every_dashboard_metric_is_exported(meshd, backends, ads_clients, node_id):
    dashboard = json.loads(DASHBOARD.read_text())
    wanted = set().union(*(metric_names(e) for e in expressions(dashboard)))

    ports = {n: b.port for n, b in backends.items()}
    applied = meshd.apply(configs.canary(ports["v1"], ports["v2"]))
    meshd.wait_pushed(applied["revision"])
    # One proxy that accepts everything (pushes, convergence) and one that NACKs routes (rejects).
    ads_clients(meshd.xds_address, node_id("dash-ok"))
    ads_clients(meshd.xds_address, node_id("dash-nack"), reject={"RDS": "rejected for the dashboard test"})

    deadline = time.monotonic() + 15
    missing = wanted
    while time.monotonic() < deadline:
        missing = wanted - exported_series(meshd.metrics())
        if not missing:
            break
        time.sleep(0.1)
    assert not missing, f"the dashboard uses metrics meshd does not export: {sorted(missing)}\n{meshd.metrics()}"
