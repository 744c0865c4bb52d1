#!/bin/bash
# Self-check of the DNS lab (lab/dns.sh): five real NSD servers on loopback serve
# migration.test in each state of a migration and broken.test with one fault per name; dig
# (independent of the lab's own python queries) checks every answer on every server, the
# switch of servers 1 and 2 to the new MX while 3..5 keep the old one, a second lab beside
# the first, and that stop leaves no process. Skipped, saying so, without nsd or dig.
. "$(dirname "$0")/lib.sh"

NSD=${NSD:-$(command -v nsd || echo /usr/sbin/nsd)}
export NSD   # lab/dns.sh uses the same binary
if [ ! -x "$NSD" ]; then
	echo "skipped: nsd is not installed (Debian package nsd; scripts/deps.sh check installs it)"
	exit 0
fi
if ! command -v dig >/dev/null 2>&1; then
	echo "skipped: dig is not installed (Debian package bind9-dnsutils)"
	exit 0
fi

DNS=$TOP/lab/dns.sh
L=$T/dns
L2=$T/dns2
cleanup_dns() {
	"$DNS" stop "$L" >/dev/null 2>&1 || true
	"$DNS" stop "$L2" >/dev/null 2>&1 || true
	return 0
}
trap cleanup_dns EXIT

# A dns.env in the caller's environment must not leak into this lab.
unset DNS_SERVERS DNS_COUNT
t0=$(date +%s.%N)
"$DNS" start "$L" >"$T/start.out" 2>&1 || { cat "$T/start.out" >&2; fail "dns.sh start failed"; }
secs=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t0" "$(date +%s.%N)")
# shellcheck disable=SC1091
. "$L/dns.env"
[ "$DNS_COUNT" = 5 ] || fail "DNS_COUNT=$DNS_COUNT, expected 5"
# shellcheck disable=SC2086 # one argument per server
set -- $DNS_SERVERS
[ $# = 5 ] || fail "DNS_SERVERS has $# entries: $DNS_SERVERS"
PORTS=()
for i in 1 2 3 4 5; do
	p=DNS_PORT_$i
	PORTS+=("${!p}")
	[ "${!i}" = "127.0.0.1:${!p}" ] || fail "DNS_SERVERS entry $i is ${!i}, DNS_PORT_$i is ${!p}"
done
[ "$(printf '%s\n' "${PORTS[@]}" | sort -u | wc -l)" = 5 ] || fail "ports not distinct: ${PORTS[*]}"
pass "started 5 NSD servers in ${secs}s on ports ${PORTS[*]}"

# ---------------------------------------------------------------- dig helpers

# dq PORT NAME TYPE [dig options]: the answer section, one "name ttl class type data" per line.
dq() {
	local port=$1 name=$2 type=$3
	shift 3
	dig +norec +time=2 +tries=2 -p "$port" @127.0.0.1 "$name" "$type" +noall +answer "$@" |
		awk '{ $3 = $3; print }'
}
# data PORT NAME TYPE: the rdata only, sorted.
data() { dig +norec +time=2 +tries=2 -p "$1" @127.0.0.1 "$2" "$3" +short | sort; }
# status PORT NAME TYPE: rcode, and whether the answer is authoritative ("NOERROR aa").
status() {
	dig +norec +time=2 +tries=2 -p "$1" @127.0.0.1 "$2" "$3" +noall +comments |
		awk '/->>HEADER<<-/ { sub(",", "", $6); rc = $6 } /;; flags:/ { aa = ($0 ~ / aa[ ;]/) ? "aa" : "noaa" }
			END { print rc, aa }'
}
# joined TXT rdata (one record): the character-strings concatenated.
joined() { sed -e 's/" "//g' -e 's/^"//' -e 's/"$//'; }
# expect WHAT GOT WANT
expect() { [ "$2" = "$3" ] || fail "$1: got [$2], expected [$3]"; }

spki() { openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | base64 -w0; }

# check_dkim PORT SELECTOR.DOMAIN KEYFILE: published, split in <=255-octet strings, matches KEYFILE.
check_dkim() {
	local port=$1 name=$2 key=$3 raw s
	raw=$(data "$port" "$name" TXT)
	[ "$(printf '%s\n' "$raw" | grep -c .)" = 1 ] || fail "$name on $port: not exactly one TXT: $raw"
	for s in $(printf '%s' "$raw" | grep -o '"[^"]*"' | tr -d '"' | tr ' ' '_'); do
		[ ${#s} -le 255 ] || fail "$name: a character-string of ${#s} octets"
	done
	[ "$(printf '%s' "$raw" | grep -o '"[^"]*"' | wc -l)" -ge 2 ] || fail "$name: a 2048-bit key should need 2 strings"
	expect "$name on $port" "$(printf '%s' "$raw" | joined)" "v=DKIM1; k=rsa; p=$(spki "$key")"
}

# check_migration PORT STATE SERIAL (the lab's keys are in $KEYS)
check_migration() {
	local port=$1 state=$2 serial=$3 mx ttl spf
	case $state in
	old) mx=mx.old-host.test. ttl=86400 spf="v=spf1 ip4:192.0.2.10 -all" ;;
	both) mx=mx.old-host.test. ttl=300 spf="v=spf1 ip4:192.0.2.10 ip4:198.51.100.20 -all" ;;
	new) mx=mx.new-host.test. ttl=300 spf="v=spf1 ip4:192.0.2.10 ip4:198.51.100.20 -all" ;;
	esac
	expect "MX on $port ($state)" "$(dq "$port" migration.test MX)" "migration.test. $ttl IN MX 10 $mx"
	expect "SOA serial on $port" "$(data "$port" migration.test SOA | awk '{ print $3 }')" "$serial"
	expect "authoritative on $port" "$(status "$port" migration.test MX)" "NOERROR aa"
	expect "SPF on $port ($state)" "$(data "$port" migration.test TXT)" "\"$spf\""
	expect "NS on $port" "$(data "$port" migration.test NS | tr '\n' ' ')" "ns1.migration.test. ns2.migration.test. "
	expect "DMARC on $port" "$(data "$port" _dmarc.migration.test TXT)" \
		'"v=DMARC1; p=quarantine; rua=mailto:dmarc@migration.test"'
	check_dkim "$port" default._domainkey.migration.test "$KEYS/default.pem"
	if [ "$state" = old ]; then
		expect "ms2026 absent on $port" "$(data "$port" ms2026._domainkey.migration.test TXT)" ""
		expect "ms2026 status on $port" "$(status "$port" ms2026._domainkey.migration.test TXT)" "NXDOMAIN aa"
	else
		check_dkim "$port" ms2026._domainkey.migration.test "$KEYS/ms2026.pem"
	fi
}

# check_hosts PORT: MX hosts, their reverse DNS (forward-confirmed), over TCP too.
check_hosts() {
	local port=$1
	expect "old MX host A" "$(data "$port" mx.old-host.test A)" 192.0.2.10
	expect "new MX host A" "$(data "$port" mx.new-host.test A)" 198.51.100.20
	expect "old PTR" "$(data "$port" 10.2.0.192.in-addr.arpa PTR)" mx.old-host.test.
	expect "new PTR" "$(data "$port" 20.100.51.198.in-addr.arpa PTR)" mx.new-host.test.
	expect "A over TCP on $port" "$(data "$port" mx.new-host.test A +tcp)" 198.51.100.20
}

# spf_terms PORT NAME: DNS-lookup terms of NAME's SPF record and, recursively, its includes.
spf_terms() {
	local port=$1 name=$2 rec t n=0
	rec=$(data "$port" "$name" TXT | joined | grep '^v=spf1 ' || true)
	for t in $rec; do
		case $t in
		include:*) n=$((n + 1 + $(spf_terms "$port" "${t#include:}"))) ;;
		a | a:* | mx | mx:* | ptr | ptr:* | exists:* | redirect=*) n=$((n + 1)) ;;
		esac
	done
	echo $n
}

