#!/bin/bash
# lab/dns.sh - a private DNS lab: N real NSD authoritative servers on 127.0.0.1.
#
#   lab/dns.sh start  DIR               create DIR (absent or empty), start N servers, write DIR/dns.env
#   lab/dns.sh switch DIR NAME STATE    put migration.test on server NAME (1..N or "all") in STATE
#                                       (old|both|new), bump its SOA serial, reload, and return once
#                                       that server answers with the new serial
#   lab/dns.sh stop   DIR               stop every server of the lab, wait until none is left; idempotent
#   lab/dns.sh status DIR               one line per server; exit 0 only when all answer
#
# Contract (lab/README.md, "The DNS lab", lists the zones, names and variables):
#   - N = DNS_COUNT (or DNS_SERVERS when it is a number), default 5. Each server is its own
#     NSD 4 process tree with its own config, zones, pidfile, log and state under DIR/nsI/, and
#     listens on 127.0.0.1 only, on one free random port used for both UDP and TCP. Two labs
#     never collide: nothing is shared but the nsd binary and lab/zones/.
#   - All servers serve the same zones: migration.test (state old at start), old-host.test,
#     new-host.test, 2.0.192.in-addr.arpa, 100.51.198.in-addr.arpa and broken.test, rendered
#     from lab/zones/*.zone.in. Only migration.test changes (switch), per server, so servers
#     may disagree the way resolvers do during a cutover.
#   - DKIM keys are made at start with openssl; the private keys stay in DIR/keys/ (0700).
#   - Needs nsd, openssl and python3. Queries are made with a small python helper, so dig is
#     not needed here; the tests use dig to check the lab independently.
#
# Why SIGHUP and not nsd-control: NSD 4 rereads a zone file on SIGHUP when its mtime changed,
# which needs no control socket and no certificates. Switch sets the new file's mtime past the
# old one (two switches within one second would otherwise look unchanged) and repeats the
# SIGHUP every second until the server answers with the new serial.

set -euo pipefail

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
ZONES_SRC=$HERE/zones
HOST=127.0.0.1
NSD=${NSD:-$(command -v nsd || echo /usr/sbin/nsd)}
START_TIMEOUT=${DNS_START_TIMEOUT:-10}
SWITCH_TIMEOUT=${DNS_SWITCH_TIMEOUT:-10}
STOP_TIMEOUT=${DNS_STOP_TIMEOUT:-10}
BASE_SERIAL=2026010101
STATIC_ZONES="old-host.test new-host.test 2.0.192.in-addr.arpa 100.51.198.in-addr.arpa broken.test"
ZONES="migration.test $STATIC_ZONES"

die() { echo "$PROG: $*" >&2; exit 1; }
note() { echo "$PROG: $*" >&2; }

usage() {
	echo "usage: $PROG start DIR | stop DIR | status DIR | switch DIR 1..N|all old|both|new" >&2
	exit 2
}

# ---------------------------------------------------------------- helpers

abspath() {
	local d=$1 parent
	parent=$(dirname -- "$d")
	[ -d "$parent" ] || { echo "$d"; return 0; }
	parent=$(cd -- "$parent" && pwd -P)
	if [ "$parent" = / ]; then echo "/$(basename -- "$d")"; else echo "$parent/$(basename -- "$d")"; fi
}

# pick_ports N [AVOID...]: N ports in 15000-29999 (below the kernel's ephemeral range, so no
# outgoing connection takes them later) free for both UDP and TCP on 127.0.0.1 right now.
pick_ports() {
	python3 - "$@" <<'EOF'
import random, socket, sys
n, avoid = int(sys.argv[1]), set(sys.argv[2:])
out = []
for _ in range(5000):
    if len(out) == n:
        break
    p = random.randrange(15000, 30000)
    if str(p) in avoid or p in out:
        continue
    ok = True
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            ok = False
        finally:
            s.close()
    if ok:
        out.append(p)
if len(out) < n:
    sys.exit("no free ports in 15000-29999")
print(" ".join(map(str, out)))
EOF
}

