#!/usr/bin/env python3
"""cutproxy.py - a fault injector between mailshift and a real IMAPS server.

Listens on 127.0.0.1 (plaintext, so mailshift runs with --old-tls none against
it) and relays each connection to the real server over verified TLS. In the
first --cut-connections connections it watches the server's bytes for a
FETCH body literal of at least --min-literal bytes and, --after bytes into
that literal, drops both sides: "a connection cut mid-literal", which a real
server does not do on request. Prints the port it listens on, then serves
until killed.
"""
import argparse
import re
import socket
import ssl
import sys
import threading

PATTERN = re.compile(rb"BODY\[\] \{(\d+)\}\r\n")


def pump(src, dst, watch, state):
    tail = b""
    left = None
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if watch and left is None:
                buf = tail + data
                for m in PATTERN.finditer(buf):
                    if int(m.group(1)) >= state["min"]:
                        # bytes of the literal already in this chunk
                        inside = len(buf) - m.end()
                        left = state["after"] - inside
                        break
                tail = buf[-64:]
            if left is not None:
                if left <= 0 or len(data) >= left:
                    dst.sendall(data[:max(left, 0)])
                    state["cut"] = True
                    break
                left -= len(data)
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True, help="real server's IMAPS port")
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--cut-connections", type=int, default=1)
    ap.add_argument("--min-literal", type=int, default=1_000_000)
    ap.add_argument("--after", type=int, default=300_000)
    a = ap.parse_args()

    ctx = ssl.create_default_context(cafile=a.cafile)
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    print(lsock.getsockname()[1], flush=True)
    n = 0
    while True:
        c, _ = lsock.accept()
        n += 1
        up = ctx.wrap_socket(socket.create_connection(("127.0.0.1", a.port)),
                             server_hostname="127.0.0.1")
        state = {"min": a.min_literal, "after": a.after, "cut": False}
        watch = n <= a.cut_connections
        if watch:
            print(f"connection {n}: will cut", file=sys.stderr, flush=True)
        threading.Thread(target=pump, args=(up, c, watch, state), daemon=True).start()
        threading.Thread(target=pump, args=(c, up, False, state), daemon=True).start()


if __name__ == "__main__":
    main()
