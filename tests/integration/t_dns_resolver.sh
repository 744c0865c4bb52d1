#!/bin/bash
# src/dns/resolver.c (c-ares, our own queries, replies parsed by proto/dns_msg) against the DNS
# lab's five NSD servers, through the driver tests/tools/dnsq (env DNSQ): MX with its TTL and
# the AA flag from each server, SPF, a 2048-bit DKIM key, NXDOMAIN and NODATA with the negative
# SOA TTL, a refused name, multi_lookup over all five after server 1 switched, and a dead port.
# A small python server on loopback plays what NSD will not: a truncated UDP reply (TCP
# fallback), TXT replies of 1000 octets (fits EDNS 1232) and 3000 octets (over UDP beyond
# 1232: c-ares must go to TCP), REFUSED, garbage, silence (timeout capped at timeout*tries),
# and it logs RD, the EDNS size and the name of each query it gets.
# Skipped, saying so, without nsd.
. "$(dirname "$0")/lib.sh"

NSD=${NSD:-$(command -v nsd || echo /usr/sbin/nsd)}
export NSD
if [ ! -x "$NSD" ]; then
	echo "skipped: nsd is not installed (Debian package nsd; scripts/deps.sh check installs it)"
	exit 0
fi
DNSQ=${DNSQ:-$TOP/build/h-resolver/dnsq}
[ -x "$DNSQ" ] || fail "driver $DNSQ is not built"

DNS=$TOP/lab/dns.sh
L=$T/dns
FAKE_PIDS=()
cleanup_res() {
	"$DNS" stop "$L" >/dev/null 2>&1 || true
	local p
	for p in "${FAKE_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	return 0
}
trap cleanup_res EXIT

unset DNS_SERVERS DNS_COUNT
"$DNS" start "$L" >"$T/start.out" 2>&1 || { cat "$T/start.out" >&2; fail "dns.sh start failed"; }
# shellcheck disable=SC1091
. "$L/dns.env"

expect() { [ "$2" = "$3" ] || fail "$1: got [$2], expected [$3]"; }
n=0
# q OUTNAME dnsq-args...: run the driver, stdout in $T/OUTNAME.out; fails on a local error.
q() {
	local o=$1
	shift
	"$DNSQ" "$@" >"$T/$o.out" 2>"$T/$o.err" || { cat "$T/$o.err" >&2; fail "dnsq $*: exit $?"; }
}
# field OUTNAME KEY: the rest of the first line starting "KEY ".
field() { sed -n "s/^$2 //p" "$T/$1.out" | head -1; }
rrs() { sed -n 's/^rr //p' "$T/$1.out"; }
spki() { openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | base64 -w0; }
ms() { date +%s%3N; }

# ---------------------------------------------------------------- the lab's answers

for i in 1 2 3 4 5; do
	p=DNS_PORT_$i
	s=127.0.0.1:${!p}
	q mx$i --auth "$s" migration.test MX
	expect "MX status from $s" "$(field mx$i status) aa=$(field mx$i aa)" "NOERROR aa=1"
	expect "MX from $s" "$(rrs mx$i)" "migration.test 86400 MX 10 mx.old-host.test"
	expect "server of the answer" "$(field mx$i server)" "$s"
done
pass "MX of migration.test from each of the 5 servers: TTL 86400, AA set, server named"

S1=127.0.0.1:$DNS_PORT_1
q spf "$S1" migration.test TXT
expect "SPF" "$(field spf status) $(rrs spf)" "NOERROR migration.test 3600 TXT v=spf1 ip4:192.0.2.10 -all"
q dmarc --auth "$S1" _DMARC.Migration.Test TXT
expect "DMARC (name asked in mixed case)" "$(rrs dmarc)" \
	"_dmarc.migration.test 3600 TXT v=DMARC1; p=quarantine; rua=mailto:dmarc@migration.test"
pass "TXT: SPF at the apex, DMARC asked in mixed case"

q dkim --auth "$S1" default._domainkey.migration.test TXT
want="default._domainkey.migration.test 3600 TXT v=DKIM1; k=rsa; p=$(spki "$DNS_OLD_DKIM_KEY")"
expect "DKIM key (2048-bit, two character-strings joined)" "$(rrs dkim)" "$want"
len=$(rrs dkim | sed 's/^[^ ]* [^ ]* TXT //' | tr -d '\n' | wc -c)
[ "$len" -gt 400 ] || fail "DKIM record only $len characters"
pass "DKIM TXT of $len characters (two 255-octet strings) read whole"