# dnsq serial PORT ZONE [udp|tcp]: print the SOA serial the server on PORT answers for ZONE
#   (authoritative answers only); fail if it does not answer within a second.
# dnsq wait ZONE TIMEOUT PORT:SERIAL...: wait until every server answers ZONE's SOA with SERIAL
#   ("any": any serial) over both UDP and TCP; on timeout print the others' ports and fail.
# One python process for many queries: python's start-up dominates the lab's timings.
dnsq() {
	python3 - "$@" <<'EOF'
import random, socket, struct, sys, time

def skip_name(m, i):
    while True:
        n = m[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += n + 1

def serial(port, zone, proto, timeout=1.0):
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in zone.rstrip(".").split(".")) + b"\0"
    q += struct.pack(">HH", 6, 1)
    try:
        if proto == "tcp":
            s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
            s.sendall(struct.pack(">H", len(q)) + q)
            buf = b""
            while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
                chunk = s.recv(4096)
                if not chunk:
                    return None
                buf += chunk
            r = buf[2:]
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(timeout)
            s.sendto(q, ("127.0.0.1", port))
            r = s.recv(65535)
        s.close()
        rid, flags, qd, an = struct.unpack(">HHHH", r[:8])
        if rid != qid or not flags & 0x0400 or flags & 0xF != 0:
            return None
        i = 12
        for _ in range(qd):
            i = skip_name(r, i) + 4
        for _ in range(an):
            i = skip_name(r, i)
            rtype, _, _, rdlen = struct.unpack(">HHIH", r[i:i + 10])
            i += 10
            if rtype == 6:
                j = skip_name(r, skip_name(r, i))
                return str(struct.unpack(">I", r[j:j + 4])[0])
            i += rdlen
    except (OSError, struct.error, IndexError):
        pass
    return None

if sys.argv[1] == "serial":
    got = serial(int(sys.argv[2]), sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "udp")
    if got is None:
        sys.exit(1)
    print(got)
    sys.exit(0)
zone, deadline = sys.argv[2], time.monotonic() + float(sys.argv[3])
todo = [a.split(":") for a in sys.argv[4:]]
while True:
    left = []
    for port, want in todo:
        # A short timeout: a query that arrives while NSD swaps processes on a reload can be
        # lost, and loopback answers in milliseconds.
        got = [serial(int(port), zone, p, 0.3) for p in ("udp", "tcp")]
        if not all(g is not None and (want == "any" or g == want) for g in got):
            left.append((port, want))
    todo = left
    if not todo or time.monotonic() > deadline:
        break
    time.sleep(0.1)
if todo:
    print(" ".join(p for p, _ in todo))
    sys.exit(1)
EOF
}

# render TEMPLATE OUT KEY=VALUE... [-- TEMPLATE OUT KEY=VALUE...]...: write OUT from TEMPLATE
# with @KEY@ replaced by VALUE, several files in one python process (values hold / + & =,
# which sed and bash 5.2's ${x//} would interpret).
render() {
	python3 - "$@" <<'EOF'
import os, re, sys
jobs, cur = [], []
for a in sys.argv[1:]:
    if a == "--":
        jobs.append(cur)
        cur = []
    else:
        cur.append(a)
jobs.append(cur)
for tpl, out, *pairs in jobs:
    text = open(tpl).read()
    for p in pairs:
        k, v = p.split("=", 1)
        text = text.replace("@" + k + "@", v)
    left = re.search(r"@[A-Z0-9_]+@", text)
    if left:
        # NSD would refuse the zone with a less helpful message.
        sys.exit(f"{tpl}: placeholder {left.group(0)} was not filled")
    with open(out + ".tmp", "w") as f:
        f.write(text)
    os.replace(out + ".tmp", out)
EOF
}

