#!/usr/bin/env python3
"""smtp_load.py - send N messages over K parallel SMTP sessions and record,
for each message, the queue id of its 250 reply, so that a test can check
that every message the relay answered 250 was delivered (the relay may be
killed in between: a session that breaks reconnects and sends the
messages that did not get their 250 again, as a real MTA would).

  smtp_load.py --port P --count N --sessions K --to a@x[,b@y] --json OUT
               [--size BYTES] [--deadline SECS] [--per-session-msgs M]

OUT: {"accepted": [{"n", "id", "message_id"}], "errors": E, "seconds": S}
"""
import argparse
import json
import random
import socket
import threading
import time


class Session:
    def __init__(self, port, helo="load.test"):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.f = self.s.makefile("rb")
        self.reply()
        self.cmd(b"EHLO " + helo.encode())

    def reply(self):
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                raise ConnectionError("connection closed")
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                break
        return int(lines[-1][:3]), b"".join(lines).decode("utf-8", "replace")

    def cmd(self, c):
        self.s.sendall(c + b"\r\n")
        return self.reply()

    def send(self, sender, rcpts, data):
        # pipelined MAIL/RCPT/DATA, as smtp-source does
        out = [b"MAIL FROM:<" + sender.encode() + b">"]
        out += [b"RCPT TO:<" + r.encode() + b">" for r in rcpts]
        out.append(b"DATA")
        self.s.sendall(b"\r\n".join(out) + b"\r\n")
        codes = [self.reply() for _ in out]
        if codes[-1][0] != 354:
            return None, codes
        self.s.sendall(data + b".\r\n")
        code, text = self.reply()
        if code != 250:
            return None, [(code, text)]
        qid = text.rsplit("queued as ", 1)[-1].strip().split()[0] if "queued as" in text else "?"
        return qid, None

    def close(self):
        try:
            self.cmd(b"QUIT")
        except OSError:
            pass
        self.s.close()


def message(n, size, tag):
    mid = f"<load-{tag}-{n}@load.test>"
    body = (f"line {n} " + "x" * 60 + "\r\n") * max(1, size // 70)
    hdr = (f"From: load@load.test\r\nTo: relay-test@example.jp\r\nSubject: load {n}\r\n"
           f"Message-ID: {mid}\r\nDate: Sat, 28 Nov 2026 09:00:00 +0900\r\n\r\n")
    data = (hdr + body).encode()
    data = data.replace(b"\r\n.", b"\r\n..")
    return mid, data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--to", required=True)
    ap.add_argument("--size", type=int, default=2000)
    ap.add_argument("--deadline", type=float, default=600)
    ap.add_argument("--per-session-msgs", type=int, default=100)
    ap.add_argument("--tag", default=str(random.randrange(1 << 30)))
    ap.add_argument("--json", required=True)
    a = ap.parse_args()
    rcpts = a.to.split(",")
    todo = list(range(a.count))
    lock = threading.Lock()
    accepted, errors = [], [0]
    end = time.time() + a.deadline
    t0 = time.time()

    def worker():
        s, sent_here = None, 0
        while time.time() < end:
            with lock:
                if not todo:
                    break
                n = todo.pop()
            mid, data = message(n, a.size, a.tag)
            try:
                if s is None:
                    s, sent_here = Session(a.port), 0
                qid, bad = s.send("load@load.test", rcpts, data)
                if qid is None:
                    raise ConnectionError(f"refused: {bad}")
                with lock:
                    accepted.append({"n": n, "id": qid, "message_id": mid})
                sent_here += 1
                if sent_here >= a.per_session_msgs:
                    s.close()
                    s = None
            except (OSError, ConnectionError, ValueError):
                with lock:
                    todo.append(n)   # not answered 250: send it again
                    errors[0] += 1
                if s is not None:
                    try:
                        s.s.close()
                    except OSError:
                        pass
                s = None
                time.sleep(0.2)
        if s is not None:
            s.close()

    th = [threading.Thread(target=worker) for _ in range(a.sessions)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    json.dump({"accepted": accepted, "errors": errors[0], "left": len(todo),
               "seconds": time.time() - t0}, open(a.json, "w"))
    print(f"{len(accepted)} accepted, {errors[0]} session errors, {len(todo)} left, "
          f"{time.time() - t0:.1f}s")
    return 0 if not todo else 1


if __name__ == "__main__":
    raise SystemExit(main())