check_broken() {
	local port=$1 b=broken.test key bits nx
	expect "two SPF on $port" "$(data "$port" $b TXT | tr '\n' '|')" \
		'"v=spf1 ip4:192.0.2.10 -all"|"v=spf1 ip4:198.51.100.20 -all"|'
	expect "lookup terms on $port" "$(spf_terms "$port" lookups.$b)" 11
	expect "+all on $port" "$(data "$port" plusall.$b TXT)" '"v=spf1 +all"'
	expect "?all on $port" "$(data "$port" neutral.$b TXT)" '"v=spf1 ip4:192.0.2.10 ?all"'
	expect "ptr on $port" "$(data "$port" ptr.$b TXT)" '"v=spf1 ptr -all"'
	expect "void SPF on $port" "$(data "$port" void.$b TXT)" \
		'"v=spf1 a:nx1.void.broken.test a:nx2.void.broken.test a:nx3.void.broken.test -all"'
	for nx in nx1 nx2 nx3; do
		expect "$nx.void on $port" "$(status "$port" $nx.void.$b A)" "NXDOMAIN aa"
	done
	expect "syntax SPF on $port" "$(data "$port" syntax.$b TXT)" '"v=spf1 ip4:999.1.1.1 foo:bar -al"'
	expect "bad DMARC on $port" "$(data "$port" _dmarc.badmarc.$b TXT)" '"p=reject; v=DMARC1"'
	expect "two DMARC on $port" "$(data "$port" _dmarc.twodmarc.$b TXT | tr '\n' '|')" \
		'"v=DMARC1; p=none"|"v=DMARC1; p=reject"|'
	# truncated key: half of a real key's base64, which no longer parses as a key
	key=$(data "$port" trunc._domainkey.$b TXT | joined)
	expect "trunc key on $port" "$key" "v=DKIM1; k=rsa; p=$(spki "$DNS_KEYS_DIR/trunc.pem" | cut -c1-196)"
	if printf '%s' "${key#*p=}" | base64 -d 2>/dev/null | openssl pkey -pubin -inform DER -noout 2>/dev/null; then
		fail "the truncated DKIM key parses"
	fi
	key=$(data "$port" weak._domainkey.$b TXT | joined)
	bits=$(printf '%s' "${key#*p=}" | base64 -d | openssl pkey -pubin -inform DER -text -noout |
		sed -n 's/.*Public-Key: (\([0-9]*\) bit).*/\1/p')
	expect "weak key bits on $port" "$bits" 512
	expect "revoked key on $port" "$(data "$port" revoked._domainkey.$b TXT)" '"v=DKIM1; k=rsa; p="'
	expect "MX to CNAME on $port" "$(data "$port" cnamemx.$b MX)" "10 alias.broken.test."
	expect "CNAME on $port" "$(dq "$port" alias.$b CNAME | awk '{ print $4, $5 }')" "CNAME mx.old-host.test."
	expect "MX without address on $port" "$(data "$port" noaddr.$b MX)" "10 noaddr-mx.broken.test."
	expect "no A on $port" "$(data "$port" noaddr-mx.$b A)$(data "$port" noaddr-mx.$b AAAA)" ""
	expect "noaddr-mx exists on $port" "$(status "$port" noaddr-mx.$b A)" "NOERROR aa"
	expect "null MX on $port" "$(data "$port" nullmx.$b MX)" "0 ."
}

