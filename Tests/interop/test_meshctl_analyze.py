"""`meshctl analyze` against a real meshd: a clean canary has no issue (exit 0, istioctl's
check-mark line), a route to a missing subset is IST0101 with istioctl's line and exit code 79,
`-f` analyzes files on top of the store without writing them, and the REST answer's shape."""

from __future__ import annotations

import json

import configs
from meshd_process import run_meshctl

ISSUES_EXIT = 79  # istioctl's ExitAnalyzerFoundIssues


def analyze(meshd, *args):
    return run_meshctl(meshd.admin_url, "analyze", *args, check=False)


def test_clean_canary_has_no_issue(meshd, backends):
    ports = {n: b.port for n, b in backends.items()}
    meshd.apply(configs.canary(ports["v1"], ports["v2"]))
    p = analyze(meshd, "-n", "default")
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert p.stdout == "", p.stdout
    assert "\u2714 No validation issues found when analyzing namespace: default." in p.stderr, p.stderr
    r = meshd.request("GET", "/api/v1/analyze?namespace=default")
    assert r.status == 200 and r.json() == {"messages": []}, r.text


def test_missing_subset_is_ist0101_with_exit_79(meshd, backends):
    ports = {n: b.port for n, b in backends.items()}
    meshd.apply(configs.canary(ports["v1"], ports["v2"], {"v1": 50, "v3": 50}))
    p = analyze(meshd)
    assert p.returncode == ISSUES_EXIT, (p.returncode, p.stdout, p.stderr)
    lines = p.stdout.splitlines()
    assert len(lines) == 1, p.stdout
    assert lines[0].startswith("Error [IST0101] (VirtualService default/reviews) spec.http[0].route[1].destination.subset: "), lines[0]
    assert "reviews.default.svc.cluster.local+v3" in lines[0], lines[0]
    assert "Analyzers found issues when analyzing namespace: default." in p.stderr, p.stderr

    # Another namespace's view has nothing; JSON output carries the contract's keys (and exits 0, as istioctl).
    assert analyze(meshd, "-n", "other").returncode == 0
    p = analyze(meshd, "-A", "-o", "json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == [{
        "code": "IST0101", "level": "Error", "resource": "VirtualService default/reviews",
        "field": "spec.http[0].route[1].destination.subset",
        "message": 'Referenced host+subset in destinationrule not found: "reviews.default.svc.cluster.local+v3"'}]


def test_files_are_analyzed_on_top_without_being_written(meshd, backends, tmp_path):
    ports = {n: b.port for n, b in backends.items()}
    revision = meshd.apply(configs.canary(ports["v1"], ports["v2"]))["revision"]
    meshd.wait_pushed(revision)

    # A DestinationRule adding a subset no workload carries: IST0173, and nothing stored.
    f = tmp_path / "v3.yaml"
    f.write_text(configs.destination_rule(("v1", "v2", "v3")))
    p = analyze(meshd, "-f", str(f))
    assert p.returncode == ISSUES_EXIT, (p.stdout, p.stderr)
    assert "Error [IST0173] (DestinationRule default/reviews) spec.subsets[2].labels: " in p.stdout, p.stdout
    assert [s["name"] for s in meshd.get("dr", "default", "reviews")["spec"]["subsets"]] == ["v1", "v2"]

    # The next canary step, clean: the file named in the check-mark line.
    g = tmp_path / "shift.yaml"
    g.write_text(configs.virtual_service({"v1": 0, "v2": 100}))
    p = analyze(meshd, "-f", str(g))
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert f"\u2714 No validation issues found when analyzing {g}." in p.stderr, p.stderr
    assert [r["weight"] for r in meshd.get("vs", "default", "reviews")["spec"]["http"][0]["route"]] == [50, 50]
    assert meshd.push_status()["revision"] == revision

    # A file apply would refuse is refused the same way, naming resource and field.
    bad = tmp_path / "bad.yaml"
    bad.write_text(configs.virtual_service({"v1": 110, "v2": -10}))
    p = analyze(meshd, "-f", str(bad))
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "VirtualService default/reviews" in p.stderr and "spec.http[0].route[1].weight" in p.stderr, p.stderr


def test_failure_threshold(meshd, backends):
    ports = {n: b.port for n, b in backends.items()}
    meshd.apply(configs.canary(ports["v1"], ports["v2"]))
    meshd.apply("""\
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: ratings, namespace: default}
spec:
  selector: {matchLabels: {app: ratings}}
  mtls: {mode: STRICT}
""")
    p = analyze(meshd)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert p.stdout.startswith("Warning [IST0127] (PeerAuthentication default/ratings) spec.selector.matchLabels: "), p.stdout
    assert analyze(meshd, "--failure-threshold", "Warning").returncode == ISSUES_EXIT
    p = analyze(meshd, "--output-threshold", "Error")
    assert p.returncode == 0 and p.stdout == "", p.stdout
