#!/bin/bash
# t_smtp_client.sh — the relay's SMTP client (src/relay/smtp_client.c) through
# its test driver tests/tools/smtp_send.c, against Postfix's smtp-sink and a
# small scripted SMTP server (written below) for what smtp-sink cannot do:
# rejecting one recipient among several, 421 in the middle of a pipelined
# group, 354 to a DATA without valid recipients, SIZE, SMTPUTF8, STARTTLS
# (and bytes injected after its 220), and a record of the raw bytes on the
# wire for byte-exact dot-stuffing checks.
#
# Self-contained: builds nothing. SMTP_SEND names the driver (default
# build/h-smtp/smtp_send, best built with ASan+UBSan); needs /usr/sbin/smtp-sink,
# python3 and openssl. Exit 0 only when every check passed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
SMTP_SEND=${SMTP_SEND:-$top/build/h-smtp/smtp_send}
SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}
[ -x "$SMTP_SEND" ] || { echo "t_smtp_client: driver $SMTP_SEND is not built" >&2; exit 2; }
[ -x "$SINK" ] || { echo "t_smtp_client: $SINK not installed (postfix package)" >&2; exit 2; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=86:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

T=$(mktemp -d /tmp/t_smtp_client.XXXXXX)
chmod 777 "$T"     # smtp-sink writes its dump as an unprivileged user
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ "${KEEP_WORK:-}" = "" ]; then rm -rf "$T"; else echo "kept $T"; fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# Any sanitizer report fails the test, whatever the exit code was.
check_stderr() {
	if grep -q -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$1"; then
		cat "$1" >&2
		fail "sanitizer report in $1"
	fi
}

# send NAME [smtp_send args...]: runs the driver; stdout in $T/NAME.out,
# stderr in $T/NAME.err, exit status in RC.
send() {
	local name=$1; shift
	RC=0
	"$SMTP_SEND" --timeout 20000 "$@" >"$T/$name.out" 2>"$T/$name.err" || RC=$?
	check_stderr "$T/$name.err"
	[ "$RC" != 86 ] || { cat "$T/$name.err" >&2; fail "$name: sanitizer exit"; }
}