# ---------------------------------------------------------------- states

bits=$(openssl pkey -in "$DNS_OLD_DKIM_KEY" -text -noout | sed -n 's/.*Private-Key: (\([0-9]*\) bit.*/\1/p')
expect "old DKIM key size" "$bits" 2048
bits=$(openssl pkey -in "$DNS_NEW_DKIM_KEY" -text -noout | sed -n 's/.*Private-Key: (\([0-9]*\) bit.*/\1/p')
expect "new DKIM key size" "$bits" 2048
[ "$(spki "$DNS_OLD_DKIM_KEY")" != "$(spki "$DNS_NEW_DKIM_KEY")" ] || fail "old and new DKIM keys are the same"

KEYS=$DNS_KEYS_DIR
serial=2026010101
for p in "${PORTS[@]}"; do
	check_migration "$p" old $serial
	check_hosts "$p"
	check_broken "$p"
done
pass "state old, MX hosts, reverse DNS and every broken.test name on all 5 servers"

# Two switches within the same second: the second must still be picked up (mtime).
for st in both new old; do
	serial=$((serial + 1))
	"$DNS" switch "$L" all $st >"$T/switch.out" 2>&1 || { cat "$T/switch.out" >&2; fail "switch all $st"; }
	for p in "${PORTS[@]}"; do check_migration "$p" $st $serial; done
	pass "switch all $st: every server answers state $st, serial $serial"