# dkim_rdata KEYFILE [half]: the TXT rdata of a DKIM key record for the public half of
# KEYFILE, as 255-octet character-strings in parentheses (RFC 1035 limit per string);
# "half" cuts the base64 in the middle (a truncated record).
dkim_rdata() {
	local b64 s out="(" i
	b64=$(openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | base64 -w0) ||
		die "openssl could not read $1"
	[ -n "$b64" ] || die "openssl could not read $1"
	[ "${2:-}" = half ] && b64=${b64:0:$((${#b64} / 2))}
	s="v=DKIM1; k=rsa; p=$b64"
	for ((i = 0; i < ${#s}; i += 255)); do out="$out \"${s:i:255}\""; done
	echo "$out )"
}

# Pids of every nsd process whose command line names config $1 (NSD's xfrd, main and server
# processes are forks of one "nsd -c CONF"; they rename themselves "nsd: xfrd" etc.).
conf_pids() {
	local f pid
	# grep -z: the NUL-separated arguments are "lines"; -x: one must be exactly the path. The
	# pattern comes through a file so that grep's own command line does not match; comm is
	# checked so that nothing but nsd is ever signalled.
	for f in $(grep -lsxzFf <(printf '%s\n' "$1") /proc/[0-9]*/cmdline 2>/dev/null); do
		f=${f#/proc/}
		pid=${f%/cmdline}
		case $(cat "/proc/$pid/comm" 2>/dev/null) in nsd*) echo "$pid" ;; esac
	done
	return 0
}

load_env() {
	[ -f "$DIR/dns.env" ] || die "$DIR/dns.env not found: is $DIR a DNS lab started with '$PROG start'?"
	COUNT=$(sed -n "s/^export DNS_COUNT=//p" "$DIR/dns.env")
	case $COUNT in '' | *[!0-9]*) die "$DIR/dns.env has no DNS_COUNT" ;; esac
}

# ---------------------------------------------------------------- zones

# migration_job OUT STATE SERIAL: the render arguments for migration.test in STATE.
migration_job() {
	local out=$1 state=$2 serial=$3 mx ttl spf ms sts
	case $state in
	old) mx=mx.old-host.test ttl=86400 spf='"v=spf1 ip4:192.0.2.10 -all"' ;;
	both) mx=mx.old-host.test ttl=300 spf='"v=spf1 ip4:192.0.2.10 ip4:198.51.100.20 -all"' ;;
	new) mx=mx.new-host.test ttl=300 spf='"v=spf1 ip4:192.0.2.10 ip4:198.51.100.20 -all"' ;;
	*) die "state must be old, both or new (got '$state')" ;;
	esac
	if [ "$state" = old ]; then
		ms="; ms2026._domainkey is not published in state old"
	else
		ms="ms2026._domainkey	3600	IN	TXT	$(cat "$DIR/keys/ms2026.rdata")"
	fi
	# MTA-STS in state new only: its policy is served by the test that needs it (an HTTPS
	# server on 127.0.0.1; dns check --mta-sts-port), so the other states stay quiet.
	if [ "$state" = new ]; then
		sts="_mta-sts	3600	IN	TXT	\"v=STSv1; id=20260101T000000\"
mta-sts	3600	IN	A	127.0.0.1"
	else
		sts="; no MTA-STS in state $state"
	fi
	JOB=("$ZONES_SRC/migration.test.zone.in" "$out" "SERIAL=$serial" "STATE=$state"
		"MX_TTL=$ttl" "MX_HOST=$mx" "SPF=$spf" "DKIM_DEFAULT=$(cat "$DIR/keys/default.rdata")"
		"DKIM_MS2026=$ms" "MTA_STS=$sts")
}

write_conf() {
	local i=$1 port=$2 d=$DIR/ns$1 zn
	{
		cat <<EOF
# NSD config of DNS lab server $i ($DIR), generated by lab/dns.sh.
server:
	ip-address: $HOST@$port
	port: $port
	do-ip4: yes
	do-ip6: no
	# Stay the invoking user and do not chroot: user nsd may not be able to read DIR.
	username: ""
	chroot: ""
	zonesdir: "$d/zones"
	zonelistfile: "$d/zone.list"
	xfrdfile: "$d/xfrd.state"
	xfrdir: "$d/xfr"
	database: ""
	pidfile: "$d/nsd.pid"
	logfile: "$d/nsd.log"
	# Not /etc/nsd/nsd_cookiesecrets.txt: nothing outside DIR (the file need not exist).
	cookie-secret-file: "$d/cookiesecrets.txt"
	verbosity: 1
	hide-version: yes
	hide-identity: yes
	server-count: 1
	reuseport: no
remote-control:
	control-enable: no
EOF
		for zn in $ZONES; do
			printf 'zone:\n\tname: "%s"\n\tzonefile: "%s.zone"\n' "$zn" "$zn"
		done
	} >"$d/nsd.conf"
}

# ---------------------------------------------------------------- start

make_keys() {
	local k=$DIR/keys spec name bits pids=()
	mkdir -m 0700 "$k"
	# In parallel: RSA key generation is most of the start time.
	for spec in default:2048 ms2026:2048 trunc:2048 weak:512; do
		bits=${spec#*:}
		name=${spec%%:*}
		(umask 077 && openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$bits" \
			-out "$k/$name.pem" 2>/dev/null) &
		pids+=($!)
	done
	for spec in "${pids[@]}"; do wait "$spec" || die "openssl could not make an RSA key in $k"; done
	for name in default ms2026 trunc weak; do
		openssl pkey -in "$k/$name.pem" -pubout -out "$k/$name.pub.pem" 2>/dev/null ||
			die "openssl could not read $k/$name.pem"
	done
	dkim_rdata "$k/default.pem" >"$k/default.rdata"
	dkim_rdata "$k/ms2026.pem" >"$k/ms2026.rdata"
	dkim_rdata "$k/trunc.pem" half >"$k/trunc.rdata"
	dkim_rdata "$k/weak.pem" >"$k/weak.rdata"
}

# launch I PORT: write server I's config for PORT and start it (NSD daemonizes after binding).
# Returns 2 when the port was taken meanwhile (NSD exits at once and logs "in use").
launch() {
	local i=$1 port=$2 d=$DIR/ns$1
	write_conf "$i" "$port"
	echo "$port" >"$d/port"
	"$NSD" -c "$d/nsd.conf" 2>>"$d/nsd.log" && return 0
	grep -qi "in use" "$d/nsd.log" && return 2
	return 1
}

# launch_retry I: launch server I on ports[I-1], on another free port if that one was taken.
launch_retry() {
	local i=$1 p tries=0 rc
	while :; do
		rc=0
		launch "$i" "${ports[i - 1]}" || rc=$?
		[ $rc = 2 ] && [ $tries -lt 5 ] || return 0
		tries=$((tries + 1))
		p=$(pick_ports 1 "${ports[@]}") || die "no free port for server $i"
		note "server $i: port ${ports[i - 1]} was taken, trying $p"
		ports[i - 1]=$p
		: >"$DIR/ns$i/nsd.log"
	done
}

cmd_start() {
	command -v "$NSD" >/dev/null 2>&1 || die "nsd not found: apt-get install nsd (Debian package nsd)"
	command -v openssl >/dev/null 2>&1 || die "openssl not found: apt-get install openssl"
	if [ -e "$DIR" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
		die "$DIR exists and is not empty: stop that lab and remove it, or choose another directory"
	fi
	local n=${DNS_COUNT:-}
	if [ -z "$n" ]; then
		# DNS_SERVERS is a number when given by hand, a server list after sourcing a dns.env.
		case ${DNS_SERVERS:-} in '' | *[!0-9]*) n=5 ;; *) n=$DNS_SERVERS ;; esac
	fi
	case $n in '' | *[!0-9]*) die "DNS_COUNT must be a number (got '$n')" ;; esac
	if [ "$n" -lt 1 ] || [ "$n" -gt 50 ]; then die "DNS_COUNT must be 1..50 (got $n)"; fi
	COUNT=$n
	mkdir -p "$DIR"
	DIR=$(cd "$DIR" && pwd -P)
	make_keys

	# Render every zone once, then copy it to each server.
	local c=$DIR/zones.common zn i jobs=()
	mkdir "$c"
	migration_job "$c/migration.test.zone" old "$BASE_SERIAL"
	jobs=("${JOB[@]}")
	for zn in $STATIC_ZONES; do
		jobs+=(-- "$ZONES_SRC/$zn.zone.in" "$c/$zn.zone" "SERIAL=$BASE_SERIAL")
		[ "$zn" = broken.test ] && jobs+=("DKIM_TRUNC=$(cat "$DIR/keys/trunc.rdata")"
			"DKIM_WEAK=$(cat "$DIR/keys/weak.rdata")")
	done
	render "${jobs[@]}" || die "could not render the zones from $ZONES_SRC"

	local ports=() left p waitargs=()
	read -r -a ports <<<"$(pick_ports "$COUNT")" || die "no free ports"
	for i in $(seq 1 "$COUNT"); do
		mkdir -p "$DIR/ns$i/xfr"
		cp -rp "$c" "$DIR/ns$i/zones"
		# The mtime NSD last saw: switch must set a later one (see switch_servers).
		touch -r "$c/migration.test.zone" "$DIR/ns$i/zone.mtime"
		echo old >"$DIR/ns$i/state"
		echo "$BASE_SERIAL" >"$DIR/ns$i/serial"
		launch_retry "$i"
	done
	for i in $(seq 1 "$COUNT"); do waitargs+=("${ports[i - 1]}:any"); done
	if ! left=$(dnsq wait migration.test "$START_TIMEOUT" "${waitargs[@]}"); then
		for i in $(seq 1 "$COUNT"); do
			case " $left " in *" ${ports[i - 1]} "*) ;; *) continue ;; esac
			note "server $i (port ${ports[i - 1]}) does not answer; end of $DIR/ns$i/nsd.log:"
			tail -n 15 "$DIR/ns$i/nsd.log" >&2 || true
		done
		cmd_stop || true
		die "start failed; $DIR is left for inspection (remove it before trying again)"
	fi

	local env=$DIR/dns.env servers=""
	for p in "${ports[@]}"; do servers="${servers:+$servers }$HOST:$p"; done
	{
		echo "# DNS lab $DIR, written by lab/dns.sh start. Source it: . $env"
		echo "export DNS_DIR='$DIR'"
		echo "export DNS_COUNT=$COUNT"
		echo "export DNS_SERVERS='$servers'"
		for i in $(seq 1 "$COUNT"); do
			echo "export DNS_PORT_$i=${ports[$((i - 1))]}"
		done
		echo "export DNS_ZONE=migration.test"
		echo "export DNS_BROKEN_ZONE=broken.test"
		echo "export DNS_OLD_MX=mx.old-host.test"
		echo "export DNS_NEW_MX=mx.new-host.test"
		echo "export DNS_OLD_IP=192.0.2.10"
		echo "export DNS_NEW_IP=198.51.100.20"
		echo "export DNS_OLD_SELECTOR=default"
		echo "export DNS_NEW_SELECTOR=ms2026"
		echo "export DNS_KEYS_DIR='$DIR/keys'"
		echo "export DNS_OLD_DKIM_KEY='$DIR/keys/default.pem'"
		echo "export DNS_NEW_DKIM_KEY='$DIR/keys/ms2026.pem'"
	} >"$env.tmp"
	mv -f "$env.tmp" "$env"
	echo "DNS lab in $DIR: $COUNT NSD servers at $servers (state old); . $env"
}

