#!/bin/bash
# `mailshift dns check` against the DNS lab (lab/dns.sh: real NSD servers on loopback).
# migration.test through the states of a cutover: old (MX TTL 86400 -> WARN with the earliest
# cutover time, the new IP fails SPF, the new DKIM selector is missing), both (TTL 300, both IPs
# pass SPF, both selectors published, the new key matches its private key: no FAIL), new (MX
# switched); a run from a configuration file; and every name of broken.test giving its FAIL or
# WARN code. Exit statuses: 1 with a FAIL, 0 with WARN only or clean, 2 for bad usage.
# MTA-STS (state new publishes _mta-sts and mta-sts.migration.test A 127.0.0.1): a Python HTTPS
# server with a certificate from a CA made here serves the policy (covering the new MX: OK; only
# the old one: FAIL; invalid: FAIL naming the line; the CA not given: certificate FAIL).
# --smtp: smtp-sink (no STARTTLS: WARN), a Python STARTTLS stub (verified: OK; unknown CA:
# FAIL), a closed port (FAIL).
# Skipped, saying so, without nsd.
. "$(dirname "$0")/lib.sh"

NSD=${NSD:-$(command -v nsd || echo /usr/sbin/nsd)}
export NSD
if [ ! -x "$NSD" ]; then
	echo "skipped: nsd is not installed (Debian package nsd; scripts/deps.sh check installs it)"
	exit 0
fi

DNS=$TOP/lab/dns.sh
L=$T/dns
trap '"$DNS" stop "$L" >/dev/null 2>&1 || true' EXIT
unset DNS_SERVERS DNS_COUNT
DNS_COUNT=1 "$DNS" start "$L" >"$T/start.out" 2>&1 || { cat "$T/start.out" >&2; fail "dns.sh start failed"; }
# shellcheck disable=SC1091
. "$L/dns.env"

# Every lab server is authoritative for all test zones, so it answers the recursive-style
# questions too; the NS records name 127.0.0.1, asked on the same port (--ns-port).
NET=(--resolver "127.0.0.1:$DNS_PORT_1" --ns-port "$DNS_PORT_1")
MIG=(--domain "$DNS_ZONE" --old-mx "$DNS_OLD_MX" --new-mx "$DNS_NEW_MX"
	--old-ips "$DNS_OLD_IP" --new-ips "$DNS_NEW_IP"
	--old-selector "$DNS_OLD_SELECTOR" --new-selector "$DNS_NEW_SELECTOR"
	--new-dkim-key "$DNS_NEW_DKIM_KEY")

cd "$T" || fail "cd $T"   # no ./mailshift.conf here: only the options count

# run NAME ARGS...: dns check --json into $T/NAME.json, the text form into $T/NAME.txt; RC is
# the exit status (the text run must agree).
run() {
	local name=$1 rc2=0
	shift
	RC=0
	"$MAILSHIFT" dns check "${NET[@]}" --json "$@" >"$T/$name.json" 2>"$T/$name.err" || RC=$?
	"$MAILSHIFT" dns check "${NET[@]}" "$@" >"$T/$name.txt" 2>>"$T/$name.err" || rc2=$?
	[ "$RC" = "$rc2" ] || fail "$name: --json exit $RC, text exit $rc2"
	python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/$name.json" ||
		fail "$name: --json output is not JSON: $(head -c 300 "$T/$name.json")"
}

# item NAME DOMAIN CODE STATUS [TEXT]: the report has CODE with STATUS for DOMAIN, and TEXT in
# its message or advice.
item() {
	python3 - "$T/$1.json" "$2" "$3" "$4" "${5:-}" <<'PY' || { cat "$T/$1.txt" >&2; fail "$1: expected $4 $3 for $2${5:+ mentioning [$5]}"; }
import json, sys
d = json.load(open(sys.argv[1]))
_, _, dom, code, st, text = sys.argv
ok = any(i["domain"] == dom and i["code"] == code and i["status"] == st and
         (text in i["message"] or text in i["advice"]) and i["advice"] for i in d["items"])
sys.exit(0 if ok else 1)
PY
}
# noitem NAME CODE: no item with CODE.
noitem() {
	! grep -q "\"code\":\"$2\"" "$T/$1.json" || { cat "$T/$1.txt" >&2; fail "$1: unexpected $2"; }
}
count() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['summary'][sys.argv[2]])" "$T/$1.json" "$2"; }
expect_rc() { [ "$RC" = "$2" ] || { cat "$T/$1.txt" "$T/$1.err" >&2; fail "$1: exit $RC, expected $2"; }; }