done

t0=$(date +%s.%N)
"$DNS" switch "$L" 1 new >"$T/switch.out" 2>&1 || { cat "$T/switch.out" >&2; fail "switch 1 new"; }
"$DNS" switch "$L" 2 new >>"$T/switch.out" 2>&1 || { cat "$T/switch.out" >&2; fail "switch 2 new"; }
secs=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t0" "$(date +%s.%N)")
check_migration "${PORTS[0]}" new $((serial + 1))
check_migration "${PORTS[1]}" new $((serial + 1))
for i in 2 3 4; do check_migration "${PORTS[$i]}" old $serial; done
"$DNS" status "$L" >"$T/status.out" || { cat "$T/status.out" >&2; fail "status"; }
expect "status lines" "$(grep -c 'state new' "$T/status.out") $(grep -c 'state old' "$T/status.out")" "2 3"
pass "switched 1 and 2 to new in ${secs}s: they answer mx.new-host.test, 3..5 still mx.old-host.test"

# Bad arguments are refused without touching the lab.
if "$DNS" switch "$L" 6 new 2>/dev/null; then fail "switch of server 6 accepted"; fi
if "$DNS" switch "$L" 1 later 2>/dev/null; then fail "switch to state 'later' accepted"; fi
check_migration "${PORTS[0]}" new $((serial + 1))

# A second lab beside the first: its own ports, its own keys, stopped on its own.
DNS_COUNT=2 "$DNS" start "$L2" >"$T/start2.out" 2>&1 || { cat "$T/start2.out" >&2; fail "second lab"; }
P2=$(sed -n 's/^export DNS_PORT_[0-9]*=//p' "$L2/dns.env" | tr '\n' ' ')
KEYS=$L2/keys
for p in $P2; do
	case " ${PORTS[*]} " in *" $p "*) fail "second lab reuses port $p" ;; esac
	check_migration "$p" old 2026010101
done
[ "$(spki "$L2/keys/default.pem")" != "$(spki "$DNS_OLD_DKIM_KEY")" ] || fail "two labs share a DKIM key"
if "$DNS" start "$L2" 2>/dev/null; then fail "start over a running lab accepted"; fi
"$DNS" stop "$L2" || fail "stop of the second lab"
KEYS=$DNS_KEYS_DIR
check_migration "${PORTS[2]}" old $serial
pass "a second lab (ports $P2) runs beside the first and stops without touching it"

# ---------------------------------------------------------------- stop

"$DNS" stop "$L" || fail "stop failed"
left=$(grep -lsF "$L/" /proc/[0-9]*/cmdline 2>/dev/null | grep -v "/proc/$$/" || true)
for f in $left; do
	# only nsd processes count (not this script's own grep)
	case $(cat "${f%/cmdline}/comm" 2>/dev/null) in nsd*) fail "process left after stop: $(tr '\0' ' ' <"$f")" ;; esac
done
if "$DNS" status "$L" >/dev/null 2>&1; then fail "status says the stopped lab runs"; fi
"$DNS" stop "$L" || fail "second stop is not idempotent"
for p in "${PORTS[@]}"; do
	if dig +norec +time=1 +tries=1 -p "$p" @127.0.0.1 migration.test SOA +short >/dev/null 2>&1; then
		fail "port $p still answers after stop"
	fi
done
pass "stop leaves no nsd process of the lab, nothing answers, a second stop is a no-op"
