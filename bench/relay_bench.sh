#!/bin/bash
# bench/relay_bench.sh — the relay part of `make bench`: mailshift's dual-delivery SMTP
# relay against Postfix doing the same job with recipient_bcc_maps, on this machine, with
# the same load, the same two sinks and a durable queue on both sides.
#
# What it does (bench/README.md, "The relay bench", says how to read the result):
#   1. for each relay in turn (mailshift, then Postfix), starts two fresh smtp-sink
#      instances ("old", "new") that dump every message to a file, then the relay in front
#      of them on 127.0.0.1:
#        mailshift relay, one group in phase both holding alice@example.jp, concurrency 10;
#        a private Postfix instance (own config, queue and data directories under the
#        temporary directory; the system's Postfix is not touched) relaying example.jp to
#        the old sink and copying every message for alice@example.jp to
#        alice@shadow.invalid, routed to the new sink (recipient_bcc_maps +
#        transport_maps), default_destination_concurrency_limit = 10;
#   2. sends BENCH_RELAY_MESSAGES messages (default 10000) with Postfix's smtp-source
#      (20 sessions, 2000-byte bodies, one recipient, a new connection per message) and
#      waits until both sinks hold every message and the relay's queue is empty;
#   3. measures the accept rate (N / time until smtp-source finished), the delivered-to-
#      both rate (N / time until both sinks held N files), peak memory and CPU per message
#      (below), and the CPU the load generator, the sinks and the rest of the machine used;
#   4. verifies the copies: each sink holds N messages, each once, and every message in the
#      old sink has a byte-identical twin in the new one (paired by X-Mailshift-Trace for
#      mailshift, by the queue id in Postfix's Received: header for Postfix);
#   5. prints both side by side and the ratios. Exit 0 only if both relays delivered and
#      verified all N messages to each sink.
#
# Memory: mailshift is one process: VmHWM of /proc/PID/status at the end. Postfix is many:
# every 0.5 s the sum of VmRSS (and of Pss, which counts shared pages once) over all the
# processes of its instance (the session its master daemon opens with setsid()); the
# peak of that sum and the number of processes at that sample are printed.
# CPU: utime+stime+cutime+cstime (/proc/PID/stat) over the relay's processes (mailshift:
# its one process; Postfix: every process of the master's session, the master's cutime and
# cstime holding the CPU of the children it reaped), read once when the relay is up and
# idle and once when all is delivered; the difference is the run's CPU.
#
# Environment: MAILSHIFT (default build/release/mailshift), BENCH_RELAY_MESSAGES (10000),
# BENCH_RELAY_TIMEOUT (seconds to wait for the deliveries after smtp-source ended, 600),
# BENCH_KEEP=1 (keep the temporary directory: configs, logs, sink dumps).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MAILSHIFT=${MAILSHIFT:-$ROOT/build/release/mailshift}
N=${BENCH_RELAY_MESSAGES:-10000}
TIMEOUT=${BENCH_RELAY_TIMEOUT:-600}
KEEP=${BENCH_KEEP:-0}
SESSIONS=20        # smtp-source -s
SIZE=2000          # smtp-source -l (body bytes)
CONC=10            # delivery connections per destination, both relays
RCPT=alice@example.jp
SHADOW=alice@shadow.invalid
SENDER=load@load.test
TIME=/usr/bin/time
SINK=/usr/sbin/smtp-sink
SOURCE=/usr/sbin/smtp-source

die() { echo "relay bench: $*" >&2; exit 1; }
step() { echo "relay bench: $*"; }