# ---------------------------------------------------------------- state old
t0=$(date +%s)
run old "${MIG[@]}"
t1=$(date +%s)
expect_rc old 1
item old migration.test ns.serial OK 2026010101
item old migration.test mx.ttl-high WARN 86400
item old migration.test spf.ip-pass OK "$DNS_OLD_IP"
item old migration.test spf.ip-not-pass FAIL "add ip4:$DNS_NEW_IP to the SPF record"
item old migration.test dkim.key OK "$DNS_OLD_SELECTOR"
item old migration.test dkim.missing FAIL "$DNS_NEW_SELECTOR._domainkey.$DNS_ZONE"
item old migration.test mx.fcrdns OK "$DNS_OLD_IP"
item old migration.test dmarc.record OK quarantine
# the earliest safe cutover is now + 86400 s
cut=$(python3 -c "import json,sys,calendar,time; print(calendar.timegm(time.strptime(json.load(open(sys.argv[1]))['earliest_cutover'], '%Y-%m-%dT%H:%M:%SZ')))" "$T/old.json")
[ "$cut" -ge $((t0 + 86400)) ] && [ "$cut" -le $((t1 + 86400 + 1)) ] ||
	fail "earliest cutover $cut is not now + 86400 ($t0..$t1)"
when=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['earliest_cutover'])" "$T/old.json")
grep -q "earliest safe MX cutover.*$when" "$T/old.txt" || { cat "$T/old.txt" >&2; fail "text output lacks the cutover time $when"; }
grep -Eq '^  WARN  MX TTL is 86400 s' "$T/old.txt" || fail "text output lacks the WARN line"
grep -Eq '^        -> lower the MX TTL to 300 s now' "$T/old.txt" || fail "text output lacks the advice"
pass "state old: WARN MX TTL 86400 (cutover $when), FAIL SPF for $DNS_NEW_IP, FAIL DKIM $DNS_NEW_SELECTOR missing, exit 1"

# ---------------------------------------------------------------- state both
"$DNS" switch "$L" all both >"$T/switch.out" 2>&1 || { cat "$T/switch.out" >&2; fail "switch all both"; }
run both "${MIG[@]}"
expect_rc both 0
item both migration.test mx.ttl-ready OK 300
item both migration.test spf.ip-pass OK "$DNS_NEW_IP"
item both migration.test spf.ip-pass OK "$DNS_OLD_IP"
item both migration.test dkim.key OK "$DNS_NEW_SELECTOR"
item both migration.test dkim.key-match OK "$DNS_NEW_DKIM_KEY"
item both migration.test dmarc.aligned OK
item both migration.test ns.serial OK 2026010102
noitem both mx.ttl-high
noitem both spf.ip-not-pass
[ "$(count both fail)" = 0 ] || { cat "$T/both.txt" >&2; fail "state both has FAIL items"; }
[ "$(count both warn)" = 0 ] || { cat "$T/both.txt" >&2; fail "state both has WARN items"; }
# the published key does not match another private key
run mismatch "${MIG[@]}" --new-dkim-key "$DNS_OLD_DKIM_KEY"
expect_rc mismatch 1
item mismatch migration.test dkim.key-mismatch FAIL "$DNS_NEW_SELECTOR"
pass "state both: MX TTL OK, SPF passes for both IPs, both DKIM keys OK and the new one matches, exit 0"

# ---------------------------------------------------------------- MTA-STS policy server
# states old and both publish no _mta-sts record: nothing is fetched
noitem both mta-sts.policy
noitem both mta-sts.policy-not-checked
PKI=$T/pki
mkdir -p "$PKI" "$T/www/.well-known"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mailshift test CA" \
	-keyout "$PKI/ca.key" -out "$PKI/ca.pem" >"$PKI/log" 2>&1 || { cat "$PKI/log" >&2; fail "make CA"; }