# ---------------------------------------------------------------- stop / status / switch

# stop_one I: TERM every process of server I, wait for them to go (KILL after the timeout).
stop_one() {
	local i=$1 conf=$DIR/ns$1/nsd.conf pids t=0
	[ -f "$conf" ] || return 0
	pids=$(conf_pids "$conf")
	[ -n "$pids" ] || { rm -f "$DIR/ns$i/nsd.pid"; return 0; }
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null || true
	while [ $t -lt $((STOP_TIMEOUT * 10)) ]; do
		pids=$(conf_pids "$conf")
		[ -z "$pids" ] && break
		sleep 0.1
		t=$((t + 1))
	done
	if [ -n "$pids" ]; then
		note "server $i did not exit after ${STOP_TIMEOUT}s, killing $pids"
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null || true
		sleep 0.2
		pids=$(conf_pids "$conf")
		[ -z "$pids" ] || { note "server $i: processes remain: $pids"; return 1; }
	fi
	rm -f "$DIR/ns$i/nsd.pid"
}

cmd_stop() {
	[ -d "$DIR" ] || return 0
	local d rc=0
	# TERM all servers first, then wait: stopping five takes as long as stopping one.
	for d in "$DIR"/ns[0-9]*; do
		[ -f "$d/nsd.conf" ] || continue
		# shellcheck disable=SC2046
		kill -TERM $(conf_pids "$d/nsd.conf") 2>/dev/null || true
	done
	for d in "$DIR"/ns[0-9]*; do
		[ -d "$d" ] || continue
		stop_one "${d##*/ns}" || rc=1
	done
	return $rc
}

