"""Numbers worth keeping (traffic split counts, timings), shown at the end of the run."""

from __future__ import annotations

RESULTS: list[tuple[str, str]] = []


def record_result(test: str, text: str) -> None:
    """Keep a line for the end-of-run "interop results" section (and print it)."""
    RESULTS.append((test, text))
    print(f"[{test}] {text}")