# leaf NAME SAN: a key and a certificate signed by the test CA
leaf() {
	openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$PKI/$1.key" \
		-out "$PKI/$1.csr" >>"$PKI/log" 2>&1 &&
	printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$2" >"$PKI/$1.ext" &&
	openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" \
		-CAcreateserial -days 2 -extfile "$PKI/$1.ext" -out "$PKI/$1.pem" >>"$PKI/log" 2>&1 ||
		{ cat "$PKI/log" >&2; fail "make certificate $1"; }
}
leaf mta-sts.migration.test DNS:mta-sts.migration.test
leaf smtp-stub IP:127.0.0.1
python3 - "$T/www" "$PKI/mta-sts.migration.test.pem" "$PKI/mta-sts.migration.test.key" \
	"$T/https.port" >"$T/https.log" 2>&1 <<'PY' &
import functools, http.server, ssl, sys
root, cert, key, portfile = sys.argv[1:]
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os; os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
PY
HTTPS_PID=$!
PIDS=("$HTTPS_PID")
trap '"$DNS" stop "$L" >/dev/null 2>&1 || true; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
for _ in $(seq 100); do [ -s "$T/https.port" ] && break; sleep 0.1; done
[ -s "$T/https.port" ] || { cat "$T/https.log" >&2; fail "the HTTPS policy server did not start"; }
HTTPS_PORT=$(cat "$T/https.port")
policy() { printf '%s\r\n' "$@" >"$T/www/.well-known/mta-sts.txt"; }
policy "version: STSv1" "mode: enforce" "mx: $DNS_NEW_MX" "mx: *.old-host.test" "max_age: 86400"
NET+=(--mta-sts-port "$HTTPS_PORT" --mta-sts-ca "$PKI/ca.pem")

# ---------------------------------------------------------------- state new
"$DNS" switch "$L" all new >"$T/switch.out" 2>&1 || { cat "$T/switch.out" >&2; fail "switch all new"; }
run new "${MIG[@]}"
expect_rc new 0
item new migration.test mx.switched OK "$DNS_NEW_MX"
item new migration.test mx.fcrdns OK "$DNS_NEW_IP"
noitem new mx.ttl-ready
item new migration.test mta-sts.record OK "v=STSv1"
item new migration.test mta-sts.policy OK "mode enforce, max_age 86400 s, 2 mx pattern(s)"
item new migration.test mta-sts.mx-covered OK "covers the new MX $DNS_NEW_MX (mx: $DNS_NEW_MX)"
noitem new mta-sts.mx-not-covered
noitem new mta-sts.policy-not-checked
pass "state new: MX switched to $DNS_NEW_MX, the MTA-STS policy (HTTPS, CA verified) covers it, exit 0"

# a policy that lists only the old host
policy "version: STSv1" "mode: enforce" "mx: $DNS_OLD_MX" "max_age: 604800"
run stsold "${MIG[@]}"
expect_rc stsold 1
item stsold migration.test mta-sts.mx-not-covered FAIL \
	"the policy's mx list does not cover the new MX: add mx: $DNS_NEW_MX"
item stsold migration.test mta-sts.mx-not-covered FAIL "max_age (604800 s)"
grep -q "^  FAIL  the policy's mx list does not cover the new MX: add mx: $DNS_NEW_MX" "$T/stsold.txt" ||
	{ cat "$T/stsold.txt" >&2; fail "text output lacks the mx FAIL line"; }
# mode testing: the same gap is a WARN
policy "version: STSv1" "mode: testing" "mx: $DNS_OLD_MX" "max_age: 604800"
run ststesting "${MIG[@]}"
expect_rc ststesting 0
item ststesting migration.test mta-sts.mx-not-covered WARN "add mx: $DNS_NEW_MX"
# a wildcard covers the new host
policy "version: STSv1" "mode: enforce" "mx: *.new-host.test" "max_age: 604800"
run stswild "${MIG[@]}"
expect_rc stswild 0
item stswild migration.test mta-sts.mx-covered OK "(mx: *.new-host.test)"
# an invalid policy: the error names the line
policy "version: STSv1" "mode: enforce" "mx: $DNS_NEW_MX" "max_age: 99999999"
run stsbad "${MIG[@]}"
expect_rc stsbad 1
item stsbad migration.test mta-sts.policy-invalid FAIL "line 4: max_age '99999999' is over"
# no policy file: 404
rm "$T/www/.well-known/mta-sts.txt"
run sts404 "${MIG[@]}"
expect_rc sts404 1
item sts404 migration.test mta-sts.fetch-failed FAIL "404 File not found' (only 200 is accepted)"
policy "version: STSv1" "mode: enforce" "mx: $DNS_NEW_MX" "max_age: 86400"
# the certificate is checked: without the test CA it is refused
RC=0
"$MAILSHIFT" dns check --resolver "127.0.0.1:$DNS_PORT_1" --ns-port "$DNS_PORT_1" \
	--mta-sts-port "$HTTPS_PORT" --json "${MIG[@]}" >"$T/stsca.json" 2>"$T/stsca.err" || RC=$?
