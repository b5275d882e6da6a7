"""Traffic scenarios shared by test_canary.py (against meshd) and test_harness.py (against
the fake ADS server), so the harness self-test exercises the very code the real test runs."""

from __future__ import annotations

import time

from client_runner import XdsClientProcess

# grpcio ACKs an update when it has parsed it; the new picker/config selector is installed
# asynchronously right after (C-core work serializer). The first RPC the test counts as
# "after sync" starts this long after the ACK was seen in /debug/syncz.
SETTLE_AFTER_SYNC = 0.25
MIN_RPCS_AFTER_SYNC = 200


def fmt(window: dict) -> str:
    s = f"{window['name']}: total={window['total']} counts={window['counts']} failures={window['failures']}"
    if window["failures"]:
        s += f" codes={window['failure_codes']} examples={window['failure_examples']}"
    return s


def assert_no_failures(window: dict, context: str) -> None:
    assert window["failures"] == 0, (
        f"{context}: {window['failures']} of {window['total']} RPCs failed: codes={window['failure_codes']}"
        f" examples={window['failure_examples']} sequence={window['runs']}"
    )


def warm_up(client: XdsClientProcess) -> dict:
    ready = client.wait_ready(timeout=30)
    assert ready.get("ok"), f"warm-up RPC through xDS failed: {ready}\n{client.stderr_tail()}"
    return ready


def even_split(client: XdsClientProcess, n: int = 1000, low: int = 400, high: int = 600) -> dict:
    window = client.run(n, name=f"split-{n}")
    assert_no_failures(window, f"{n} RPCs at 50/50")
    assert window["total"] == n
    for name in ("v1", "v2"):
        got = window["counts"].get(name, 0)
        assert low <= got <= high, f"{name} got {got} of {n} RPCs at 50/50 (want {low}..{high}): {window['counts']}"
    return window


def shift(client: XdsClientProcess, apply, wait_synced, expect: str, label: str,
          min_rpcs: int = MIN_RPCS_AFTER_SYNC) -> dict:
    """With the client's loop running: apply(), wait_synced(), then every RPC lands on `expect`.

    Returns {"during": window from apply to sync, "after": window after sync}; both must have
    zero failures.
    """
    before = client.mark(f"{label}-apply-to-sync")
    assert_no_failures(before, f"{label}: before apply")
    t0 = time.monotonic()
    apply()
    applied = time.monotonic()
    wait_synced()
    synced = time.monotonic()
    time.sleep(SETTLE_AFTER_SYNC)
    during = client.mark(f"{label}-after-sync")
    client.wait_for_rpcs(min_rpcs)
    after = client.mark("load")
    during["apply_seconds"] = round(applied - t0, 3)
    during["sync_seconds"] = round(synced - applied, 3)
    assert_no_failures(during, f"{label}: between apply and sync")
    assert_no_failures(after, f"{label}: after sync")
    wrong = {k: v for k, v in after["counts"].items() if k != expect}
    assert not wrong, (
        f"{label}: after the proxy was synced, {sum(wrong.values())} of {after['total']} RPCs did not land on"
        f" {expect}: {after['counts']} sequence={after['runs']}"
    )
    assert after["counts"].get(expect, 0) >= min_rpcs
    return {"during": during, "after": after}


def serve_rules(meshd, backends: dict, rules: str) -> dict:
    """Registers the canary's `reviews` (v1 and v2 on `backends`' ports) with its subsets and
    `rules` (YAML), waits until meshd pushed them, and returns the apply answer."""
    import configs  # local: the harness self-test imports this module without configs' users

    ports = {n: b.port for n, b in backends.items()}
    applied = meshd.apply(configs.join(configs.service_entry(), configs.workload_entry("v1", ports["v1"]),
                                       configs.workload_entry("v2", ports["v2"]), configs.destination_rule(), rules))
    meshd.wait_pushed(applied["revision"])
    return applied
