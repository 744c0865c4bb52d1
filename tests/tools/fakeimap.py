#!/usr/bin/env python3
"""fakeimap.py - a scripted IMAP server for faults a real server cannot
produce: garbage, an endless line, an absurd literal size, a cut right after
the greeting. Plaintext on 127.0.0.1; prints its port; serves until killed.
It answers the greeting and CAPABILITY/LOGIN plausibly, then misbehaves.
"""
import argparse
import base64
import socket
import threading

MODES = ("garbage", "longline", "hugeliteral", "cut", "badtag", "xoauth2")
ERROR_CHALLENGE = base64.b64encode(b'{"status":"401","schemes":"Bearer"}')


def xoauth2(c, f, user, token):
    """Google/Microsoft-style XOAUTH2 (SASL-IR), then an empty mailbox."""
    want = base64.b64encode(b"user=" + user + b"\x01auth=Bearer " + token + b"\x01\x01")
    while True:
        line = f.readline()
        if not line:
            return
        tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
        cmd = rest.split(b" ")
        verb = cmd[0].upper()
        if verb == b"AUTHENTICATE":
            if len(cmd) == 3 and cmd[1].upper() == b"XOAUTH2" and cmd[2] == want:
                c.sendall(tag + b" OK [CAPABILITY IMAP4rev1 NAMESPACE] authenticated\r\n")
            else:
                c.sendall(b"+ " + ERROR_CHALLENGE + b"\r\n")
                if f.readline() != b"\r\n":
                    return
                c.sendall(tag + b" NO [AUTHENTICATIONFAILED] Invalid credentials\r\n")
        elif verb == b"NAMESPACE":
            c.sendall(b'* NAMESPACE (("" "/")) NIL NIL\r\n' + tag + b" OK\r\n")
        elif verb == b"LIST":
            c.sendall(b'* LIST (\\HasNoChildren) "/" INBOX\r\n' + tag + b" OK\r\n")
        elif verb == b"EXAMINE":
            c.sendall(b"* 0 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n" + tag +
                      b" OK [READ-ONLY] done\r\n")
        elif verb == b"LOGOUT":
            c.sendall(b"* BYE bye\r\n" + tag + b" OK\r\n")
            return
        else:
            c.sendall(tag + b" OK\r\n")


def serve(c, mode, args):
    f = c.makefile("rb")
    try:
        if mode == "xoauth2":
            c.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR] fake ready\r\n")
            token = open(args.token_file, "rb").read().strip()
            return xoauth2(c, f, args.user.encode(), token)
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
    ap.add_argument("--user", default="alice", help="xoauth2: the expected user")
    ap.add_argument("--token-file", help="xoauth2: the expected token")
    a = ap.parse_args()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    print(s.getsockname()[1], flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, a.mode, a), daemon=True).start()


if __name__ == "__main__":
    main()