case $MAILSHIFT in /*) ;; *) MAILSHIFT=$PWD/$MAILSHIFT ;; esac
[ -x "$MAILSHIFT" ] || die "$MAILSHIFT not found: run 'make all' first (or set MAILSHIFT=path/to/mailshift)"
for p in "$SINK" "$SOURCE" /usr/sbin/postfix /usr/sbin/postconf; do
	[ -x "$p" ] || die "$p not found: scripts/deps.sh bench (Debian package postfix)"
done
[ -x "$TIME" ] || die "$TIME not found: scripts/deps.sh bench (Debian package time)"
command -v python3 >/dev/null || die "python3 not found"
[[ $N =~ ^[1-9][0-9]*$ ]] || die "BENCH_RELAY_MESSAGES must be a positive number"
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "BENCH_RELAY_TIMEOUT must be a positive number of seconds"
[ "$(id -u)" = 0 ] || die "the Postfix instance needs root (it runs its daemons as user postfix)"
{ id postfix && getent group postdrop; } >/dev/null 2>&1 ||
	die "user postfix or group postdrop missing: is the Debian package postfix installed?"

# smtp-sink runs as nobody: the directory must be reachable by it, so /tmp, mode 0755.
WORK=$(mktemp -d /tmp/msrelaybench.XXXXXX)
chmod 0755 "$WORK"
PF=$WORK/postfix                   # the Postfix instance: etc/ queue/ data/ maillog
PY=$WORK/relay_bench.py            # the helper below
SINK_PIDS=()
RELAY_PID=
MON_PID=
SRC_PID=
PF_MASTER=

# pf_procs: pids (zombies left out) of the Postfix instance's session
pf_procs() {
	[ -n "$PF_MASTER" ] || return 0
	python3 "$PY" procs "$PF_MASTER"
}
pf_stop() {
	[ -n "$PF_MASTER" ] || return 0
	/usr/sbin/postfix -c "$PF/etc" stop >/dev/null 2>&1 || true
	local left
	for _ in $(seq 1 100); do
		left=$(pf_procs)
		[ -n "$left" ] || break
		sleep 0.1
	done
	if [ -n "$left" ]; then
		echo "relay bench: Postfix processes left 10 s after 'postfix stop': $left; killing them" >&2
		# shellcheck disable=SC2086
		kill -KILL $left 2>/dev/null || true
	fi
	PF_MASTER=
}
sinks_stop() {
	local p
	for p in "${SINK_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	SINK_PIDS=()
}
relay_stop() {        # SIGTERM, then SIGKILL after 15 s; sets RELAY_RC
	RELAY_RC=0
	[ -n "$RELAY_PID" ] || return 0
	kill -TERM "$RELAY_PID" 2>/dev/null || true
	for _ in $(seq 1 150); do
		kill -0 "$RELAY_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$RELAY_PID" 2>/dev/null; then
		echo "relay bench: mailshift relay still running 15 s after SIGTERM; SIGKILL" >&2
		kill -KILL "$RELAY_PID" 2>/dev/null || true
	fi
	wait "$RELAY_PID" 2>/dev/null || RELAY_RC=$?
	RELAY_PID=
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	local p
	for p in "$MON_PID" "$SRC_PID"; do
		[ -n "$p" ] || continue
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	relay_stop
	pf_stop
	sinks_stop
	if [ "$KEEP" = 1 ] || [ $rc -ne 0 ]; then
		echo "relay bench: files kept in $WORK (configs, logs, sink dumps, JSON)" >&2
	else
		rm -rf -- "$WORK"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helper (python)
cat >"$PY" <<'PY'
"""relay_bench.py — the measuring and verifying half of bench/relay_bench.sh.

  procs SID                      non-zombie pids whose session is SID
  cpu sid SID | pid PID          CPU ticks: utime+stime+cutime+cstime summed
  monitor ARGS                   RSS sampling and sink counting during a run (JSON out)
  verify KIND OLD NEW N OUT      check the sinks' dumps (JSON out, exit 1 on failure)
  table WORK N ...               print the comparison
"""
import json, os, re, signal, sys, time


def stat_fields(pid):
    """Fields after the command name of /proc/PID/stat (state is [0]), or None."""
    try:
        s = open(f"/proc/{pid}/stat", "rb").read()
    except OSError:
        return None
    return s[s.rindex(b")") + 2:].split()


def session_pids(sid, zombies=False):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        f = stat_fields(d)
        if f and int(f[3]) == sid and (zombies or f[0] != b"Z"):
            out.append(int(d))
    return out


def ticks(pids):
    t = 0
    for p in pids:
        f = stat_fields(p)
        if f:
            t += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return t


def status_kb(pid, keys):
    r = dict.fromkeys(keys, 0)
    try:
        for line in open(f"/proc/{pid}/status"):
            k, _, v = line.partition(":")
            if k in r:
                r[k] = int(v.split()[0])
    except OSError:
        pass
    return r


def pss_kb(pid):
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def count(d):
    n = 0
    with os.scandir(d) as it:
        for e in it:
            if not e.name.startswith("."):
                n += 1
    return n


def monitor(a):
    """monitor MODE(pid|sid) ID OLDDIR NEWDIR N FLAG TIMEOUT OUT SINKPID...

    Every 0.5 s: RSS (and Pss) of the relay's processes. Sink files are counted every
    second while smtp-source runs (for the progress figures) and every 0.1 s once FLAG
    exists (smtp-source ended): all N cannot be delivered before all N were accepted.
    Ends when both sinks hold N files, TIMEOUT s after FLAG appeared, when the relay or
    a sink is gone, or on SIGTERM; writes OUT (JSON)."""
    mode, ident, old, new, n, flag, timeout, out = a[:8]
    sinks = [int(p) for p in a[8:]]
    ident, n, timeout = int(ident), int(n), float(timeout)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    r = {"peak_rss_kb": 0, "pss_at_peak_kb": 0, "procs_at_peak": 0, "max_procs": 0,
         "samples": 0, "t_old": None, "t_new": None, "t_both": None, "t_flag": None,
         "at_flag": None, "end": "stopped", "relay_gone": False}
    next_rss = next_count = 0.0
    c_old = c_new = 0
    while not stop:
        now = time.time()
        if now >= next_rss:
            next_rss = now + 0.5
            pids = session_pids(ident) if mode == "sid" else [ident]
            if mode == "pid" and stat_fields(ident) is None:
                pids = []
            if not pids:
                r["relay_gone"], r["end"] = True, "relay gone"
                break
            dead = [p for p in sinks if (stat_fields(p) or [b"Z"])[0] == b"Z"]
            if dead:
                r["end"] = f"smtp-sink {dead} died (killed by someone else?)"
                break
            rss = sum(status_kb(p, ("VmRSS",))["VmRSS"] for p in pids)
            r["samples"] += 1
            r["max_procs"] = max(r["max_procs"], len(pids))
            if rss > r["peak_rss_kb"]:
                r["peak_rss_kb"], r["procs_at_peak"] = rss, len(pids)
                r["pss_at_peak_kb"] = sum(pss_kb(p) for p in pids)
        flagged = r["t_flag"] is not None or os.path.exists(flag)
        if flagged and r["t_flag"] is None:
            r["t_flag"] = os.stat(flag).st_mtime
            r["at_flag"] = [count(old), count(new)]
        if now >= next_count or flagged:
            next_count = now + 1.0
            c_old, c_new = count(old), count(new)
            t = time.time()
            if r["t_old"] is None and c_old >= n:
                r["t_old"] = t
            if r["t_new"] is None and c_new >= n:
                r["t_new"] = t
            if c_old >= n and c_new >= n:
                r["t_both"], r["end"] = t, "delivered"
                break
        if flagged and time.time() > r["t_flag"] + timeout:
            r["end"] = f"timeout: {c_old} and {c_new} of {n} after {timeout:.0f} s"
            break
        time.sleep(0.1)
    r["counts"] = [count(old), count(new)]
    u = os.times()
    r["self_cpu"] = u.user + u.system
    json.dump(r, open(out, "w"), indent=1)


ENVELOPE = re.compile(rb"(X-Client-[A-Za-z-]+|X-Helo-Args|X-Mail-Args|X-Rcpt-Args): ?([^\n]*)\n")


def parse_dump(path):
    """(sender, [rcpts], message bytes, headers {lowercase name: [values]}) of one
    smtp-sink dump: its envelope lines and its own Received: header taken out."""
    data = open(path, "rb").read().replace(b"\r\n", b"\n")
    pos, sender, rcpts = 0, None, []
    while True:
        m = ENVELOPE.match(data, pos)
        if not m:
            break
        addr = re.sub(rb"^(?:(?:FROM|TO):)?\s*<?([^> ]*)>?.*$", rb"\1", m.group(2), flags=re.I)
        if m.group(1) == b"X-Mail-Args":
            sender = addr.decode("utf-8", "replace")
        elif m.group(1) == b"X-Rcpt-Args":
            rcpts.append(addr.decode("utf-8", "replace"))
        pos = m.end()
    msg = data[pos:]
    m = re.match(rb"Received: [^\n]*\n(?:[ \t][^\n]*\n)*", msg)
    if m and b"(smtp-sink)" in m.group(0):
        msg = msg[m.end():]
    end = msg.find(b"\n\n")
    head = (msg if end < 0 else msg[:end + 1]).decode("utf-8", "replace")
    headers = {}
    for h in re.findall(r"(?m)^([^ \t:\n]+):[ \t]*((?:[^\n]*)(?:\n[ \t][^\n]*)*)", head):
        headers.setdefault(h[0].lower(), []).append(re.sub(r"\s+", " ", h[1]).strip())
    return sender, rcpts, msg, headers


def pair_key(kind, headers):
    if kind == "mailshift":
        v = headers.get("x-mailshift-trace", [])
        return v[0] if len(v) == 1 else None
    for rcv in headers.get("received", []):
        m = re.search(r"\(Postfix\) with \S+ id ([0-9A-Za-z]+)", rcv)
        if m:
            return m.group(1)
    return None


def verify(a):
    """verify KIND OLDDIR NEWDIR N OUT: every copy has a pairing key, each key once per
    sink, the same keys in both sinks, paired copies byte-identical (without smtp-sink's
    envelope lines and Received: header)."""
    from collections import Counter
    kind, old, new, n, out = a
    n = int(n)
    r = {"ok": False, "problems": []}
    sides = {}
    for side, d in (("old", old), ("new", new)):
        keys, msgs, rc, mids, nokey, senders = Counter(), {}, Counter(), Counter(), 0, Counter()
        for name in sorted(os.listdir(d)):
            if name.startswith("."):
                continue
            sender, rcpts, msg, headers = parse_dump(os.path.join(d, name))
            senders[sender] += 1
            rc[",".join(rcpts)] += 1
            mids[(headers.get("message-id") or [None])[0]] += 1
            k = pair_key(kind, headers)
            if k is None:
                nokey += 1
                continue
            keys[k] += 1
            msgs[k] = msg
        total = sum(rc.values())
        dup = sum(c - 1 for c in keys.values() if c > 1)
        sides[side] = (keys, msgs)
        r[side] = {"files": total, "unique_keys": len(keys), "duplicates": dup,
                   "without_key": nokey, "rcpts": dict(rc.most_common(3)),
                   "senders": dict(senders.most_common(3)),
                   "unique_message_ids": len(mids), "mids": mids}
        if total != n:
            r["problems"].append(f"{side} sink holds {total} messages, not {n}")
        if dup:
            r["problems"].append(f"{side} sink: {dup} messages more than once")
        if nokey:
            r["problems"].append(f"{side} sink: {nokey} messages without a pairing key")
    ko, kn = set(sides["old"][0]), set(sides["new"][0])
    if ko - kn:
        r["problems"].append(f"{len(ko - kn)} messages of the old sink missing from the new one")
    if kn - ko:
        r["problems"].append(f"{len(kn - ko)} messages of the new sink missing from the old one")
    both = ko & kn
    differ = sum(1 for k in both if sides["old"][1][k] != sides["new"][1][k])
    r["paired"], r["paired_differ"] = len(both), differ
    if differ:
        r["problems"].append(f"{differ} paired copies differ")
    mo, mn = r["old"].pop("mids"), r["new"].pop("mids")
    r["message_ids_match"] = mo == mn
    if not r["message_ids_match"]:
        r["problems"].append("the Message-ID multisets of the two sinks differ")
    r["ok"] = not r["problems"]
    json.dump(r, open(out, "w"), indent=1)
    sys.exit(0 if r["ok"] else 1)


def table(a):
    work, n, sessions, size, conc, fs, msv, pfv = a
    n = int(n)
    hz = os.sysconf("SC_CLK_TCK")
    ncpu = os.cpu_count() or 1
    rows = []
    for name, label in (("mailshift", msv), ("postfix", f"Postfix {pfv}")):
        try:
            m = json.load(open(f"{work}/{name}/run.json"))
        except OSError:
            continue
        mon, v = m["monitor"], m.get("verify") or {}
        acc = m["t_source_end"] - m["t0"]
        both = (mon["t_both"] - m["t0"]) if mon.get("t_both") else None
        cpu = (m["cpu_end"] - m["cpu_start"]) / hz
        load = m["source_cpu"] + (m["sink_ticks"] / hz)
        other = max(0.0, (m["machine_ticks"] / hz) - cpu - load - mon["self_cpu"])
        rss = m["hwm_kb"] if name == "mailshift" else mon["peak_rss_kb"]
        rows.append({"name": name, "label": label, "acc": acc, "both": both, "cpu": cpu,
                     "rss": rss / 1024, "pss": mon.get("pss_at_peak_kb", 0) / 1024,
                     "procs": 1 if name == "mailshift" else mon["procs_at_peak"],
                     "load": load, "other": other, "wall": m["t_end"] - m["t0"],
                     "old": (v.get("old") or {}).get("files", mon["counts"][0]),
                     "new": (v.get("new") or {}).get("files", mon["counts"][1]),
                     "ok": v.get("ok", False), "src_ok": m["source_rc"] == 0,
                     "at_flag": mon.get("at_flag")})
    print()
    print(f"dual delivery of {n} messages ({size}-byte bodies) from smtp-source, {sessions} "
          f"sessions, one recipient in phase both; {conc} delivery connections per sink; "
          f"queues on {fs} (fsync); {ncpu} CPUs")
    print()
    w = 22
    hdr = (f"{'relay':<{w}} {'old':>6} {'new':>6} {'accept s':>9} {'msgs/s':>7} {'both s':>8} "
           f"{'msgs/s':>7} {'peak RSS MiB':>13} {'(PSS)':>7} {'procs':>5} {'CPU s':>6} "
           f"{'ms/msg':>7} {'load CPU':>8} {'other':>6}")
    print(hdr)
    print("-" * len(hdr))
    for x in rows:
        both = f"{x['both']:>8.2f} {n / x['both']:>7.0f}" if x["both"] else f"{'n/a':>8} {'n/a':>7}"
        print(f"{x['label']:<{w}} {x['old']:>6} {x['new']:>6} {x['acc']:>9.2f} {n / x['acc']:>7.0f} "
              f"{both} {x['rss']:>13.1f} {x['pss']:>7.1f} {x['procs']:>5} {x['cpu']:>6.2f} "
              f"{1000 * x['cpu'] / n:>7.3f} {x['load']:>8.2f} {x['other']:>6.2f}")
    print()
    by = {x["name"]: x for x in rows}
    if "mailshift" in by and "postfix" in by:
        a, b = by["mailshift"], by["postfix"]
        def ratio(p, q):
            return f"x{p / q:.2f}" if p and q else "n/a"
        print(f"mailshift / Postfix: accept rate {ratio(b['acc'], a['acc'])}   delivered-to-both "
              f"rate {ratio(b['both'], a['both'])}   peak RSS {ratio(a['rss'], b['rss'])} "
              f"(PSS {ratio(a['pss'], b['pss'])})   CPU per message {ratio(a['cpu'], b['cpu'])}")
        print()
    for x in rows:
        if x["at_flag"]:
            print(f"{x['label']}: when smtp-source ended, the old sink held {x['at_flag'][0]} and "
                  f"the new sink {x['at_flag'][1]} messages")
    print()
    print("accept = until smtp-source ended; both = until both sinks held every message "
          "(from the same start); msgs/s = messages / those seconds; peak RSS = mailshift: "
          "VmHWM of its one process, Postfix: largest sum of VmRSS over its processes (sampled "
          "every 0.5 s; PSS = sum of Pss at that sample, shared pages counted once; procs = "
          "processes at that sample); CPU s = user+sys of the relay's processes from idle "
          "until all was delivered; load CPU = smtp-source + both smtp-sinks; other = the rest "
          "of the machine's non-idle CPU meanwhile.")
    busy = [x for x in rows if x["other"] > 0.25 * ncpu * x["wall"]]
    if busy:
        print("WARNING: other work used more than a quarter of the CPUs during the "
              + ", ".join(f"{x['name']} run ({x['other']:.1f} CPU s in {x['wall']:.1f} s)" for x in busy)
              + ": the rates are skewed (CPU per message grows too, less so); rerun on an idle machine.")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "procs":
        print(" ".join(str(p) for p in session_pids(int(args[0]))))
    elif cmd == "cpu":
        sel = int(args[1])
        pids = session_pids(sel, zombies=True) if args[0] == "sid" else [sel]
        print(ticks(pids))
    elif cmd == "monitor":
        monitor(args)
    elif cmd == "verify":
        verify(args)
    elif cmd == "table":
        table(args)
    else:
        sys.exit(f"unknown command {cmd}")
PY

# ---------------------------------------------------------------- peers
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {         # wait_port PORT SECS [PID]: until something accepts on 127.0.0.1:PORT
	local end=$((SECONDS + $2))
	while ! python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),1).close()" 2>/dev/null; do
		if [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; then return 1; fi
		[ $SECONDS -lt "$end" ] || return 1
		sleep 0.1
	done
}
machine_ticks() {     # non-idle ticks of all CPUs since boot
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}
pid_ticks() { python3 "$PY" cpu pid "$1"; }

# sinks_start DIR: smtp-sink "old" and "new", dumping to DIR/sink-old, DIR/sink-new;
# sets OLD_PORT NEW_PORT
sinks_start() {
	local d=$1 name port user=()
	[ "$(id -u)" = 0 ] && user=(-u nobody)
	for name in old new; do
		mkdir -p "$d/sink-$name"
		chmod 0777 "$d/sink-$name"
		port=$(free_port)
		"$SINK" "${user[@]}" -d "$d/sink-$name/%H%M%S." -m 512 "127.0.0.1:$port" 256 \
			>"$d/sink-$name.out" 2>&1 &
		SINK_PIDS+=($!)
		wait_port "$port" 5 $! || die "smtp-sink $name did not start on port $port: $(cat "$d/sink-$name.out")"
		if [ $name = old ]; then OLD_PORT=$port; else NEW_PORT=$port; fi
	done
}

mailshift_start() {   # mailshift_start DIR: config + relay; sets RELAY_PID LISTEN_PORT CPU_SEL
	local d=$1
	LISTEN_PORT=$(free_port)
	printf 'email,old_user,old_password,new_user,new_password\n%s,alice,x,alice,x\n' "$RCPT" >"$d/bench.csv"
	chmod 600 "$d/bench.csv"
	cat >"$d/relay.conf" <<CONF
# mailshift relay for bench/relay_bench.sh (the IMAP URLs are not used by the relay)
[migration]
domains = example.jp
state = sqlite:$d/state.db

[old]
imap = imaps://127.0.0.1:1
smtp = smtp://127.0.0.1:$OLD_PORT
tls = none

[new]
imap = imaps://127.0.0.1:1
smtp = smtp://127.0.0.1:$NEW_PORT
tls = none

[relay]
listen = 127.0.0.1:$LISTEN_PORT
hostname = relay.example.jp
spool = $d/spool
default_phase = old
primary = old
concurrency = $CONC

[group bench]
phase = both
accounts = bench.csv
CONF
	"$MAILSHIFT" relay -c "$d/relay.conf" >"$d/relay.out" 2>"$d/relay.log" &
	RELAY_PID=$!
	wait_port "$LISTEN_PORT" 10 "$RELAY_PID" || {
		tail -n 20 "$d/relay.log" >&2
		die "mailshift relay did not listen on 127.0.0.1:$LISTEN_PORT (log above)"
	}
	CPU_SEL=(pid "$RELAY_PID")
	MON_SEL=(pid "$RELAY_PID")
}

postfix_start() {     # postfix_start DIR: a private instance; sets PF_MASTER LISTEN_PORT CPU_SEL
	local e=$PF/etc
	LISTEN_PORT=$(free_port)
	mkdir -p "$e" "$PF/queue" "$PF/data"
	chown postfix:postfix "$PF/data"
	printf 'example.jp\tsmtp:[127.0.0.1]:%s\nshadow.invalid\tsmtp:[127.0.0.1]:%s\n' \
		"$OLD_PORT" "$NEW_PORT" >"$e/transport"
	printf '%s\t%s\n' "$RCPT" "$SHADOW" >"$e/recipient_bcc"
	cat >"$e/main.cf" <<CF
# Postfix instance for bench/relay_bench.sh: a relay for example.jp that sends every
# message for $RCPT to the old sink and a copy (recipient_bcc_maps) to the new one.
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = relay.example.jp
mydomain = example.jp
myorigin = \$myhostname
mydestination =
local_recipient_maps =
local_transport = error:no local delivery here
alias_maps =
alias_database =
biff = no
mynetworks = 127.0.0.0/8
relay_domains = example.jp
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
transport_maps = texthash:$e/transport
recipient_bcc_maps = texthash:$e/recipient_bcc
default_destination_concurrency_limit = $CONC
smtp_tls_security_level = none
smtpd_tls_security_level = none
CF
	# No chroot (it would need copies of /etc files in the queue directory); only the
	# services a relay uses; postlog for maillog_file.
	cat >"$e/master.cf" <<CF
127.0.0.1:$LISTEN_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CF
	# 'check' creates the queue directories with Postfix's owners and modes. Without a
	# terminal, postfix(1) reports only to maillog_file.
	/usr/sbin/postfix -c "$e" check >"$PF/start.out" 2>&1 || {
		cat "$PF/start.out" "$PF/maillog" >&2 2>/dev/null
		die "postfix -c $e check failed (above)"
	}
	/usr/sbin/postfix -c "$e" start >>"$PF/start.out" 2>&1 || {
		cat "$PF/start.out" "$PF/maillog" >&2 2>/dev/null
		die "postfix -c $e start failed (above)"
	}
	for _ in $(seq 1 50); do
		[ -s "$PF/queue/pid/master.pid" ] && break
		sleep 0.1
	done
	PF_MASTER=$(tr -d ' \n' <"$PF/queue/pid/master.pid" 2>/dev/null || true)
	[[ $PF_MASTER =~ ^[0-9]+$ ]] || die "no master.pid in $PF/queue/pid"
	wait_port "$LISTEN_PORT" 10 || {
		tail -n 20 "$PF/maillog" >&2
		die "Postfix did not listen on 127.0.0.1:$LISTEN_PORT"
	}
	# the master daemon runs setsid(): its pid is the session of every process of the instance
	[ "$(awk '{ sub(/^.*\) /, ""); print $4 }' "/proc/$PF_MASTER/stat")" = "$PF_MASTER" ] ||
		die "Postfix master $PF_MASTER does not lead its own session: CPU and RSS could not be attributed"
	CPU_SEL=(sid "$PF_MASTER")
	MON_SEL=(sid "$PF_MASTER")
}

queue_files() {       # queue_files NAME: message files in the relay's queue
	if [ "$1" = mailshift ]; then
		find "$WORK/mailshift/spool/queue" -type f 2>/dev/null | wc -l
	else
		find "$PF/queue/incoming" "$PF/queue/active" "$PF/queue/deferred" "$PF/queue/hold" \
			"$PF/queue/maildrop" -type f 2>/dev/null | wc -l
	fi
}

# ---------------------------------------------------------------- one run
# run NAME: sinks + relay, the load, the measures (NAME/run.json), the verification
# (NAME/verify.json). Returns 1 when the relay did not deliver and verify all N.
run() {
	local name=$1 d=$WORK/$1 src_rc=0 bad=0 t0 t1 t2 m0 m1 c0 c1 s0 s1 hwm=0 q
	mkdir -p "$d"
	sinks_start "$d"
	if [ "$name" = mailshift ]; then mailshift_start "$d"; else postfix_start; fi
	step "$name: listening on 127.0.0.1:$LISTEN_PORT, sinks old 127.0.0.1:$OLD_PORT, new 127.0.0.1:$NEW_PORT"
	sleep 1   # let it settle (startup work is not part of the run)
	sync      # no run pays for an earlier one's writeback

	python3 "$PY" monitor "${MON_SEL[@]}" "$d/sink-old" "$d/sink-new" "$N" "$d/source.done" \
		"$TIMEOUT" "$d/monitor.json" "${SINK_PIDS[@]}" &
	MON_PID=$!
	c0=$(python3 "$PY" cpu "${CPU_SEL[@]}")
	s0=$(( $(pid_ticks "${SINK_PIDS[0]}") + $(pid_ticks "${SINK_PIDS[1]}") ))
	m0=$(machine_ticks)
	t0=$(date +%s.%N)
	"$TIME" -f '%e %U %S' -o "$d/source.time" "$SOURCE" -s "$SESSIONS" -m "$N" -l "$SIZE" \
		-f "$SENDER" -t "$RCPT" "127.0.0.1:$LISTEN_PORT" >"$d/source.out" 2>&1 &
	SRC_PID=$!
	wait "$SRC_PID" || src_rc=$?
	SRC_PID=
	t1=$(date +%s.%N)
	touch "$d/source.done"
	if [ $src_rc -ne 0 ]; then
		echo "relay bench: $name: smtp-source exited with status $src_rc:" >&2
		tail -n 5 "$d/source.out" >&2
		bad=1
	fi
	step "$name: smtp-source done in $(python3 -c "print(f'{$t1 - $t0:.2f}')") s; waiting for both sinks"
	wait "$MON_PID" || true
	MON_PID=
	# all delivered (or given up): wait for the queue to empty, then read the CPU
	for _ in $(seq 1 100); do
		q=$(queue_files "$name")
		[ "$q" -eq 0 ] && break
		sleep 0.1
	done
	[ "$q" -eq 0 ] || echo "relay bench: $name: $q files still in its queue" >&2
	c1=$(python3 "$PY" cpu "${CPU_SEL[@]}")
	s1=$(( $(pid_ticks "${SINK_PIDS[0]}") + $(pid_ticks "${SINK_PIDS[1]}") ))
	m1=$(machine_ticks)
	t2=$(date +%s.%N)
	if [ "$name" = mailshift ]; then
		hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$RELAY_PID/status" 2>/dev/null || echo 0)
		kill -0 "$RELAY_PID" 2>/dev/null || { echo "relay bench: mailshift relay exited during the run:" >&2; tail -n 20 "$d/relay.log" >&2; bad=1; }
	fi
	sleep 1   # a late duplicate would land now
	if [ "$name" = mailshift ]; then
		relay_stop
		[ "$RELAY_RC" -eq 0 ] || { echo "relay bench: mailshift relay exited with status $RELAY_RC at SIGTERM" >&2; bad=1; }
	else
		pf_stop
	fi
	sinks_stop
	python3 - "$d/run.json" "$t0" "$t1" "$t2" "$src_rc" "$c0" "$c1" "$s1" "$s0" "$m1" "$m0" "$hwm" \
		"$d/source.time" "$d/monitor.json" "$q" <<'PYJ'
import json, sys
a = sys.argv
st = open(a[13]).read().split() if a[13] else []
json.dump({"t0": float(a[2]), "t_source_end": float(a[3]), "t_end": float(a[4]),
           "source_rc": int(a[5]), "cpu_start": int(a[6]), "cpu_end": int(a[7]),
           "sink_ticks": int(a[8]) - int(a[9]), "machine_ticks": int(a[10]) - int(a[11]),
           "hwm_kb": int(a[12] or 0),
           "source_cpu": float(st[-2]) + float(st[-1]) if len(st) >= 3 else 0.0,
           "monitor": json.load(open(a[14])), "queue_left": int(a[15])}, open(a[1], "w"), indent=1)
PYJ
	local end
	end=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"])' "$d/monitor.json")
	[ "$end" = delivered ] || { echo "relay bench: $name: not all delivered ($end)" >&2; bad=1; }

	if python3 "$PY" verify "$name" "$d/sink-old" "$d/sink-new" "$N" "$d/verify.json"; then :; else bad=1; fi
	python3 - "$d/verify.json" "$d/run.json" "$name" <<'PYV'
import json, sys
v = json.load(open(sys.argv[1]))
r = json.load(open(sys.argv[2]))
r["verify"] = v
json.dump(r, open(sys.argv[2], "w"), indent=1)
key = "X-Mailshift-Trace" if sys.argv[3] == "mailshift" else "the Postfix queue id of its Received: header"
o, n = v["old"], v["new"]
if v["ok"]:
    print(f"    verified: old sink {o['files']}, new sink {n['files']} messages, each once; all "
          f"{v['paired']} pairs (by {key}) byte-identical; recipients old {list(o['rcpts'])}, "
          f"new {list(n['rcpts'])}; {o['unique_message_ids']} distinct Message-IDs "
          f"(smtp-source's), the same multiset in both sinks")
else:
    for p in v["problems"]:
        print(f"    FAIL: {p}")
PYV
	return $bad
}

# ---------------------------------------------------------------- main
MAILSHIFT_VERSION=$("$MAILSHIFT" version 2>&1 | head -n 1)
PF_VERSION=$(/usr/sbin/postconf -d -h mail_version 2>/dev/null || echo "?")
FS=$(findmnt -n -o FSTYPE -T "$WORK" 2>/dev/null || stat -f -c %T "$WORK")
step "$N messages, smtp-source -s $SESSIONS -l $SIZE; $MAILSHIFT_VERSION ($MAILSHIFT) and Postfix $PF_VERSION; work dir $WORK ($FS)"
BAD=0
run mailshift || BAD=1
run postfix || BAD=1
python3 "$PY" table "$WORK" "$N" "$SESSIONS" "$SIZE" "$CONC" "$FS" "$MAILSHIFT_VERSION" "$PF_VERSION"
if [ $BAD -ne 0 ]; then
	die "FAILED: a relay did not deliver all $N messages to each sink, or a check failed (above)"
fi
step "both relays delivered all $N messages to each sink, verified"