q nx --auth "$S1" ms2026._domainkey.migration.test TXT
expect "NXDOMAIN" "$(field nx status) aa=$(field nx aa) rrs=$(rrs nx | wc -l)" "NXDOMAIN aa=1 rrs=0"
# SOA TTL 3600, minimum 300: RFC 2308 takes the smaller
expect "negative SOA" "$(field nx negsoa)" "300 2026010101 ns1.migration.test"
q nodata --auth "$S1" migration.test AAAA
expect "NODATA" "$(field nodata status) rrs=$(rrs nodata | wc -l) $(field nodata negsoa)" \
	"NOERROR rrs=0 300 2026010101 ns1.migration.test"
q soa --auth "$S1" migration.test SOA
expect "SOA" "$(rrs soa)" \
	"migration.test 3600 SOA ns1.migration.test hostmaster.migration.test 2026010101 3600 900 604800 300"
q cname --auth "$S1" alias.broken.test CNAME
expect "CNAME" "$(rrs cname)" "alias.broken.test 3600 CNAME mx.old-host.test"
q ptr --auth "$S1" 20.100.51.198.in-addr.arpa PTR
expect "PTR" "$(rrs ptr)" "20.100.51.198.in-addr.arpa 3600 PTR mx.new-host.test"
# NSD refuses names outside its zones: 'localhost' went to the server, not to /etc/hosts
q lh --auth "$S1" localhost A
expect "localhost asked of NSD" "$(field lh status) rrs=$(rrs lh | wc -l)" "SERVFAIL rrs=0"
pass "NXDOMAIN and NODATA with negative TTL 300, SOA, CNAME, PTR; localhost REFUSED by NSD (SERVFAIL)"

# ---------------------------------------------------------------- multi_lookup

"$DNS" switch "$L" 1 new >"$T/switch.out" 2>&1 || { cat "$T/switch.out" >&2; fail "switch 1 new"; }
# shellcheck disable=SC2086 # one argument per server
q multi --multi --auth migration.test MX $DNS_SERVERS
expect "multi 1" "$(sed -n 's/^1: rr //p' "$T/multi.out")" "migration.test 300 MX 10 mx.new-host.test"
for i in 2 3 4 5; do
	expect "multi $i" "$(sed -n "s/^$i: rr //p" "$T/multi.out")" "migration.test 86400 MX 10 mx.old-host.test"
done
# shellcheck disable=SC2086
set -- $DNS_SERVERS
for i in 1 2 3 4 5; do
	expect "multi $i server" "$(sed -n "s/^$i: server //p" "$T/multi.out")" "${!i}"
	expect "multi $i status" "$(sed -n "s/^$i: status //p;s/^$i: aa /aa=/p" "$T/multi.out" | tr '\n' ' ')" \
		"NOERROR aa=1 "
done
q multisoa --multi --auth migration.test SOA $DNS_SERVERS
expect "serials" "$(sed -n 's/^\([0-9]\): rr .* SOA [^ ]* [^ ]* \([0-9]*\) .*/\1=\2/p' "$T/multisoa.out" | tr '\n' ' ')" \
	"1=2026010102 2=2026010101 3=2026010101 4=2026010101 5=2026010101 "
pass "multi_lookup over 5 servers after 'switch 1 new': server 1 mx.new-host.test TTL 300 (serial +1), 2..5 old"

# ---------------------------------------------------------------- the fake server

cat >"$T/fake.py" <<'EOF'
# fake.py MODE PORTFILE LOG: one DNS "server" on 127.0.0.1, UDP and TCP on one port.
#   tc: UDP answers TC with no records, TCP answers A 192.0.2.1 (TTL 42)
#   txtN: UDP and TCP answer one TXT of N octets (in 255-octet strings), no TC
#   refused: RCODE 5 | garbage: ANCOUNT 1 and no record | silent: never answers
# LOG gets (silent too) "udp|tcp ID rd=0|1 edns=SIZE|- NAME" per query.
import socket, struct, sys, threading
mode, portfile, logf = sys.argv[1:4]
log = open(logf, "a", buffering=1)
while True:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        t.bind(("127.0.0.1", port))
        break
    except OSError:
        u.close(); t.close()