cp "$T/stsca.json" "$T/stsca.txt"
expect_rc stsca 1
item stsca migration.test mta-sts.fetch-failed FAIL "TLS certificate not accepted"
pass "MTA-STS policy: old host only FAIL (\"add mx: $DNS_NEW_MX\"), testing WARN, wildcard OK, invalid FAIL naming the line, 404 FAIL, unknown CA FAIL"

# ---------------------------------------------------------------- --smtp
# The probe connects to the --new-mx host, here 127.0.0.1 (the lab's MX addresses are
# documentation addresses); the other items of these runs do not matter.
SINK_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SINK_USER=()
[ "$(id -u)" = 0 ] && SINK_USER=(-u nobody)
/usr/sbin/smtp-sink "${SINK_USER[@]}" "127.0.0.1:$SINK_PORT" 10 >"$T/sink.log" 2>&1 &
PIDS+=($!)
up=no
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$SINK_PORT") 2>/dev/null && { up=yes; break; }; sleep 0.1; done
[ $up = yes ] || fail "smtp-sink did not start on port $SINK_PORT: $(cat "$T/sink.log")"
SMTP=(--domain "$DNS_ZONE" --new-mx 127.0.0.1 --smtp)
run smtpsink "${SMTP[@]}" --smtp-port "$SINK_PORT"
item smtpsink migration.test smtp.no-starttls WARN "new MX 127.0.0.1: STARTTLS not offered"
python3 - "$PKI/smtp-stub.pem" "$PKI/smtp-stub.key" "$T/stub.port" >"$T/stub.log" 2>&1 <<'PY' &
# A minimal SMTP server with STARTTLS: enough for a connect/EHLO/STARTTLS/EHLO/QUIT probe.
import os, socket, ssl, sys, threading
cert, key, portfile = sys.argv[1:]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(8)
with open(portfile + ".tmp", "w") as f:
    f.write(str(ls.getsockname()[1]))
os.rename(portfile + ".tmp", portfile)
def serve(c):
    try:
        f = c.makefile("rb")
        c.sendall(b"220 stub ESMTP\r\n")
        tls = False
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.strip().upper()
            if cmd.startswith(b"EHLO") or cmd.startswith(b"HELO"):
                c.sendall(b"250 stub\r\n" if tls else b"250-stub\r\n250 STARTTLS\r\n")
            elif cmd == b"STARTTLS" and not tls:
                c.sendall(b"220 2.0.0 go ahead\r\n")
                c = ctx.wrap_socket(c, server_side=True)
                f = c.makefile("rb")
                tls = True
            elif cmd == b"QUIT":
                c.sendall(b"221 bye\r\n")
                return
            else:
                c.sendall(b"250 ok\r\n")
    except Exception as e:
        print("stub:", e, flush=True)
    finally:
        c.close()
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/stub.port" ] && break; sleep 0.1; done
[ -s "$T/stub.port" ] || { cat "$T/stub.log" >&2; fail "the STARTTLS stub did not start"; }
STUB_PORT=$(cat "$T/stub.port")
run smtptls "${SMTP[@]}" --smtp-port "$STUB_PORT" --smtp-ca "$PKI/ca.pem"
item smtptls migration.test smtp.starttls OK "new MX 127.0.0.1 offers STARTTLS"
run smtpbadca "${SMTP[@]}" --smtp-port "$STUB_PORT"
expect_rc smtpbadca 1
item smtpbadca migration.test smtp.tls-failed FAIL "certificate"
CLOSED=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
run smtpclosed "${SMTP[@]}" --smtp-port "$CLOSED"
expect_rc smtpclosed 1
item smtpclosed migration.test smtp.connect-failed FAIL "127.0.0.1"
noitem new smtp.not-implemented
pass "--smtp: smtp-sink WARN STARTTLS not offered, STARTTLS stub OK (verified with the CA), unknown CA FAIL, closed port FAIL"

# ---------------------------------------------------------------- from a configuration
cat >"$T/mailshift.conf" <<EOF
[migration]
domains = $DNS_ZONE

