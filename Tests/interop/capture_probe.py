"""Helper processes for test_traffic_capture.py, run inside network namespaces.

    capture_probe.py listen TAG PORT     accept on 0.0.0.0:PORT; answer each connection with one
                                          JSON line {"tag", "port", "original_dst"} and close
    capture_probe.py connect HOST PORT [UID]
                                          connect (as UID when given), print the answer line
The listener prints "ready" once it listens. original_dst is what SO_ORIGINAL_DST returns:
the destination the client dialled before iptables redirected it (null when not redirected).
"""

from __future__ import annotations

import encodings.idna  # noqa: F401  loaded before setuid: the interpreter's files may be root-only
import json
import os
import socket
import struct
import sys

SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h


def original_dst(conn: socket.socket) -> str | None:
    try:
        raw = conn.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    except OSError:
        return None  # no conntrack NAT entry: the connection was not redirected
    port, = struct.unpack("!H", raw[2:4])
    return f"{socket.inet_ntoa(raw[4:8])}:{port}"


def listen(tag: str, port: int) -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))
    server.listen(16)
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        with conn:
            dst = original_dst(conn)
            local = conn.getsockname()
            # Not redirected: the original destination is where it landed.
            answer = {"tag": tag, "port": port, "original_dst": dst or f"{local[0]}:{local[1]}", "redirected": dst is not None
                      and dst != f"{local[0]}:{local[1]}"}
            conn.sendall((json.dumps(answer) + "\n").encode())


def connect(host: str, port: int, uid: int | None) -> None:
    if uid is not None:
        os.setgid(uid)
        os.setuid(uid)
    with socket.create_connection((host, port), timeout=5) as conn:
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
    print(data.decode().strip(), flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "listen":
        listen(sys.argv[2], int(sys.argv[3]))
    elif mode == "connect":
        connect(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else None)
    else:
        sys.exit(f"unknown mode {mode}")