# expect_line NAME REGEX: some line of NAME's output matches
expect_line() {
	grep -q -E "$2" "$T/$1.out" || { cat "$T/$1.out" "$T/$1.err" >&2; fail "$1: no line matching /$2/"; }
}
expect_rc() {
	[ "$RC" = "$2" ] || { cat "$T/$1.out" "$T/$1.err" >&2; fail "$1: exit $RC, expected $2"; }
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# sink NAME [smtp-sink options...]: starts smtp-sink dumping to $T/NAME.dump;
# sets PORT.
sink() {
	local name=$1; shift
	for _ in 1 2 3 4 5; do
		PORT=$(free_port)
		"$SINK" -u nobody -D "$T/$name.dump" "$@" "127.0.0.1:$PORT" 32 \
			>"$T/$name.sink.log" 2>&1 &
		pids+=($!)
		for _ in $(seq 50); do
			if ss -ltn "sport = :$PORT" | grep -q LISTEN; then return 0; fi
			kill -0 "${pids[-1]}" 2>/dev/null || break
			sleep 0.1
		done
		kill "${pids[-1]}" 2>/dev/null || true
	done
	cat "$T/$name.sink.log" >&2
	fail "smtp-sink did not start"
}

# The scripted server. One connection at a time, --conns of them; every
# command, reply, recv() batch and TLS event goes to --log; the raw DATA
# bytes (as on the wire, up to and including the final ".CRLF") of message
# k go to --data-out.k. --lmtp makes it an LMTP server (RFC 2033): LHLO
# instead of EHLO/HELO, and one reply per accepted recipient after the end
# of data (--lmtp-reply ADDR=REPLY for one of them; --lmtp-cut N closes the
# connection after N of those replies).
cat >"$T/fakesmtp.py" <<'PY'
import argparse, os, socket, ssl, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--data-out", required=True)
ap.add_argument("--conns", type=int, default=1)
ap.add_argument("--no-pipelining", action="store_true")
ap.add_argument("--no-ehlo", action="store_true")
ap.add_argument("--size", type=int)
ap.add_argument("--smtputf8", action="store_true")
ap.add_argument("--reject-rcpt", action="append", default=[])
ap.add_argument("--rcpt-421", action="append", default=[])
ap.add_argument("--mail-reply")
ap.add_argument("--data-reply")
ap.add_argument("--accept-data-always", action="store_true")
ap.add_argument("--eod-reply", default="250 2.0.0 Ok: queued as FAKE")
ap.add_argument("--tls-cert")
ap.add_argument("--tls-key")
ap.add_argument("--inject", action="store_true")
ap.add_argument("--lmtp", action="store_true")
ap.add_argument("--lmtp-reply", action="append", default=[])
ap.add_argument("--lmtp-cut", type=int)
a = ap.parse_args()
lmtp_reply = dict(x.split("=", 1) for x in a.lmtp_reply)

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(8)
with open(a.port_file + ".tmp", "w") as f:
    f.write(str(ls.getsockname()[1]))
os.rename(a.port_file + ".tmp", a.port_file)
log = open(a.log, "a", buffering=1)
nmsg = 0

def serve(s):
    global nmsg
    def send(line):
        s.sendall(line.encode() + b"\r\n")
        log.write("S: " + line + "\n")
    buf = b""
    data = None          # bytearray while in DATA
    tls = False
    rcpts = 0
    accepted = []        # LMTP: accepted recipients, in RCPT order
    mail = False
    pause = False
    send("220 fake LMTP" if a.lmtp else "220 fake ESMTP")
    while True:
        if pause:
            # Give a pipelining client time to send its whole group, so
            # that one recv() shows what went out in one write.
            time.sleep(0.3)
            pause = False
        chunk = s.recv(1 << 20)
        if not chunk:
            log.write("EOF\n")
            return
        buf += chunk
        batch = []
        while True:
            if data is not None:
                start = max(0, len(data) - 4)
                data += buf
                buf = b""
                if data.startswith(b".\r\n"):
                    end = 3
                else:
                    i = data.find(b"\r\n.\r\n", start)
                    end = i + 5 if i >= 0 else -1
                if end < 0:
                    break
                buf = bytes(data[end:])
                nmsg += 1
                with open("%s.%d" % (a.data_out, nmsg), "wb") as f:
                    f.write(data[:end])
                log.write("DATA %d bytes\n" % end)
                mail = False
                batch.append(".")
                data = None
                if a.lmtp:
                    for k, addr in enumerate(accepted):
                        if a.lmtp_cut is not None and k == a.lmtp_cut:
                            log.write("lmtp cut\n")
                            return
                        rep = lmtp_reply.get(addr, "250 2.0.0 <%s> fake saved" % addr)
                        send(rep)
                        if rep.startswith("421"):
                            return
                    continue
                send(a.eod_reply)
                if a.eod_reply.startswith("421"):
                    return
                continue
            i = buf.find(b"\r\n")
            if i < 0:
                break
            line = buf[:i].decode("utf-8", "replace")
            buf = buf[i + 2:]
            log.write("C: " + line + "\n")
            verb = line.split(" ")[0].upper().split(":")[0]
            batch.append(verb)
            if a.lmtp and verb in ("EHLO", "HELO"):
                send("500 5.5.1 Unknown command (this is LMTP)")
                continue
            if verb == ("LHLO" if a.lmtp else "EHLO"):
                if a.no_ehlo:
                    send("502 5.5.2 Error: command not recognized")
                    continue
                kw = ["fake"]
                if not a.no_pipelining:
                    kw.append("PIPELINING")
                if a.size is not None:
                    kw.append("SIZE %d" % a.size)
                kw.append("8BITMIME")
                if a.smtputf8:
                    kw.append("SMTPUTF8")
                if a.tls_cert and not tls:
                    kw.append("STARTTLS")
                kw.append("ENHANCEDSTATUSCODES")
                for k in kw[:-1]:
                    send("250-" + k)
                send("250 " + kw[-1])
                pause = True
            elif verb == "HELO":
                send("250 fake")
                pause = True
            elif verb == "STARTTLS":
                if a.inject:
                    s.sendall(b"220 2.0.0 Ready to start TLS\r\n250 2.0.0 injected\r\n")
                    log.write("S: 220 + injected\n")
                else:
                    send("220 2.0.0 Ready to start TLS")
                log.write("batch " + ",".join(batch) + "\n")
                if buf:
                    log.write("client pipelined after STARTTLS\n")
                    return
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(a.tls_cert, a.tls_key)
                try:
                    s = ctx.wrap_socket(s, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    log.write("TLS failed: %s\n" % e)
                    return
                tls = True
                log.write("TLS on\n")
                batch = []
                break
            elif verb == "MAIL":
                rcpts = 0
                accepted = []
                mail = not a.mail_reply
                send(a.mail_reply or "250 2.1.0 Ok")
            elif not mail and verb in ("RCPT", "DATA"):
                send("503 5.5.1 Error: need MAIL command")
            elif verb == "RCPT":
                addr = line.split("<", 1)[1].split(">", 1)[0]
                if addr in a.rcpt_421:
                    send("421 4.3.2 fake is shutting down")
                    log.write("batch " + ",".join(batch) + "\n")
                    return
                if addr in a.reject_rcpt:
                    send("550 5.1.1 <%s>: Recipient address rejected: User unknown" % addr)
                else:
                    rcpts += 1
                    accepted.append(addr)
                    send("250 2.1.5 Ok")
            elif verb == "DATA":
                if a.data_reply:
                    send(a.data_reply)
                elif rcpts == 0 and not a.accept_data_always:
                    send("554 5.5.1 Error: no valid recipients")
                else:
                    send("354 End data with <CR><LF>.<CR><LF>")
                    data = bytearray()
            elif verb == "RSET":
                rcpts = 0
                accepted = []
                mail = False
                send("250 2.0.0 Ok")
            elif verb == "NOOP":
                send("250 2.0.0 Ok")
            elif verb == "QUIT":
                send("221 2.0.0 Bye")
                log.write("batch " + ",".join(batch) + "\n")
                return
            else:
                send("502 5.5.2 Error: command not recognized")
        if batch:
            log.write("batch " + ",".join(batch) + "\n")

for _ in range(a.conns):
    c, _addr = ls.accept()
    log.write("CONNECT\n")
    try:
        serve(c)
    except (ConnectionError, ssl.SSLError) as e:
        log.write("conn error: %s\n" % e)
    finally:
        try:
            c.close()
        except OSError:
            pass
    log.write("CLOSED\n")
PY

# fake NAME [fakesmtp options...]: starts the scripted server; sets PORT.
# Its log is $T/NAME.log, message k's raw data $T/NAME.data.k.
fake() {
	local name=$1; shift
	rm -f "$T/$name.port"
	python3 "$T/fakesmtp.py" --port-file "$T/$name.port" --log "$T/$name.log" \
		--data-out "$T/$name.data" "$@" 2>"$T/$name.py.err" &
	pids+=($!)
	for _ in $(seq 100); do
		[ -s "$T/$name.port" ] && break
		sleep 0.05
	done
	[ -s "$T/$name.port" ] || { cat "$T/$name.py.err" >&2; fail "fake server $name did not start"; }
	PORT=$(cat "$T/$name.port")
}
# fake_wait NAME: the scripted server finished (all its connections done)
fake_wait() {
	for _ in $(seq 100); do
		grep -q CLOSED "$T/$1.log" 2>/dev/null && return 0
		sleep 0.05
	done
	cat "$T/$1.log" "$T/$1.py.err" >&2
	fail "$1: the fake server did not see the connection end"
}
expect_log() {
	grep -q -E "$2" "$T/$1.log" || { cat "$T/$1.log" >&2; fail "$1: log has no line matching /$2/"; }
}
expect_no_log() {
	! grep -q -E "$2" "$T/$1.log" || { cat "$T/$1.log" >&2; fail "$1: log has a line matching /$2/"; }
}

# --- Test messages -----------------------------------------------------------

# dots.eml: lines that start with dots, a lone "." line, and a last line
# without CRLF.
printf 'From: a@example.jp\r\nSubject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nmiddle\r\n.\r\n...\r\nlast line without CRLF' \
	>"$T/dots.eml"

# boundary.eml: 64 KiB chunk edges land on a CR/LF pair split across the
# edge followed by a dot, and on a dot that is the first byte of a chunk;
# also a bare LF and a bare CR, which go out as CRLF.
python3 - "$T/boundary.eml" <<'PY'
import sys
K = 65536
m = bytearray(b"Subject: boundary\r\n\r\n")
m += b"x" * (K - 1 - len(m)) + b"\r"       # CR is the chunk's last byte
m += b"\n.dot after a split CRLF\r\n"        # LF starts chunk 2, dot follows
m += b"y" * (2 * K - len(m) - 2) + b"\r\n"   # chunk 2 ends with CRLF
m += b".dot first byte of chunk 3\r\n"
m += b"bare LF\n.dot after bare LF\r\nbare CR\r.dot after bare CR\r\n"
m += b"end\r\n"
open(sys.argv[1], "wb").write(m)
PY

# stuffed FILE: what the client must put on the wire for FILE (independent
# reference: line ends normalised to CRLF, leading dots doubled, ".CRLF").
stuffed() {
	python3 - "$1" <<'PY'
import re, sys
b = open(sys.argv[1], "rb").read()
lines = re.split(rb"\r\n|\r|\n", b)
if lines and lines[-1] == b"":
    lines.pop()
out = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)
sys.stdout.buffer.write(out + b".\r\n")
PY
}

# sink_body DUMP K: the body of the K-th message in an smtp-sink dump (what
# follows the three-line Received: header, without the empty line the sink
# appends), with LF line ends.
sink_body() {
	python3 - "$1" "$2" <<'PY'
import sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
k = int(sys.argv[2])
starts = [i for i, l in enumerate(lines) if l.startswith(b"X-Client-Addr: ")] + [len(lines)]
msg = lines[starts[k - 1]:starts[k]]
r = next(i for i, l in enumerate(msg) if l.startswith(b"Received: "))
body = msg[r + 3:]
while body and body[-1] == b"":
    body.pop()   # the sink's separator (and the split's trailing "")
sys.stdout.buffer.write(b"".join(l + b"\n" for l in body))
PY
}
# unix_text FILE: FILE with LF line ends and a final LF
unix_text() {
	python3 -c 'import sys,re; b=open(sys.argv[1],"rb").read(); b=re.sub(rb"\r\n|\r|\n", b"\n", b); sys.stdout.buffer.write(b if b.endswith(b"\n") else b+b"\n")' "$1"
}

# --- smtp-sink ----------------------------------------------------------------

# 1. Pipelined (smtp-sink announces PIPELINING): the dotted message arrives
#    exactly, for every recipient.
sink pipe
send pipe 127.0.0.1 "$PORT" sender@example.jp a@example.jp,b@example.jp "$T/dots.eml"
expect_rc pipe 0
[ "$(grep -c ' 250 2.0.0 ' "$T/pipe.out")" = 2 ] || { cat "$T/pipe.out"; fail "pipe: not 2 x 250"; }
sleep 0.2
cmp <(sink_body "$T/pipe.dump" 1) <(unix_text "$T/dots.eml") ||
	fail "pipelined: body in the sink differs from the message"
grep -q '^X-Rcpt-Args: <b@example.jp>' "$T/pipe.dump" || fail "pipelined: second RCPT missing"
pass "smtp-sink, pipelined: dotted message arrives byte-exact (after the sink's headers), 250 for both"

# 2. Without PIPELINING (-p): same result, one command at a time.
sink nopipe -p
send nopipe 127.0.0.1 "$PORT" sender@example.jp a@example.jp,b@example.jp "$T/dots.eml"
expect_rc nopipe 0
[ "$(grep -c ' 250 2.0.0 ' "$T/nopipe.out")" = 2 ] || { cat "$T/nopipe.out"; fail "nopipe: not 2 x 250"; }
sleep 0.2
cmp <(sink_body "$T/nopipe.dump" 1) <(unix_text "$T/dots.eml") ||
	fail "non-pipelined: body in the sink differs from the message"
pass "smtp-sink, no PIPELINING: dotted message arrives byte-exact, 250 for both"

# 3. DATA refused with 4xx (-r DATA): every recipient gets it; the client
#    RSETs and the connection stays usable for a second transaction.
sink data4xx -r DATA
send data4xx 127.0.0.1 "$PORT" --repeat 2 --verbose sender@example.jp a@example.jp,b@example.jp,c@example.jp "$T/dots.eml"
expect_rc data4xx 0
[ "$(grep -c -E '^[abc]@example.jp 450 4\.3\.0 ' "$T/data4xx.out")" = 6 ] ||
	{ cat "$T/data4xx.out"; fail "data4xx: expected 450 4.3.0 for 3 recipients, twice"; }
grep -q 'usable=yes' "$T/data4xx.err" || { cat "$T/data4xx.err"; fail "data4xx: connection not reusable after RSET"; }
pass "smtp-sink, DATA refused 450: 450 for every recipient, RSET, connection reused"

# 4. RCPT refused with 5xx (-f RCPT, all of them): 500 for each, nothing sent.
sink rcpt5xx -f RCPT
send rcpt5xx 127.0.0.1 "$PORT" sender@example.jp a@example.jp,b@example.jp "$T/dots.eml"
expect_rc rcpt5xx 0
[ "$(grep -c -E ' 500 5\.3\.0 ' "$T/rcpt5xx.out")" = 2 ] || { cat "$T/rcpt5xx.out"; fail "rcpt5xx"; }
sleep 0.2
[ ! -s "$T/rcpt5xx.dump" ] || fail "rcpt5xx: a message was delivered with no valid recipient"
pass "smtp-sink, every RCPT refused 5xx: 500 for each, no message"

# 5. 421 and disconnect after RCPT (-Q RCPT): 421 for every recipient, the
#    client is no longer usable, exit 0 (results known).
sink rcpt421 -Q RCPT
send rcpt421 127.0.0.1 "$PORT" --verbose sender@example.jp a@example.jp,b@example.jp "$T/dots.eml"
expect_rc rcpt421 0
[ "$(grep -c -E ' 421 ' "$T/rcpt421.out")" = 2 ] || { cat "$T/rcpt421.out"; fail "rcpt421"; }
grep -q 'usable=no' "$T/rcpt421.err" || fail "rcpt421: client still usable after 421"
pass "smtp-sink, 421 to RCPT: 421 (deferral) for every recipient, connection unusable"

# 6. Disconnect without a reply after DATA (-q .): an error, exit 1.
sink cut -q .
send cut 127.0.0.1 "$PORT" sender@example.jp a@example.jp "$T/dots.eml"
expect_rc cut 1
grep -q 'closed the connection' "$T/cut.err" || { cat "$T/cut.err"; fail "cut: unclear message"; }
[ ! -s "$T/cut.out" ] || fail "cut: results printed although the connection failed"
pass "smtp-sink, connection dropped before the end-of-data reply: error, no results"

# 7. 25 MB message: streams with bounded memory. Peak RSS of the driver for
#    the big message against a 1-line message: the difference must stay far
#    below the message size.
python3 - "$T/big.eml" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"Subject: big\r\n\r\n")
    line = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789\r\n"
    n = 0
    i = 0
    while n < 25 * 1024 * 1024:
        l = (b"." + line) if i % 7 == 0 else line
        f.write(l)
        n += len(l)
        i += 1
