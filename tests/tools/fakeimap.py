#!/usr/bin/env python3
"""fakeimap.py - a scripted IMAP server for faults a real server cannot
produce: garbage, an endless line, an absurd literal size, a cut right after
the greeting. Plaintext on 127.0.0.1; prints its port; serves until killed.
It answers the greeting and CAPABILITY/LOGIN plausibly, then misbehaves.
"""
import argparse
import socket
import threading

MODES = ("garbage", "longline", "hugeliteral", "cut", "badtag")


def serve(c, mode):
    f = c.makefile("rb")
    try:
        c.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+] fake ready\r\n")
        if mode == "cut":
            return
        while True:
            line = f.readline()
            if not line:
                return
            tag = line.split(b" ", 1)[0]
            if mode == "garbage":
                c.sendall(b"* \x00\xff\xfe garbage ((( \r\n" + tag + b" OK done\r\n")
            elif mode == "longline":
                chunk = b"A" * 65536
                for _ in range(100):  # 6.5 MB without an end of line
                    c.sendall(chunk)
                return
            elif mode == "hugeliteral":
                c.sendall(b"* 1 FETCH (BODY[] {99999999999999999999999}\r\n")
            elif mode == "badtag":
                c.sendall(b"Z999 OK who asked?\r\n")
    except OSError:
        pass
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=MODES)
    a = ap.parse_args()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    print(s.getsockname()[1], flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, a.mode), daemon=True).start()


if __name__ == "__main__":
    main()