[old]
imap = imaps://127.0.0.1:993
smtp = smtp://$DNS_OLD_MX:25
sending_ips = $DNS_OLD_IP
dkim_selector = $DNS_OLD_SELECTOR

[new]
imap = imaps://127.0.0.1:994
smtp = smtp://$DNS_NEW_MX
sending_ips = $DNS_NEW_IP
dkim_selector = $DNS_NEW_SELECTOR
dkim_key = $DNS_NEW_DKIM_KEY
EOF
run conf -c "$T/mailshift.conf"
expect_rc conf 0
item conf migration.test mx.switched OK "$DNS_NEW_MX"
item conf migration.test dkim.key-match OK
item conf migration.test spf.ip-pass OK "$DNS_NEW_IP"
# ./mailshift.conf is read without -c; an option overrides it
run cwdconf --new-ips 203.0.113.9
expect_rc cwdconf 1
item cwdconf migration.test spf.ip-not-pass FAIL "add ip4:203.0.113.9"
rm "$T/mailshift.conf"
pass "defaults from the configuration ([migration] domains, [old]/[new] smtp, sending_ips, dkim_*), options override"

# ---------------------------------------------------------------- broken.test
B=$DNS_BROKEN_ZONE
while read -r domain selector code status text; do
	[ -n "$domain" ] || continue
	args=(--domain "$domain")
	[ "$selector" = - ] || args+=(--old-selector "$selector")
	name=broken-${domain%%.*}-$selector
	run "$name" "${args[@]}"
	item "$name" "$domain" "$code" "$status" "${text//\~/ }"
	if [ "$status" = FAIL ]; then expect_rc "$name" 1; fi
done <<EOF
$B           -       spf.multiple          FAIL  2~SPF~records
lookups.$B   -       spf.too-many-lookups  FAIL  11~DNS~lookups
plusall.$B   -       spf.plus-all          FAIL  +all
neutral.$B   -       spf.neutral-all       WARN  ?all
ptr.$B       -       spf.ptr               WARN  ptr
void.$B      -       spf.void-lookups      FAIL  3~void~lookups
syntax.$B    -       spf.syntax            FAIL  syntax
badmarc.$B   -       dmarc.malformed       FAIL  p=reject;~v=DMARC1
twodmarc.$B  -       dmarc.multiple        FAIL  2~DMARC~records
$B           trunc   dkim.invalid          FAIL  trunc._domainkey
$B           weak    dkim.weak-key         FAIL  512-bit
$B           revoked dkim.revoked          FAIL  revoked
cnamemx.$B   -       mx.cname              FAIL  alias.$B
noaddr.$B    -       mx.no-address         FAIL  noaddr-mx.$B
nullmx.$B    -       mx.null               FAIL  null~MX
EOF
# the WARN-only SPF cases: ?all and ptr do not make the SPF section fail
noitem broken-neutral-- spf.plus-all
pass "broken.test: every broken name gives its FAIL or WARN code with advice"

# ---------------------------------------------------------------- usage
RC=0
"$MAILSHIFT" dns check "${NET[@]}" --domain "$DNS_ZONE" --new-ips 300.1.1.1 >/dev/null 2>"$T/usage.err" || RC=$?
[ "$RC" = 2 ] || fail "a bad --new-ips: exit $RC, expected 2"
grep -q 300.1.1.1 "$T/usage.err" || fail "the error does not name the bad address: $(cat "$T/usage.err")"
RC=0
"$MAILSHIFT" dns check "${NET[@]}" >/dev/null 2>"$T/usage.err" || RC=$?
[ "$RC" = 2 ] || fail "no domain: exit $RC, expected 2"
RC=0
"$MAILSHIFT" dns frobnicate >/dev/null 2>&1 || RC=$?
[ "$RC" = 2 ] || fail "unknown dns subcommand: exit $RC, expected 2"
RC=0
"$MAILSHIFT" dns check "${NET[@]}" --domain "$DNS_ZONE" --smtp-port 0 >/dev/null 2>"$T/usage.err" || RC=$?
[ "$RC" = 2 ] || fail "--smtp-port 0: exit $RC, expected 2"
grep -q -- "--smtp-port '0' is not a port" "$T/usage.err" || fail "--smtp-port 0: $(cat "$T/usage.err")"
pass "usage errors exit 2 and name the problem"