PY
printf 'Subject: small\r\n\r\nsmall\r\n' >"$T/small.eml"
sink big
rss_of() { awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$1"; }
if [ -x /usr/bin/time ]; then
	RC=0
	/usr/bin/time -v -o "$T/small.time" "$SMTP_SEND" 127.0.0.1 "$PORT" s@example.jp a@example.jp "$T/small.eml" \
		>"$T/small.out" 2>"$T/small.err" || RC=$?
	expect_rc small 0
	RC=0
	/usr/bin/time -v -o "$T/big.time" "$SMTP_SEND" --timeout 60000 127.0.0.1 "$PORT" s@example.jp a@example.jp "$T/big.eml" \
		>"$T/big.out" 2>"$T/big.err" || RC=$?
	check_stderr "$T/big.err"
	expect_rc big 0
	expect_line big '^a@example.jp 250 '
	small_kb=$(rss_of "$T/small.time")
	big_kb=$(rss_of "$T/big.time")
	echo "   peak RSS: small message ${small_kb} kB, 25 MB message ${big_kb} kB"
	[ $((big_kb - small_kb)) -lt 8192 ] || fail "25 MB message: peak RSS grew by $((big_kb - small_kb)) kB"
else
	send big --timeout 60000 127.0.0.1 "$PORT" s@example.jp a@example.jp "$T/big.eml"
	expect_rc big 0
	expect_line big '^a@example.jp 250 '
	echo "   (no /usr/bin/time: RSS not measured)"
fi
sleep 0.5
cmp <(sink_body "$T/big.dump" 2) <(unix_text "$T/big.eml") || fail "25 MB message: body differs in the sink"
pass "25 MB message streamed (bounded memory), arrives intact"

# 8. Nothing listening: exit 1 and a message that says so.
PORT=$(free_port)
send refused 127.0.0.1 "$PORT" s@example.jp a@example.jp "$T/dots.eml"
expect_rc refused 1
grep -q -E "cannot connect: Connection refused" "$T/refused.err" || { cat "$T/refused.err"; fail "refused: unclear message"; }
pass "connection refused: exit 1, '$(head -c 120 "$T/refused.err" | tr -d '\n')'"

# --- scripted server ----------------------------------------------------------

# 9. Pipelined group in one write, one recipient refused 550, raw wire bytes
#    exactly as stuffed (chunk edges, bare CR/LF), for two transactions on
#    one connection.
fake p550 --reject-rcpt b@example.jp --size 10000000
send p550 127.0.0.1 "$PORT" --repeat 2 sender@example.jp a@example.jp,b@example.jp,c@example.jp "$T/boundary.eml"
expect_rc p550 0
fake_wait p550
for k in 0 3; do
	sed -n "$((k + 1)),$((k + 3))p" "$T/p550.out" >"$T/p550.part"
	if ! grep -q -E '^a@example.jp 250 2\.0\.0 Ok: queued as FAKE$' "$T/p550.part" ||
	   ! grep -q -E '^b@example.jp 550 5\.1\.1 <b@example.jp>: Recipient address rejected' "$T/p550.part" ||
	   ! grep -q -E '^c@example.jp 250 2\.0\.0 Ok: queued as FAKE$' "$T/p550.part"; then
		cat "$T/p550.out"
		fail "p550: per-recipient results wrong (transaction $((k / 3 + 1)))"
	fi
done
expect_log p550 '^batch MAIL,RCPT,RCPT,RCPT,DATA$'
expect_log p550 "^C: MAIL FROM:<sender@example.jp> SIZE=$(stat -c %s "$T/boundary.eml")$"
[ "$(grep -c '^C: EHLO' "$T/p550.log")" = 1 ] || fail "p550: reconnected instead of reusing"
stuffed "$T/boundary.eml" >"$T/boundary.wire"
cmp "$T/p550.data.1" "$T/boundary.wire" || fail "p550: wire bytes differ from the stuffed message"
cmp "$T/p550.data.2" "$T/boundary.wire" || fail "p550: second transaction's bytes differ"
stuffed "$T/dots.eml" >"$T/dots.wire"
# The reference itself is checked once, by hand, against RFC 5321 §4.5.2.
printf 'From: a@example.jp\r\nSubject: dots\r\n\r\n..leading dot\r\n...two dots\r\n..\r\nmiddle\r\n..\r\n....\r\nlast line without CRLF\r\n.\r\n' |
	cmp - "$T/dots.wire" || fail "reference stuffing is wrong"
pass "pipelined: MAIL+RCPTs+DATA in one write, 550 for one rcpt and 250 for the others, wire bytes exact across 64 KiB edges, connection reused"

# 10. Same without PIPELINING: lockstep, same results.
fake l550 --reject-rcpt b@example.jp --no-pipelining
send l550 127.0.0.1 "$PORT" sender@example.jp a@example.jp,b@example.jp,c@example.jp "$T/dots.eml"
expect_rc l550 0
fake_wait l550
expect_line l550 '^a@example.jp 250 2\.0\.0 '
expect_line l550 '^b@example.jp 550 5\.1\.1 '
expect_line l550 '^c@example.jp 250 2\.0\.0 '
expect_log l550 '^batch MAIL$'
expect_no_log l550 '^batch MAIL,'
expect_log l550 '^C: MAIL FROM:<sender@example.jp>$'
cmp "$T/l550.data.1" "$T/dots.wire" || fail "l550: wire bytes differ"
pass "no PIPELINING: one command at a time, 550 for one rcpt and 250 for the others, bytes exact"

# 11. No recipient accepted, but the server says 354 to the pipelined DATA:
#     an empty message (".") then RSET (RFC 2920 §3.1); every rcpt has its 550.
fake none354 --reject-rcpt a@example.jp --reject-rcpt b@example.jp --accept-data-always --eod-reply '554 5.5.1 no valid recipients'
send none354 127.0.0.1 "$PORT" --verbose sender@example.jp a@example.jp,b@example.jp "$T/dots.eml"
expect_rc none354 0
fake_wait none354
[ "$(grep -c -E ' 550 5\.1\.1 ' "$T/none354.out")" = 2 ] || { cat "$T/none354.out"; fail "none354: results"; }
printf '.\r\n' | cmp - "$T/none354.data.1" || fail "none354: the client did not send a lone dot"
expect_log none354 '^C: RSET$'
grep -q 'usable=yes' "$T/none354.err" || fail "none354: unusable afterwards"
pass "no valid recipient but 354: a lone '.', then RSET; 550 for each, connection usable"

# 11b. No recipient accepted, DATA refused as it should be: RSET, no data.
fake none554 --reject-rcpt a@example.jp
send none554 127.0.0.1 "$PORT" sender@example.jp a@example.jp "$T/dots.eml"
expect_rc none554 0
fake_wait none554
expect_line none554 '^a@example.jp 550 5\.1\.1 '
expect_log none554 '^S: 554 5\.5\.1'
expect_log none554 '^C: RSET$'
[ ! -e "$T/none554.data.1" ] || fail "none554: data sent"
pass "no valid recipient, DATA 554: ignored, RSET, rcpt keeps its 550"

# 11c. MAIL refused (pipelined and not): every recipient gets MAIL's reply,
#      not the 503s that follow it; RSET; no data.
for mode in pipe lock; do
	opt=""
	[ $mode = pipe ] || opt=--no-pipelining
	fake mail$mode --mail-reply '451 4.3.5 sender check unavailable' $opt
	send mail$mode 127.0.0.1 "$PORT" --verbose sender@example.jp a@example.jp,b@example.jp "$T/dots.eml"
	expect_rc mail$mode 0
	fake_wait mail$mode
	[ "$(grep -c -E ' 451 4\.3\.5 sender check unavailable$' "$T/mail$mode.out")" = 2 ] ||
		{ cat "$T/mail$mode.out"; fail "mail$mode: results"; }
	expect_log mail$mode '^C: RSET$'
	grep -q 'usable=yes' "$T/mail$mode.err" || fail "mail$mode: unusable afterwards"
	[ ! -e "$T/mail$mode.data.1" ] || fail "mail$mode: data sent"
done
expect_no_log maillock '^C: RCPT'
pass "MAIL refused: its reply for every recipient (pipelined and not), RSET, nothing sent"

# 12. 421 to the second RCPT of a pipelined group: the first rcpt's result
#     is not known (no end of data), so all get the 421; unusable.
fake mid421 --rcpt-421 b@example.jp
send mid421 127.0.0.1 "$PORT" --verbose sender@example.jp a@example.jp,b@example.jp,c@example.jp "$T/dots.eml"
expect_rc mid421 0
[ "$(grep -c -E ' 421 4\.3\.2 fake is shutting down' "$T/mid421.out")" = 3 ] || { cat "$T/mid421.out"; fail "mid421"; }
grep -q 'usable=no' "$T/mid421.err" || fail "mid421: still usable"
pass "421 in a pipelined group: 421 for every recipient without a result, unusable"

# 12b. 421 to one RCPT after another was refused (lockstep): the refusal is
#      kept, the others get 421.
fake mix421 --no-pipelining --reject-rcpt a@example.jp --rcpt-421 b@example.jp
send mix421 127.0.0.1 "$PORT" sender@example.jp a@example.jp,b@example.jp,c@example.jp "$T/dots.eml"
expect_rc mix421 0
expect_line mix421 '^a@example.jp 550 5\.1\.1 '
expect_line mix421 '^b@example.jp 421 4\.3\.2 '
expect_line mix421 '^c@example.jp 421 4\.3\.2 '
pass "421 after a refused RCPT: the 550 is kept, the rest get 421"

# 13. SIZE: a message over the server's limit is refused locally (552 5.3.4),
#     no MAIL sent.
fake size --size 1000
send size 127.0.0.1 "$PORT" --verbose sender@example.jp a@example.jp,b@example.jp "$T/boundary.eml"
expect_rc size 0
[ "$(grep -c -E ' 552 5\.3\.4 message size [0-9]+ exceeds the limit of 1000 ' "$T/size.out")" = 2 ] ||
	{ cat "$T/size.out"; fail "size"; }
fake_wait size
expect_no_log size '^C: MAIL'
pass "over the server's SIZE: 552 5.3.4 for each, nothing sent"

# 14. SMTPUTF8 needed, server without it: 553 5.6.7, nothing sent. With it:
#     MAIL carries BODY=8BITMIME SMTPUTF8.
fake noutf8
send noutf8 127.0.0.1 "$PORT" --smtputf8 sender@example.jp a@example.jp "$T/dots.eml"
expect_rc noutf8 0
expect_line noutf8 '^a@example.jp 553 5\.6\.7 .*SMTPUTF8'
fake_wait noutf8
expect_no_log noutf8 '^C: MAIL'
fake utf8 --smtputf8
send utf8 127.0.0.1 "$PORT" --smtputf8 --8bit 'sénder@example.jp' 'ré@example.jp' "$T/dots.eml"
expect_rc utf8 0
expect_line utf8 '^ré@example.jp 250 '
fake_wait utf8
expect_log utf8 '^C: MAIL FROM:<sénder@example.jp> BODY=8BITMIME SMTPUTF8$'
fake eight
send eight 127.0.0.1 "$PORT" --8bit sender@example.jp a@example.jp "$T/dots.eml"
fake_wait eight
expect_log eight '^C: MAIL FROM:<sender@example.jp> BODY=8BITMIME$'
pass "SMTPUTF8: 553 5.6.7 without server support; SMTPUTF8 and BODY=8BITMIME sent when offered"

# 15. EHLO refused: HELO, no ESMTP parameters.
fake helo --no-ehlo --size 1000
send helo 127.0.0.1 "$PORT" sender@example.jp a@example.jp "$T/boundary.eml"
expect_rc helo 0
expect_line helo '^a@example.jp 250 '
fake_wait helo
expect_log helo '^C: HELO localhost$'
expect_log helo '^C: MAIL FROM:<sender@example.jp>$'
pass "EHLO refused: HELO fallback, plain MAIL FROM"

# 16. Address that could inject a command: refused locally.
fake inject_addr
send inject_addr 127.0.0.1 "$PORT" sender@example.jp 'a@example.jp>,b@example.jp' "$T/dots.eml"
expect_rc inject_addr 0
expect_line inject_addr '^a@example.jp> 501 5\.1\.3 '
expect_line inject_addr '^b@example.jp 250 '
fake_wait inject_addr
expect_no_log inject_addr 'RCPT TO:<a@example.jp>'
pass "recipient with '>' refused locally (501 5.1.3), the other delivered"

# --- STARTTLS -----------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=test CA" \
	-keyout "$T/ca.key" -out "$T/ca.pem" -addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$T/srv.key" \
	-out "$T/srv.csr" >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1,DNS:127.0.0.1\n' >"$T/srv.ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
	-days 2 -extfile "$T/srv.ext" -out "$T/srv.pem" >/dev/null 2>&1

# 17. STARTTLS, verified with the private CA, EHLO again over TLS.
fake tls --tls-cert "$T/srv.pem" --tls-key "$T/srv.key"
send tls 127.0.0.1 "$PORT" --verbose --tls require --ca-file "$T/ca.pem" sender@example.jp a@example.jp "$T/dots.eml"
expect_rc tls 0
expect_line tls '^a@example.jp 250 '
grep -q 'tls=on' "$T/tls.err" || fail "tls: not on"
fake_wait tls
expect_log tls '^TLS on$'
[ "$(grep -c '^C: EHLO' "$T/tls.log")" = 2 ] || fail "tls: EHLO not repeated after STARTTLS"
cmp "$T/tls.data.1" "$T/dots.wire" || fail "tls: wire bytes differ"
pass "STARTTLS verified with ca_file, EHLO again, message delivered over TLS"

# 18. Wrong CA: the certificate is refused.
fake tlsbad --tls-cert "$T/srv.pem" --tls-key "$T/srv.key"
send tlsbad 127.0.0.1 "$PORT" --tls may sender@example.jp a@example.jp "$T/dots.eml"
expect_rc tlsbad 1
grep -q -i 'certificate' "$T/tlsbad.err" || { cat "$T/tlsbad.err"; fail "tlsbad: unclear message"; }
pass "STARTTLS with an unknown CA: refused ('$(head -c 100 "$T/tlsbad.err" | tr -d '\n')...')"

# 19. Bytes injected after the 220 to STARTTLS: refused before the handshake.
fake tlsinj --tls-cert "$T/srv.pem" --tls-key "$T/srv.key" --inject
send tlsinj 127.0.0.1 "$PORT" --tls require --ca-file "$T/ca.pem" sender@example.jp a@example.jp "$T/dots.eml"
expect_rc tlsinj 1
grep -q 'injection' "$T/tlsinj.err" || { cat "$T/tlsinj.err"; fail "tlsinj: not detected"; }
fake_wait tlsinj
expect_no_log tlsinj '^TLS on$'
pass "data injected after the STARTTLS reply: refused (CVE-2011-0411 class)"

# 20. tls=require without STARTTLS offered: an error; tls=may: plaintext.
fake notls
send notls 127.0.0.1 "$PORT" --tls require sender@example.jp a@example.jp "$T/dots.eml"
expect_rc notls 1
grep -q 'does not offer STARTTLS' "$T/notls.err" || { cat "$T/notls.err"; fail "notls: message"; }
fake maytls
send maytls 127.0.0.1 "$PORT" --verbose --tls may sender@example.jp a@example.jp "$T/dots.eml"
expect_rc maytls 0
expect_line maytls '^a@example.jp 250 '
grep -q 'tls=off' "$T/maytls.err" || fail "maytls: expected plaintext"
pass "tls=require without STARTTLS: error; tls=may: plaintext delivery"

# --- LMTP (RFC 2033), scripted server -----------------------------------------

# 21. LMTP: LHLO (never EHLO), MAIL+RCPTs+DATA pipelined although LHLO does
#     not announce PIPELINING, one reply per accepted recipient after the end
#     of data, each the result of its own recipient (a 452 for one, 250 for
#     the others, the RCPT refusal kept); bytes exact; two transactions on
#     one connection.
fake lmtp --lmtp --no-pipelining --size 10000000 --reject-rcpt b@example.jp \
	--lmtp-reply 'c@example.jp=452 4.2.2 <c@example.jp> Mailbox is full'
send lmtp 127.0.0.1 "$PORT" --lmtp --repeat 2 --verbose sender@example.jp \
	a@example.jp,b@example.jp,c@example.jp,d@example.jp "$T/boundary.eml"
expect_rc lmtp 0
fake_wait lmtp
for k in 0 4; do
	sed -n "$((k + 1)),$((k + 4))p" "$T/lmtp.out" >"$T/lmtp.part"
	if ! grep -q -x 'a@example.jp 250 2\.0\.0 <a@example.jp> fake saved' "$T/lmtp.part" ||
	   ! grep -q -E '^b@example.jp 550 5\.1\.1 <b@example.jp>: Recipient address rejected' "$T/lmtp.part" ||
	   ! grep -q -x 'c@example.jp 452 4\.2\.2 <c@example.jp> Mailbox is full' "$T/lmtp.part" ||
	   ! grep -q -x 'd@example.jp 250 2\.0\.0 <d@example.jp> fake saved' "$T/lmtp.part"; then
		cat "$T/lmtp.out"
		fail "lmtp: per-recipient results wrong (transaction $((k / 4 + 1)))"
	fi
done
[ "$(wc -l <"$T/lmtp.out")" = 8 ] || { cat "$T/lmtp.out"; fail "lmtp: expected 8 result lines"; }
expect_log lmtp '^C: LHLO localhost$'
expect_no_log lmtp '^C: (EHLO|HELO)'
[ "$(grep -c '^C: LHLO' "$T/lmtp.log")" = 1 ] || fail "lmtp: reconnected instead of reusing"
[ "$(grep -c '^batch MAIL,RCPT,RCPT,RCPT,RCPT,DATA$' "$T/lmtp.log")" = 2 ] ||
	{ cat "$T/lmtp.log"; fail "lmtp: not pipelined (LHLO announced no PIPELINING)"; }
expect_log lmtp "^C: MAIL FROM:<sender@example.jp> SIZE=$(stat -c %s "$T/boundary.eml")$"
cmp "$T/lmtp.data.1" "$T/boundary.wire" || fail "lmtp: wire bytes differ from the stuffed message"
cmp "$T/lmtp.data.2" "$T/boundary.wire" || fail "lmtp: second transaction's bytes differ"
grep -q 'usable=yes' "$T/lmtp.err" || fail "lmtp: unusable afterwards"
pass "LMTP: LHLO, pipelined without PIPELINING announced, one reply per accepted rcpt (250/452), RCPT 550 kept, bytes exact, connection reused"

# 22. LMTP, the connection breaks after two of the three per-recipient
#     replies (a: 250, c: 451): a keeps its 250 (delivered: must not be sent
#     again); c's 451, b's RCPT 550 and d (no reply) get no result; exit 1.
fake lmtpcut --lmtp --reject-rcpt b@example.jp --lmtp-cut 2 \
	--lmtp-reply 'c@example.jp=451 4.3.0 <c@example.jp> Temporary failure'
send lmtpcut 127.0.0.1 "$PORT" --lmtp --verbose sender@example.jp \
	a@example.jp,b@example.jp,c@example.jp,d@example.jp "$T/dots.eml"
expect_rc lmtpcut 1
fake_wait lmtpcut
expect_log lmtpcut '^lmtp cut$'
expect_log lmtpcut '^S: 451 4\.3\.0 <c@example.jp>'
printf 'a@example.jp 250 2.0.0 <a@example.jp> fake saved\n' | cmp - "$T/lmtpcut.out" ||
	{ cat "$T/lmtpcut.out"; fail "lmtpcut: expected only a's 250 to be kept"; }
grep -q 'closed the connection instead of answering the end of the message data for <d@example.jp>' "$T/lmtpcut.err" ||
	{ cat "$T/lmtpcut.err"; fail "lmtpcut: unclear message"; }
grep -q 'usable=no' "$T/lmtpcut.err" || fail "lmtpcut: still usable"
# Before any per-recipient reply came, nothing is kept (as for SMTP, test 6).
fake lmtpcut0 --lmtp --lmtp-cut 0
send lmtpcut0 127.0.0.1 "$PORT" --lmtp sender@example.jp a@example.jp,b@example.jp "$T/dots.eml"
expect_rc lmtpcut0 1
[ ! -s "$T/lmtpcut0.out" ] || { cat "$T/lmtpcut0.out"; fail "lmtpcut0: results kept without any reply"; }
pass "LMTP, connection lost among the per-recipient replies: the 2xx already read is kept, the others get no result"

# 23. LMTP, 421 as one recipient's reply: that one and the later ones get the
#     421, the earlier 250 stays; unusable; exit 0 (every result known).
fake lmtp421 --lmtp --lmtp-reply 'b@example.jp=421 4.3.2 fake is shutting down'
send lmtp421 127.0.0.1 "$PORT" --lmtp --verbose sender@example.jp a@example.jp,b@example.jp,c@example.jp "$T/dots.eml"
expect_rc lmtp421 0
expect_line lmtp421 '^a@example.jp 250 2\.0\.0 <a@example.jp> fake saved$'
expect_line lmtp421 '^b@example.jp 421 4\.3\.2 fake is shutting down$'
expect_line lmtp421 '^c@example.jp 421 4\.3\.2 fake is shutting down$'
grep -q 'usable=no' "$T/lmtp421.err" || fail "lmtp421: still usable"
pass "LMTP, 421 among the per-recipient replies: earlier 250 kept, 421 for the rest, unusable"

# 24. LMTP client against an SMTP server (LHLO refused): an error naming
#     LHLO, and no HELO fallback.
fake lmtpsmtp
send lmtpsmtp 127.0.0.1 "$PORT" --lmtp sender@example.jp a@example.jp "$T/dots.eml"
expect_rc lmtpsmtp 1
grep -q 'refused our LMTP greeting (LHLO localhost): 502' "$T/lmtpsmtp.err" ||
	{ cat "$T/lmtpsmtp.err"; fail "lmtpsmtp: unclear message"; }
fake_wait lmtpsmtp
expect_no_log lmtpsmtp '^C: (HELO|EHLO|MAIL)'
pass "LMTP against a server that refuses LHLO: error, no HELO fallback"

# 25. LMTP server that says 354 to a DATA with no accepted recipient (RFC
#     2033 forbids it): the rcpt keeps its 550, no data, unusable, exit 0.
fake lmtp354 --lmtp --reject-rcpt a@example.jp --accept-data-always
send lmtp354 127.0.0.1 "$PORT" --lmtp --verbose sender@example.jp a@example.jp "$T/dots.eml"
expect_rc lmtp354 0
expect_line lmtp354 '^a@example.jp 550 5\.1\.1 '
grep -q 'usable=no' "$T/lmtp354.err" || fail "lmtp354: still usable"
fake_wait lmtp354
[ ! -e "$T/lmtp354.data.1" ] || fail "lmtp354: data sent"
pass "LMTP, 354 without an accepted recipient: left at once, 550 kept, nothing sent"

# 26. LMTP over STARTTLS: LHLO again over TLS; SMTPUTF8 + BODY=8BITMIME.
fake lmtptls --lmtp --smtputf8 --tls-cert "$T/srv.pem" --tls-key "$T/srv.key"
send lmtptls 127.0.0.1 "$PORT" --lmtp --verbose --tls require --ca-file "$T/ca.pem" --smtputf8 \
	'sénder@example.jp' 'ré@example.jp,a@example.jp' "$T/dots.eml"
expect_rc lmtptls 0
expect_line lmtptls '^ré@example.jp 250 2\.0\.0 <ré@example.jp> fake saved$'
expect_line lmtptls '^a@example.jp 250 2\.0\.0 <a@example.jp> fake saved$'
grep -q 'tls=on' "$T/lmtptls.err" || fail "lmtptls: not on"
fake_wait lmtptls
expect_log lmtptls '^TLS on$'
[ "$(grep -c '^C: LHLO' "$T/lmtptls.log")" = 2 ] || fail "lmtptls: LHLO not repeated after STARTTLS"
expect_log lmtptls '^C: MAIL FROM:<sénder@example.jp> BODY=8BITMIME SMTPUTF8$'
cmp "$T/lmtptls.data.1" "$T/dots.wire" || fail "lmtptls: wire bytes differ"
pass "LMTP over STARTTLS: LHLO again, SMTPUTF8 and BODY=8BITMIME, delivered"

# --- LMTP, real Dovecot --------------------------------------------------------
# A private Dovecot (lmtp only) in $T, as root: passwd-file users with a
# numeric uid no one has, maildir homes under $T. Needs dovecot-lmtpd.

DOVECOT=${DOVECOT:-/usr/sbin/dovecot}
if [ ! -x /usr/lib/dovecot/lmtp ] || [ ! -x "$DOVECOT" ]; then
	echo "skipped: dovecot-lmtpd not installed (no /usr/lib/dovecot/lmtp): real-Dovecot LMTP cases not run"
elif [ "$(id -u)" != 0 ]; then
	echo "skipped: real-Dovecot LMTP cases need root (Dovecot switches to the mail uid)"
else
	D=$T/dv
	mkdir -p "$D/run" "$D/state" "$D/home"
	chmod 755 "$D" "$D/home"
	muid=61500
	while getent passwd "$muid" >/dev/null || getent group "$muid" >/dev/null; do
		muid=$((muid + 1))
	done
	for u in alice carol; do
		mkdir -p "$D/home/$u"
		chown "$muid:$muid" "$D/home/$u"
		echo "$u@example.jp::$muid:$muid::$D/home/$u::"
	done >"$D/users"
	dv_conf() {
		cat <<DVCONF
instance_name = t_smtp_client_lmtp_$$
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
info_log_path = $D/dovecot.log
protocols = lmtp
listen = 127.0.0.1
ssl = no
first_valid_uid = $muid
last_valid_uid = $muid
first_valid_gid = $muid
last_valid_gid = $muid
mail_location = maildir:~/Maildir
lmtp_save_to_detail_mailbox = no
passdb {
  driver = passwd-file
  args = $D/users
}
userdb {
  driver = passwd-file
  args = $D/users
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $1
  }
}
DVCONF
	}
	dv_stop() { "$DOVECOT" -c "$D/dovecot.conf" stop >/dev/null 2>&1 || true; }
	dv_started=""
	for _ in 1 2 3; do
		DPORT=$(free_port)
		dv_conf "$DPORT" >"$D/dovecot.conf"
		trap 'dv_stop; cleanup' EXIT
		if ! "$DOVECOT" -c "$D/dovecot.conf" >"$D/start.err" 2>&1; then
			cat "$D/start.err" "$D/dovecot.log" 2>/dev/null >&2
			fail "private Dovecot did not start"
		fi
		for _ in $(seq 100); do
			if ss -ltn "sport = :$DPORT" | grep -q LISTEN; then dv_started=1; break; fi
			sleep 0.1
		done
		[ -z "$dv_started" ] || break
		dv_stop
		sleep 0.5
	done
	[ -n "$dv_started" ] || { cat "$D/dovecot.log" >&2; fail "private Dovecot is not listening"; }

	# maildir_check HOME EXPECTED: for each message in HOME/Maildir/{new,cur},
	# less the trace headers Dovecot puts on top (Return-Path, Delivered-To,
	# Received with its continuation lines), one line: "match" when the rest
	# equals EXPECTED byte for byte, else "differs".
	maildir_check() {
		python3 - "$1" "$2" <<'PY'
import os, sys
home, exp = sys.argv[1], open(sys.argv[2], "rb").read()
trace = (b"return-path:", b"delivered-to:", b"received:")
for sub in ("new", "cur"):
    d = os.path.join(home, "Maildir", sub)
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        lines = open(os.path.join(d, name), "rb").read().split(b"\n")
        i = 0
        while i < len(lines) and (lines[i].lower().startswith(trace) or
                                  (i > 0 and lines[i][:1] in (b" ", b"\t"))):
            i += 1
        print("match" if b"\n".join(lines[i:]) == exp else "differs")
PY
	}
	unix_text "$T/dots.eml" >"$T/dots.lf"
	unix_text "$T/boundary.eml" >"$T/boundary.lf"

	# 27. Two users in one transaction: 250 each (Dovecot's own reply per
	#     recipient), each maildir holds the message byte-exact.
	send dv2 127.0.0.1 "$DPORT" --lmtp --verbose sender@example.jp alice@example.jp,carol@example.jp "$T/dots.eml"
	expect_rc dv2 0
	expect_line dv2 '^alice@example.jp 250 2\.0\.0 <alice@example.jp> .*Saved'
	expect_line dv2 '^carol@example.jp 250 2\.0\.0 <carol@example.jp> .*Saved'
	grep -q 'usable=yes' "$T/dv2.err" || fail "dv2: unusable after the transaction"
	for u in alice carol; do
		[ "$(maildir_check "$D/home/$u" "$T/dots.lf")" = match ] || {
			maildir_check "$D/home/$u" "$T/dots.lf"
			find "$D/home/$u" -type f | head
			fail "dv2: $u's maildir does not hold exactly the message"
		}
	done
	# Dovecot 2.3 adds Delivered-To only to single-recipient transactions;
	# Return-Path shows the envelope sender arrived.
	grep -rqs '^Return-Path: <sender@example.jp>$' "$D/home/carol/Maildir/new" ||
		fail "dv2: carol's copy lacks Return-Path: <sender@example.jp>"
	pass "real Dovecot LMTP: one transaction, two users, 250 each, both maildirs hold the message byte-exact"

	# 28. One known and one unknown user: 250 for the known, Dovecot's 550
	#     5.1.1 (from RCPT) for the unknown; a 128 KiB message with dots at
	#     the 64 KiB edges, twice on the same connection (--repeat 2).
	send dv1 127.0.0.1 "$DPORT" --lmtp --repeat 2 --verbose sender@example.jp alice@example.jp,nobody@example.jp "$T/boundary.eml"
	expect_rc dv1 0
	[ "$(grep -c -E '^alice@example.jp 250 2\.0\.0 <alice@example.jp> .*Saved' "$T/dv1.out")" = 2 ] ||
		{ cat "$T/dv1.out"; fail "dv1: alice not 250 twice"; }
	[ "$(grep -c -E '^nobody@example.jp 550 5\.1\.1 ' "$T/dv1.out")" = 2 ] ||
		{ cat "$T/dv1.out"; fail "dv1: unknown user not 550 5.1.1 twice"; }
	grep -q 'usable=yes' "$T/dv1.err" || fail "dv1: unusable afterwards"
	[ "$(maildir_check "$D/home/alice" "$T/boundary.lf" | grep -c match)" = 2 ] ||
		{ maildir_check "$D/home/alice" "$T/boundary.lf"; fail "dv1: alice's maildir lacks 2 exact copies of the big message"; }
	[ "$(find "$D/home/alice/Maildir" -type f -path '*/new/*' | wc -l)" = 3 ] || fail "dv1: alice does not have exactly 3 messages"
	[ "$(find "$D/home/carol/Maildir" -type f -path '*/new/*' | wc -l)" = 1 ] || fail "dv1: carol does not have exactly her one message"
	[ ! -e "$D/home/nobody" ] || fail "dv1: something was created for the unknown user"
	echo "   Dovecot said: $(grep '^nobody' "$T/dv1.out" | head -1)"
	pass "real Dovecot LMTP: known user 250, unknown user 550 5.1.1 from RCPT, 128 KiB message byte-exact, connection reused"
	dv_stop
	trap cleanup EXIT
fi

echo "t_smtp_client: all passed"
