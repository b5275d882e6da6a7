"""What the ADS test clients (state of the world and Delta) share: one gRPC stream fed from a
request queue, a reader thread that hands each response to `_on_response` under a condition,
and waiting on that condition with a timeout that reports the exchange."""

from __future__ import annotations

import queue
import threading
import time

import grpc


class StreamClient:
    label = "ADS"

    def __init__(self, address: str, channel: grpc.Channel | None = None):
        self.address = address
        self.cond = threading.Condition()
        self.responses: list = []
        self.error: Exception | None = None
        self.closed = False
        self._out: queue.Queue = queue.Queue()
        # A caller-made channel (TLS with a client certificate, say); plaintext by default.
        self._channel = channel if channel is not None else grpc.insecure_channel(address)
        self._call = None
        self._reader: threading.Thread | None = None

    def _open(self, method) -> None:
        """Opens the stream with `method` (a stub's streaming method) and starts reading it."""
        self._call = method(iter(self._out.get, None))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _on_response(self, resp) -> None:
        raise NotImplementedError

    def describe(self, last: int = 30) -> str:
        raise NotImplementedError

    def problems(self) -> list[str]:
        """proto_check's findings (unknown fields, undefined enums, Envoy's PGV rules) in every response."""
        with self.cond:
            return [p for r in self.responses for p in r.problems]

    def _read(self) -> None:
        try:
            for resp in self._call:
                self._on_response(resp)
        except grpc.RpcError as exc:
            with self.cond:
                if not self.closed:
                    self.error = exc
                self.cond.notify_all()
        except Exception as exc:  # a decoding bug must not hang the test
            with self.cond:
                self.error = exc
                self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
        self._out.put(None)
        if self._call is not None:
            self._call.cancel()
        self._channel.close()
        if self._reader is not None:
            self._reader.join(timeout=5)

    def __enter__(self):
        # `with Client(...).start() as c` must not open a second stream on the same request
        # queue: the two streams would split the requests (and only one would carry the node).
        return self if self._call is not None else self.start()

    def __exit__(self, *exc):
        self.close()

    def wait_for(self, predicate, timeout: float = 10.0, what: str = "condition"):
        """Wait until predicate(self) is truthy (evaluated under the lock); returns its value."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate(self)
                if value:
                    return value
                if self.error is not None:
                    raise AssertionError(f"{self.label} stream failed while waiting for {what}: {self.error!r}\n{self.describe()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{self.describe()}")
                self.cond.wait(remaining)
