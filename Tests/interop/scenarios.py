"""Traffic scenarios shared by test_canary.py (against meshd) and test_harness.py (against
the fake ADS server), so the harness self-test exercises the very code the real test runs."""

from __future__ import annotations

import collections
import time

from client_runner import XdsClientProcess

# grpcio ACKs an update when it has parsed it; the new picker/config selector is installed
# asynchronously right after (C-core work serializer). The first RPC the test counts as
# "after sync" starts this long after the ACK was seen in /debug/syncz.
SETTLE_AFTER_SYNC = 0.25
MIN_RPCS_AFTER_SYNC = 200

# A weighted split is counted only once every destination it names has answered (settle()).
# Until then grpcio may still route by the previous config: an ACK (what wait_synced sees) comes
# before the new config selector is installed, which for a route naming a cluster the client had
# dropped (0/100 -> 50/50) waits for that cluster's CDS and EDS; and a cluster whose backend is
# not yet READY gets no picks. Such a warm-up prefix, all one subset, is no sample of the split.
SETTLE_TIMEOUT = 20.0
SETTLE_BATCH = 20


def fmt(window: dict) -> str:
    s = f"{window['name']}: total={window['total']} counts={window['counts']} failures={window['failures']}"
    if window["failures"]:
        s += f" codes={window['failure_codes']} examples={window['failure_examples']}"
    if "settle" in window:
        s += f" (counted after {window['settle']['rpcs']} settling RPCs: {window['settle']['counts']})"
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


def settle(client: XdsClientProcess, subsets, label: str, timeout: float = SETTLE_TIMEOUT,
           batch: int = SETTLE_BATCH, **run_kw) -> dict:
    """Runs batches of RPCs (client.run's `method` / `metadata` in run_kw) until each of
    `subsets` has answered at least once; the RPCs up to then are discarded. No RPC may fail.

    Bounded: fails after `timeout` s naming what did answer, so a split that never reaches a
    subset (100/0 where 50/50 was asked) still fails. Returns {"rpcs", "counts", "seconds"}.
    """
    seen: collections.Counter = collections.Counter()
    rpcs, start = 0, time.monotonic()
    while True:
        window = client.run(batch, name=f"{label}-settle", **run_kw)
        assert_no_failures(window, f"{label}: settling ({rpcs} RPCs before this batch, answers {dict(seen)})")
        rpcs += window["total"]
        seen.update(window["counts"])
        missing = [s for s in subsets if not seen[s]]
        if not missing:
            return {"rpcs": rpcs, "counts": dict(seen), "seconds": round(time.monotonic() - start, 3)}
        assert time.monotonic() - start < timeout, (
            f"{label}: {', '.join(missing)} never answered in {timeout:g}s of {rpcs} RPCs: answers {dict(seen)},"
            f" last batch's sequence={window['runs']}"
        )


def even_split(client: XdsClientProcess, n: int = 1000, low: int = 400, high: int = 600) -> dict:
    """n RPCs at 50/50, counted once both subsets answer (settle()): each gets low..high.

    The default 400..600 of 1000 is +-100 = 6.3 binomial sigmas (sqrt(1000 * 0.5 * 0.5) = 15.8):
    a fair split misses it with p < 1e-9, a 40/60 split fails half the time and 35/65 almost
    always, and 100/0 never settles."""
    settled = settle(client, ("v1", "v2"), f"split-{n}")
    window = client.run(n, name=f"split-{n}")
    window["settle"] = settled
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