cmd_status() {
	load_env
	local i port pid serial rc=0
	for i in $(seq 1 "$COUNT"); do
		port=$(cat "$DIR/ns$i/port")
		pid=$(cat "$DIR/ns$i/nsd.pid" 2>/dev/null || echo -)
		if serial=$(dnsq serial "$port" migration.test); then
			echo "server $i $HOST:$port pid $pid: migration.test state $(cat "$DIR/ns$i/state") serial $serial"
		else
			echo "server $i $HOST:$port pid $pid: NOT answering"
			rc=1
		fi
	done
	return $rc
}

# switch_servers STATE I...: rewrite migration.test on each server I, SIGHUP them, wait.
switch_servers() {
	local state=$1 i z old_mtime now serial jobs=() waitargs=() pids=() t pid left
	shift
	for i in "$@"; do
		pid=$(cat "$DIR/ns$i/nsd.pid" 2>/dev/null) || die "server $i is not running (no pidfile)"
		[ -d "/proc/$pid" ] || die "server $i is not running (pid $pid is gone)"
		pids+=("$pid")
		serial=$(($(cat "$DIR/ns$i/serial") + 1))
		migration_job "$DIR/ns$i/zones/migration.test.zone" "$state" "$serial"
		[ ${#jobs[@]} -gt 0 ] && jobs+=(--)
		jobs+=("${JOB[@]}")
		waitargs+=("$(cat "$DIR/ns$i/port"):$serial")
		echo "$serial" >"$DIR/ns$i/serial.new"
	done
	render "${jobs[@]}" || die "could not render migration.test"
	now=$(date +%s)
	for i in "$@"; do
		z=$DIR/ns$i/zones/migration.test.zone
		# NSD reloads a file only when its mtime changed: make sure it did.
		old_mtime=$(stat -c %Y "$DIR/ns$i/zone.mtime" 2>/dev/null || echo 0)
		t=$now
		[ "$t" -gt "$old_mtime" ] || t=$((old_mtime + 1))
		touch -d "@$t" "$z" "$DIR/ns$i/zone.mtime"
		mv -f "$DIR/ns$i/serial.new" "$DIR/ns$i/serial"
		echo "$state" >"$DIR/ns$i/state"
	done
	for t in $(seq 1 "$SWITCH_TIMEOUT"); do
		# A reload already under way may have read the file before it changed: HUP again.
		kill -HUP "${pids[@]}" 2>/dev/null || die "a server of $DIR is gone (pids ${pids[*]})"
		if left=$(dnsq wait migration.test 1 "${waitargs[@]}"); then
			for i in "$@"; do
				echo "server $i: migration.test $state, serial $(cat "$DIR/ns$i/serial")"
			done
			return 0
		fi
	done
	die "servers on ports $left do not answer the new serial after ${SWITCH_TIMEOUT}s (see $DIR/ns*/nsd.log)"
}

cmd_switch() {
	local name=$1 state=$2
	case $state in old | both | new) ;; *) die "STATE must be old, both or new (got '$state')" ;; esac
	load_env
	if [ "$name" = all ]; then
		# shellcheck disable=SC2046
		switch_servers "$state" $(seq 1 "$COUNT")
	else
		case $name in '' | *[!0-9]*) die "NAME must be a server number 1..$COUNT or all (got '$name')" ;; esac
		if [ "$name" -lt 1 ] || [ "$name" -gt "$COUNT" ]; then die "no server $name in $DIR (1..$COUNT)"; fi
		switch_servers "$state" "$name"
	fi
}

# ---------------------------------------------------------------- main

[ $# -ge 2 ] || usage
CMD=$1
DIR=$(abspath "$2")
case $CMD in
start) [ $# = 2 ] || usage; cmd_start ;;
stop) [ $# = 2 ] || usage; cmd_stop ;;
status) [ $# = 2 ] || usage; cmd_status ;;
switch) [ $# = 4 ] || usage; cmd_switch "$3" "$4" ;;
*) usage ;;
esac