t.listen(8)

def parse(qm):
    i, labels = 12, []
    while qm[i]:
        labels.append(qm[i + 1:i + 1 + qm[i]].decode()); i += 1 + qm[i]
    qend = i + 5
    edns = "-"
    if struct.unpack(">H", qm[10:12])[0] and len(qm) >= qend + 11 and qm[qend] == 0:
        edns = str(struct.unpack(">H", qm[qend + 3:qend + 5])[0])
    return qend, ".".join(labels), edns

def logq(qm, proto):
    qend, name, edns = parse(qm)
    log.write(f"{proto} {struct.unpack('>H', qm[:2])[0]} rd={qm[2] & 1} edns={edns} {name}\n")
    return qend

def reply(qm, proto):
    qend = logq(qm, proto)
    flags = 0x8400 | ((qm[2] & 1) << 8)
    an, count = b"", 0
    if mode == "tc" and proto == "udp":
        flags |= 0x0200
    elif mode == "tc":
        an, count = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 42, 4) + bytes([192, 0, 2, 1]), 1
    elif mode.startswith("txt"):
        text = (b"v=spf1 " + b"x" * int(mode[3:]))[:int(mode[3:])]
        rd = b"".join(bytes([len(text[i:i + 255])]) + text[i:i + 255] for i in range(0, len(text), 255))
        an, count = b"\xc0\x0c" + struct.pack(">HHIH", 16, 1, 60, len(rd)) + rd, 1
    elif mode == "refused":
        flags |= 5
    elif mode == "garbage":
        count = 1
    return qm[:2] + struct.pack(">HHHHH", flags, 1, count, 0, 0) + qm[12:qend] + an

def tcp_loop():
    while True:
        c, _ = t.accept()
        try:
            while True:
                h = c.recv(2)
                if len(h) < 2:
                    break
                m = b""
                while len(m) < struct.unpack(">H", h)[0]:
                    m += c.recv(struct.unpack(">H", h)[0] - len(m))
                r = reply(m, "tcp")
                c.sendall(struct.pack(">H", len(r)) + r)
        finally:
            c.close()

threading.Thread(target=tcp_loop, daemon=True).start()
open(portfile + ".tmp", "w").write(str(port))
import os; os.rename(portfile + ".tmp", portfile)
while True:
    m, a = u.recvfrom(65535)
    if mode == "silent":
        logq(m, "udp")
    else:
        u.sendto(reply(m, "udp"), a)
EOF

# fake MODE: start one, its address in $FAKE, its log in $T/fake-MODE.log
fake() {
	local pf=$T/fake-$1.port k
	python3 "$T/fake.py" "$1" "$pf" "$T/fake-$1.log" 2>"$T/fake-$1.err" &
	FAKE_PIDS+=($!)
	for k in $(seq 1 100); do [ -s "$pf" ] && break; sleep 0.05; done
	[ -s "$pf" ] || fail "fake server $1 did not start"
	FAKE=127.0.0.1:$(cat "$pf")
}

fake tc
q tc "$FAKE" www.example.test A
expect "TC -> TCP" "$(field tc status) tc=$(field tc tc) $(rrs tc)" "NOERROR tc=0 www.example.test 42 A 192.0.2.1"
expect "transports" "$(cut -d' ' -f1 "$T/fake-tc.log" | tr '\n' ' ')" "udp tcp "
expect "query (RD, EDNS 1232)" "$(head -1 "$T/fake-tc.log" | cut -d' ' -f3-)" "rd=1 edns=1232 www.example.test"
q tcauth --auth "$FAKE" localhost A
expect "authoritative query" "$(head -3 "$T/fake-tc.log" | tail -1 | cut -d' ' -f1,3-)" "udp rd=0 edns=1232 localhost"
pass "truncated UDP reply: retried over TCP and answered; RD set (clear with --auth), EDNS 1232; localhost goes to the server"

fake txt1000
q t1000 "$FAKE" big.example.test TXT
expect "1000-octet TXT" "$(field t1000 status) $(rrs t1000 | awk '{ t = $0; sub(/^[^ ]* [^ ]* [^ ]* /, "", t); print $1, $2, $3, length(t) }')" \
	"NOERROR big.example.test 60 TXT 1000"
