#!/usr/bin/env python3
"""One-shot grpcio xDS client for traffic-policy tests: runs one scenario and prints one JSON
line. A subprocess per scenario, so each gets its own bootstrap (grpcio reads it once per
process). The bootstrap comes from GRPC_XDS_BOOTSTRAP_CONFIG, as for xds_client.py.

  --concurrent N           N RPCs at once (after a warm-up RPC); prints {"codes": {code: count}}
  --header H --values a,b  for each value, --repeat RPCs carrying header H: value, one at a time;
                           prints {"by_value": {value: [backend, ...]}}
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent import futures

import grpc

METHOD = "/meshd.test.Echo/Who"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--concurrent", type=int, default=0)
    parser.add_argument("--header", default="")
    parser.add_argument("--values", default="")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=10.0)
    args = parser.parse_args()
    channel = grpc.insecure_channel(args.target)
    who = channel.unary_unary(METHOD)
    # Warm up: resolve listener, routes, clusters and endpoints before measuring anything.
    who(b"", timeout=30, wait_for_ready=True)
    result: dict = {}
    if args.concurrent:
        codes: dict[str, int] = {}
        with futures.ThreadPoolExecutor(max_workers=args.concurrent) as pool:
            calls = [pool.submit(lambda: who.future(b"", timeout=args.deadline)) for _ in range(args.concurrent)]
            pending = [c.result() for c in calls]
            for call in pending:
                try:
                    call.result()
                    code = "OK"
                except grpc.RpcError as err:
                    code = err.code().name
                codes[code] = codes.get(code, 0) + 1
        result["codes"] = codes
    if args.header:
        by_value: dict[str, list[str]] = {}
        for value in args.values.split(","):
            answers = []
            for _ in range(args.repeat):
                try:
                    answers.append(who(b"", timeout=args.deadline, metadata=((args.header, value),)).decode())
                except grpc.RpcError as err:
                    answers.append("error:" + err.code().name)
            by_value[value] = answers
        result["by_value"] = by_value
    print(json.dumps(result), flush=True)
    channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
