#!/usr/bin/env python3
"""sinkdump.py - read what Postfix's smtp-sink dumped (one file per message,
smtp-sink -d) and report it, so the relay tests can check what each sink got.

  sinkdump.py traces DIR    one line per message and recipient: TRACE RCPT
  sinkdump.py json DIR      [{file, sender, rcpts, trace, message_id, body_sha256}]
  sinkdump.py message FILE  the message of one dump file without smtp-sink's
                            envelope lines, with CRLF line ends

smtp-sink writes the envelope as X-Mail-Args / X-Rcpt-Args lines (and
X-Client-*, X-Helo-Args) in front of the message; the message follows as
received (dot-unstuffed).
"""
import hashlib
import json
import os
import re
import sys


def envelope_end(data):
    """Offset of the message in a dump file (after the X-Client/X-Helo/X-Mail/X-Rcpt lines)."""
    pos = 0
    while True:
        m = re.match(rb"(X-Client-[A-Za-z-]+|X-Helo-Args|X-Mail-Args|X-Rcpt-Args):[^\n]*\n",
                     data[pos:])
        if not m:
            return pos
        pos += m.end()


def parse(path):
    data = open(path, "rb").read()
    rcpts, sender = [], None
    # envelope lines come first, each "X-...: value\r?\n"
    pos = 0
    while True:
        m = re.match(rb"(X-[A-Za-z-]+): ?([^\r\n]*)\r?\n", data[pos:])
        if not m:
            break
        key, val = m.group(1).decode(), m.group(2).decode("utf-8", "replace")
        if key == "X-Mail-Args":
            sender = re.sub(r"^(?:FROM:)?\s*<?([^> ]*)>?.*$", r"\1", val, flags=re.I)
        elif key == "X-Rcpt-Args":
            rcpts.append(re.sub(r"^(?:TO:)?\s*<?([^> ]*)>?.*$", r"\1", val, flags=re.I))
        pos += m.end()
        if key not in ("X-Client-Addr", "X-Client-Proto", "X-Helo-Args", "X-Mail-Args",
                       "X-Rcpt-Args") and not key.startswith("X-Client"):
            # a header of the message itself: the envelope is over
            pos -= m.end()
            break
    msg = data[pos:].replace(b"\r\n", b"\n")   # smtp-sink may store LF line ends
    hdr_end = msg.find(b"\n\n")
    hdr = msg[:hdr_end if hdr_end >= 0 else len(msg)]
    body = msg[hdr_end + 2:] if hdr_end >= 0 else b""

    def field(name):
        m = re.search(rb"(?im)^" + name + rb":[ \t]*([^\r\n]*)", hdr)
        return m.group(1).decode("utf-8", "replace").strip() if m else None
    return {"file": os.path.basename(path), "sender": sender, "rcpts": rcpts,
            "trace": field(rb"X-Mailshift-Trace"), "message_id": field(rb"Message-ID"),
            "body_sha256": hashlib.sha256(body).hexdigest()}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("traces", "json", "message"):
        print(__doc__, file=sys.stderr)
        return 2
    if sys.argv[1] == "message":
        data = open(sys.argv[2], "rb").read()
        msg = data[envelope_end(data):].replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        sys.stdout.buffer.write(msg)
        return 0
    d = sys.argv[2]
    msgs = [parse(os.path.join(d, f)) for f in sorted(os.listdir(d))
            if os.path.isfile(os.path.join(d, f))]
    if sys.argv[1] == "json":
        json.dump(msgs, sys.stdout, indent=1)
        print()
    else:
        lines = sorted(f"{m['trace']} {r}" for m in msgs for r in m["rcpts"])
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
