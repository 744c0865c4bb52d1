#!/usr/bin/env python3
"""smtp_raw.py - hostile SMTP clients for the relay's security tests (things
swaks will not do). Each prints what happened and exits 0 when the relay
behaved, 1 when it did not.

  smtp_raw.py smuggle PORT RCPT          each smuggling variant must get 550 5.5.2
                                         (or never end DATA), nothing queued by it
  smtp_raw.py starttls-inject PORT CAFILE  "STARTTLS\\r\\nRSET\\r\\n" in one packet:
                                         the RSET must not be answered over TLS
  smtp_raw.py idle PORT N SECS           open N connections that say nothing;
                                         report how many got a greeting, a 421
                                         (limit) and a 421 timeout within SECS
  smtp_raw.py flood PORT SECS            pipeline NOOPs without reading replies
  smtp_raw.py longline PORT              a 2000-octet command gets 500 5.5.2 and
                                         the session goes on
"""
import socket
import ssl
import sys
import time


def conn(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    return s, s.makefile("rb")


def reply(f):
    lines = []
    while True:
        line = f.readline()
        if not line:
            return 0, "closed"
        lines.append(line.decode("utf-8", "replace"))
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3]), "".join(lines)


def smuggle(port, rcpt):
    variants = {
        "bare LF dot bare LF": b"Subject: a\r\n\r\nhello\n.\nMAIL FROM:<evil@x>\r\n",
        "bare CR dot bare CR": b"Subject: b\r\n\r\nhello\r.\rMAIL FROM:<evil@x>\r\n",
        "CRLF dot bare LF": b"Subject: c\r\n\r\nhello\r\n.\nMAIL FROM:<evil@x>\r\n",
        "bare LF dot CRLF": b"Subject: d\r\n\r\nhello\n.\r\nMAIL FROM:<evil@x>\r\n",
        "bare LF in body": b"Subject: e\r\n\r\nline one\nline two\r\n",
    }
    bad = 0
    for name, body in variants.items():
        s, f = conn(port)
        reply(f)
        for c in (b"EHLO smuggler.test", b"MAIL FROM:<s@outside.test>",
                  b"RCPT TO:<" + rcpt.encode() + b">", b"DATA"):
            s.sendall(c + b"\r\n")
            reply(f)
        s.sendall(body + b"\r\n.\r\n")
        code, text = reply(f)
        # whatever followed inside the data must not have become a command
        s.sendall(b"NOOP\r\n")
        code2, text2 = reply(f)
        ok = code == 550 and "5.5.2" in text and code2 == 250
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {text.strip()} / then NOOP: {code2}")
        bad += not ok
        s.close()
    return 1 if bad else 0


def starttls_inject(port, cafile):
    s, f = conn(port)
    reply(f)
    s.sendall(b"EHLO inject.test\r\n")
    code, text = reply(f)
    if "STARTTLS" not in text:
        print("FAIL: STARTTLS not offered")
        return 1
    s.sendall(b"STARTTLS\r\nRSET\r\n")   # the RSET is the injection
    code, text = reply(f)
    if code != 220:
        print(f"FAIL: STARTTLS answered {text.strip()}")
        return 1
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    tf = t.makefile("rb")
    t.sendall(b"EHLO inject.test\r\n")
    code, text = reply(tf)
    # the first reply over TLS must answer our EHLO, not the injected RSET
    ok = code == 250 and "relay" in text.split("\n")[0] and "2.0.0 Ok" not in text.split("\n")[0]
    t.sendall(b"NOOP\r\n")
    code2, text2 = reply(tf)
    ok = ok and code2 == 250
    # a clean QUIT over TLS must be answered (the session is freed after it)
    t.sendall(b"QUIT\r\n")
    code3, _ = reply(tf)
    ok = ok and code3 == 221
    print(f"{'ok' if ok else 'FAIL'}: first reply over TLS: {text.splitlines()[0]!r}; "
          f"NOOP {code2}; QUIT {code3}")
    t.close()
    return 0 if ok else 1


def idle(port, n, secs):
    socks, greeted, limited = [], 0, 0
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            socks.append(s)
        except OSError:
            limited += 1
    # first reply of each: 220 greeting or 421 limit
    files = []
    for s in socks:
        s.settimeout(5)
        f = s.makefile("rb")
        code, _ = reply(f)
        if code == 220:
            greeted += 1
            files.append((s, f))
        else:
            limited += 1
            s.close()
    # those greeted stay silent: each must get a 421 timeout (or be closed)
    deadline = time.time() + secs
    timed_out = 0
    for s, f in files:
        s.settimeout(max(0.5, deadline - time.time()))
        try:
            code, text = reply(f)
            if code in (421, 0):
                timed_out += 1
        except (socket.timeout, OSError):
            pass
        s.close()
    print(f"connections={n} greeted={greeted} refused_by_limit={limited} timed_out={timed_out}")
    return 0


def flood(port, secs):
    """Pipeline NOOPs for SECS seconds without reading a reply; print how
    many octets the relay took. The relay must stop reading (its replies
    unread) rather than buffer replies without bound."""
    s, f = conn(port)
    reply(f)
    s.setblocking(False)
    chunk = b"NOOP\r\n" * 10000
    sent, end = 0, time.time() + secs
    while time.time() < end:
        try:
            sent += s.send(chunk)
        except BlockingIOError:
            time.sleep(0.01)
        except OSError:
            break
    print(f"flood: {sent} octets of NOOPs taken in {secs}s without reading a reply")
    s.close()
    return 0


def longline(port):
    s, f = conn(port)
    reply(f)
    s.sendall(b"EHLO " + b"a" * 2000 + b"\r\n")
    code, text = reply(f)
    s.sendall(b"NOOP\r\n")
    code2, _ = reply(f)
    ok = code == 500 and "5.5.2" in text and code2 == 250
    print(f"{'ok' if ok else 'FAIL'}: long line: {text.strip()}; NOOP {code2}")
    return 0 if ok else 1


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[:1] == ["smuggle"]:
        sys.exit(smuggle(int(a[1]), a[2]))
    if a[:1] == ["starttls-inject"]:
        sys.exit(starttls_inject(int(a[1]), a[2]))
    if a[:1] == ["idle"]:
        sys.exit(idle(int(a[1]), int(a[2]), float(a[3])))
    if a[:1] == ["flood"]:
        sys.exit(flood(int(a[1]), float(a[2])))
    if a[:1] == ["longline"]:
        sys.exit(longline(int(a[1])))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
