"""The admin API's error contract (docs/admin-api.md) and idempotent apply."""

from __future__ import annotations

import time

import configs

VS_NEGATIVE = f"""\
apiVersion: {configs.API_VERSION}
kind: VirtualService
metadata:
  name: reviews
  namespace: default
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {{host: reviews, subset: v1}}
      weight: 110
    - destination: {{host: reviews, subset: v2}}
      weight: -10
"""

VS_ALL_ZERO = configs.virtual_service({"v1": 0, "v2": 0})


def error_of(r, status: int, code: str) -> dict:
    assert r.status == status, f"expected HTTP {status} ({code}), got {r.status}: {r.text[:2000]}"
    body = r.json()
    assert isinstance(body.get("error"), dict), f"error body is not {{'error': {{...}}}}: {body}"
    err = body["error"]
    assert err.get("code") == code, f"expected error code {code!r}: {err}"
    assert err.get("message"), f"error without a message: {err}"
    assert err.get("detail"), f"error without a detail: {err}"
    return err


def test_malformed_yaml_is_400(meshd):
    err = error_of(meshd.apply_raw("kind: VirtualService\nmetadata: {name: [unclosed\n  : : :\n"), 400, "malformed")
    assert meshd.get("vs")["items"] == []
    assert err["detail"]


def test_unknown_kind_is_400_naming_it(meshd):
    doc = "apiVersion: example.com/v1\nkind: Frobnicator\nmetadata: {name: x, namespace: default}\nspec: {}\n"
    err = error_of(meshd.apply_raw(doc), 400, "unknownKind")
    assert "Frobnicator" in err["message"] + err["detail"], err


def test_negative_weight_is_422_with_field(meshd):
    err = error_of(meshd.apply_raw(VS_NEGATIVE), 422, "invalid")
    assert err.get("field") == "spec.http[0].route[1].weight", err
    assert err.get("resource") == "VirtualService default/reviews", err
    assert "spec.http[0].route[1].weight" in err["detail"], err
    assert meshd.get_raw("vs", "default", "reviews").status == 404


def test_all_zero_weights_is_422(meshd):
    err = error_of(meshd.apply_raw(VS_ALL_ZERO), 422, "invalid")
    assert "VirtualService default/reviews" in err["detail"], err
    assert meshd.get_raw("vs", "default", "reviews").status == 404


def test_body_over_1mib_is_413(meshd):
    body = (configs.service_entry() + "# " + "x" * (1024 * 1024) + "\n").encode()
    r = meshd.request_large("POST", "/api/v1/apply", body, "application/yaml")
    error_of(r, 413, "tooLarge")
    assert meshd.get("se")["items"] == []


def test_bad_third_document_changes_nothing(meshd):
    revision = meshd.push_status()["revision"]
    text = configs.join(configs.service_entry(), configs.destination_rule(), VS_NEGATIVE)
    r = meshd.apply_raw(text)
    assert r.status == 422, f"expected 422 for the bad 3rd document, got {r.status}: {r.text}"
    for kind, name in (("ServiceEntry", "reviews"), ("DestinationRule", "reviews"), ("VirtualService", "reviews")):
        got = meshd.get_raw(kind, "default", name)
        assert got.status == 404, f"{kind} default/{name} exists after a failed all-or-nothing apply: {got.text}"
    for kind in ("se", "dr", "vs"):
        assert meshd.get(kind)["items"] == [], kind
    assert meshd.push_status()["revision"] == revision


def test_reapply_identical_is_unchanged_and_pushes_nothing(meshd, backends, ads_clients, node_id):
    ports = {n: b.port for n, b in backends.items()}
    text = configs.canary(ports["v1"], ports["v2"])
    first = meshd.apply(text)
    assert {r["action"] for r in first["results"]} == {"created"}, first
    meshd.wait_pushed(first["revision"])
    c = ads_clients(meshd.xds_address, node_id("ads"))
    c.wait_quiet(0.3, timeout=10)
    pushes = meshd.metric_sum("pilot_xds_pushes")
    n = len(c.responses)

    again = meshd.apply(text)
    assert [r["action"] for r in again["results"]] == ["unchanged"] * len(first["results"]), again
    assert again["revision"] == first["revision"], f"revision moved on an unchanged apply: {first} -> {again}"
    time.sleep(1.0)  # > debounce (100 ms): a push, if any, would have gone out
    assert c.responses[n:] == [], f"an unchanged apply pushed: {c.responses[n:]}"
    assert meshd.metric_sum("pilot_xds_pushes") == pushes, "pilot_xds_pushes moved on an unchanged apply"
    assert meshd.push_status()["revision"] == first["revision"]
    for kind in ("se", "we", "dr", "vs"):
        for item in meshd.get(kind, "default")["items"]:
            assert int(item["metadata"]["resourceVersion"]) <= first["revision"], item


def test_malformed_json_is_400(meshd):
    error_of(meshd.apply_raw('{"kind": "VirtualService", "metadata": ', "application/json"), 400, "malformed")