expect "1000-octet TXT transport" "$(cut -d' ' -f1 "$T/fake-txt1000.log" | tr '\n' ' ')" "udp "
fake txt3000
q t3000 "$FAKE" big.example.test TXT
expect "3000-octet TXT" "$(field t3000 status) $(rrs t3000 | awk '{ t = $0; sub(/^[^ ]* [^ ]* [^ ]* /, "", t); print $1, $2, $3, length(t) }')" \
	"NOERROR big.example.test 60 TXT 3000"
expect "3000-octet TXT transport" "$(cut -d' ' -f1 "$T/fake-txt3000.log" | tr '\n' ' ')" "udp tcp "
pass "TXT of 1000 octets over UDP (EDNS 1232); 3000 octets over UDP (past 1232) retried over TCP"

fake refused
q refused "$FAKE" migration.test MX
expect "REFUSED" "$(field refused status) $(field refused server)" "SERVFAIL $FAKE"
expect "REFUSED asked once per try, one server" "$(wc -l <"$T/fake-refused.log")" 1
fake garbage
q garbage "$FAKE" migration.test MX
expect "garbage" "$(field garbage status)" "SERVFAIL"
pass "REFUSED handed back raw (SERVFAIL, not retried elsewhere); a malformed reply is SERVFAIL"

# ---------------------------------------------------------------- timeouts

fake silent
t0=$(ms)
q silent --timeout 200 --tries 3 "$FAKE" migration.test MX
el=$(($(ms) - t0))
expect "silent server" "$(field silent status)" TIMEOUT
# 3 tries of 200 ms: 600 ms (c-ares alone would double per round: 200+400+800)
[ "$el" -ge 550 ] && [ "$el" -lt 1200 ] || fail "timeout took ${el} ms, expected about 600"
expect "tries sent" "$(wc -l <"$T/fake-silent.log")" 3
pass "a silent server: DNS_TIMEOUT after ${el} ms (timeout 200 ms x 3 tries)"

dead=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
t0=$(ms)
q dead --timeout 500 --tries 2 "127.0.0.1:$dead" migration.test MX
el=$(($(ms) - t0))
expect "dead port" "$(field dead status)" TIMEOUT
[ "$el" -lt 1500 ] || fail "dead port took ${el} ms, more than timeout x tries"
pass "a dead port: DNS_TIMEOUT after ${el} ms (ICMP port unreachable counts as no answer)"

# One poll loop: a silent server among the five costs one timeout, not five.
t0=$(ms)
# shellcheck disable=SC2086
q mixed --multi --auth --timeout 300 --tries 2 migration.test MX $DNS_SERVERS "$FAKE"
el=$(($(ms) - t0))
expect "mixed 6" "$(sed -n 's/^6: status //p' "$T/mixed.out")" TIMEOUT
expect "mixed 3" "$(sed -n 's/^3: rr //p' "$T/mixed.out")" "migration.test 86400 MX 10 mx.old-host.test"
[ "$el" -lt 1500 ] || fail "multi with one silent server took ${el} ms"
pass "multi_lookup with a silent sixth server: five answers and one TIMEOUT in ${el} ms"

# ---------------------------------------------------------------- usage

for bad in mail.example.test 127.0.0.1:0 127.0.0.1:99999 "[::1" 1.2.3.4:53x; do
	if "$DNSQ" "$bad" migration.test MX >"$T/bad.out" 2>"$T/bad.err"; then fail "server '$bad' accepted"; fi
	grep -q "is not a numeric address" "$T/bad.err" || fail "server '$bad': $(cat "$T/bad.err")"
done
if "$DNSQ" "$S1" "bad name" A >"$T/badname.out" 2>"$T/badname.err"; then fail "name 'bad name' accepted"; fi
grep -q "not a DNS name" "$T/badname.err" || fail "bad name: $(cat "$T/badname.err")"
q v6 --timeout 200 --tries 1 "[::1]:$dead" migration.test MX
expect "[::1] server name" "$(field v6 server) $(field v6 status)" "[::1]:$dead TIMEOUT"
pass "servers that are not numeric addresses, and a name with a space, are refused locally"

if grep -lE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T"/*.err >/dev/null 2>&1; then
	grep -hE -A5 "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T"/*.err | head -20 >&2
	fail "sanitizer finding"
fi
