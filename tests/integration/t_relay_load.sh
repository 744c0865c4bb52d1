#!/bin/bash
# The relay under load, crashes and a dead destination (smtp-sink peers).
#
# 1. 10,000 messages from Postfix's smtp-source (20 sessions) to a recipient
#    in phase both: each sink gets all 10,000, once, pairs with the same
#    X-Mailshift-Trace.
# 2. 10,000 messages from tests/tools/smtp_load.py (20 sessions; it records
#    the queue id of every 250 and resends what got none, as an MTA does:
#    smtp-source gives up when its connection is lost) while the relay is
#    killed with SIGKILL 5 times and restarted: every message answered 250
#    reaches both sinks; a message in a sink more than once is one that was
#    requeued at a restart (logged), nothing else.
# 3. The new sink down for 60 s during 3,000 messages from smtp-source: old
#    (the primary) gets every message while new is down, new gets them all
#    after it returns, and the counters show the deferrals.
# Knobs: LOAD_N (10000), LOAD_DOWN_SECS (60).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay_lib.sh"

N=${LOAD_N:-10000}
DOWN=${LOAD_DOWN_SECS:-60}
cleanup_relay() {
	if [ -n "${RELAY_PID:-}" ]; then kill -KILL "$RELAY_PID" 2>/dev/null || true; fi
	if [ -n "${LOAD_PID:-}" ]; then kill -KILL "$LOAD_PID" 2>/dev/null || true; fi
	sink_stop old; sink_stop new
	return 0
}
trap cleanup_relay EXIT

sink_start old
sink_start new
RELAY_CONCURRENCY=10 relay_conf
relay_start

# --- 1. smtp-source, 10,000 messages ---------------------------------------------
t0=$(date +%s.%N)
smtp-source -s 20 -m "$N" -l 2000 -f load@load.test -t alice@example.jp \
	"127.0.0.1:$RELAY_PORT" >"$T/source1.out" 2>&1 || { cat "$T/source1.out"; fail "smtp-source failed"; }
t1=$(date +%s.%N)
wait_until 300 queue_empty || fail "queue not empty 300 s after the load"
t2=$(date +%s.%N)
python3 - "$T/sink-old" "$T/sink-new" "$N" <<'PY' || fail "part 1: sinks differ"
import collections, subprocess, sys
def traces(d):
    out = subprocess.run([sys.executable, "tests/tools/sinkdump.py", "traces", d],
                         capture_output=True, text=True, check=True).stdout.split()
    return collections.Counter(out[0::2])
o, n, want = traces(sys.argv[1]), traces(sys.argv[2]), int(sys.argv[3])
assert None not in o and "None" not in o, "a copy without trace header"
assert len(o) == want and len(n) == want, (len(o), len(n))
assert set(o) == set(n), "trace ids differ between the sinks"
dup = [t for t, c in list(o.items()) + list(n.items()) if c > 1]
assert not dup, f"{len(dup)} duplicates without any restart: {dup[:3]}"
PY
rate=$(python3 -c "print(f'{$N / ($t1 - $t0):.0f} msgs/s accepted, {$N / ($t2 - $t0):.0f} msgs/s delivered to both')")
pass "smtp-source: $N messages, 20 sessions: each sink got all $N once, paired by trace id ($rate)"

# --- 2. SIGKILL 5 times under load -------------------------------------------------
rm -rf "$T/sink-old" "$T/sink-new"
sink_stop old; sink_stop new
sink_start old; sink_start new
python3 "$TOOLS/smtp_load.py" --port "$RELAY_PORT" --count "$N" --sessions 20 \
	--to alice@example.jp --deadline 900 --json "$T/load2.json" >"$T/load2.out" 2>&1 &
LOAD_PID=$!
for k in 1 2 3 4 5; do
	sleep "$(python3 -c 'import random; print(random.uniform(1.5, 4))')"
	kill -0 "$LOAD_PID" 2>/dev/null || fail "the load ended before SIGKILL $k (LOAD_N too small?)"
	kill -KILL "$RELAY_PID" 2>/dev/null || true
	wait "$RELAY_PID" 2>/dev/null || true
	echo "  SIGKILL $k at $(date +%T): $(grep -c ': received' "$T/relay.log") messages received so far"
	sleep 0.3
	relay_start
done
wait "$LOAD_PID" || { cat "$T/load2.out"; fail "the load generator did not get all $N messages accepted"; }
LOAD_PID=
wait_until 300 queue_empty || fail "queue not empty 300 s after the load"
python3 - "$T/load2.json" "$T/sink-old" "$T/sink-new" "$T/relay.log" <<'PY' || fail "part 2: lost or unexplained messages"
import collections, json, re, subprocess, sys
acc = json.load(open(sys.argv[1]))["accepted"]
def traces(d):
    out = subprocess.run([sys.executable, "tests/tools/sinkdump.py", "traces", d],
                         capture_output=True, text=True, check=True).stdout.split()
    return collections.Counter(out[0::2])
o, n = traces(sys.argv[2]), traces(sys.argv[3])
requeued = set(re.findall(r"relay: ([0-9A-Z]{20}): requeued at start", open(sys.argv[4]).read()))
ids = [a["id"] for a in acc]
lost_o = [i for i in ids if i not in o]
lost_n = [i for i in ids if i not in n]
unexplained = [t for c in (o, n) for t, k in c.items() if k > 1 and t not in requeued]
dups = sum(k - 1 for c in (o, n) for k in c.values())
print(f"  250s: {len(ids)}; old: {sum(o.values())} copies of {len(o)} messages, "
      f"new: {sum(n.values())} of {len(n)}; extra copies {dups}, all of requeued messages: "
      f"{not unexplained}; messages queued without a 250 seen by the client: "
      f"{len(set(o) - set(ids))}")
assert not lost_o and not lost_n, f"lost: old {lost_o[:3]} new {lost_n[:3]}"
assert not unexplained, f"duplicates not explained by a requeue: {unexplained[:3]}"
PY
kills=$(grep -c "requeued at start" "$T/relay.log" || true)
pass "5 × SIGKILL under load: every message answered 250 reached both sinks; zero lost ($kills requeued deliveries)"

# --- 3. new down for DOWN seconds ---------------------------------------------------
rm -rf "$T/sink-old" "$T/sink-new"
sink_stop old; sink_stop new
sink_start old; sink_start new
"$MAILSHIFT" status -c "$T/relay.conf" --json >"$T/status-before.json"
sink_stop new
down_at=$SECONDS
M=$((N * 3 / 10))
smtp-source -s 20 -m "$M" -l 2000 -f load@load.test -t bob@example.jp \
	"127.0.0.1:$RELAY_PORT" >"$T/source3.out" 2>&1 || { cat "$T/source3.out"; fail "smtp-source (new down) failed"; }
wait_until 60 sink_more old $((M - 1)) || fail "old (primary) did not get all $M while new was down"
old_done=$((SECONDS - down_at))
[ "$(sink_count new)" = 0 ] || fail "new got messages while down?"
sleep 2   # the relay's "queued" gauge in the store is updated once a second
"$MAILSHIFT" status -c "$T/relay.conf" --json >"$T/status-down.json"
gauge=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT value FROM relay_counters WHERE dest = ? AND name = ?", ("new", "queued")).fetchone()[0])' "$T/state.db")
[ "$gauge" = "$M" ] || fail "the store's queued gauge for new is $gauge, expected $M"
python3 - "$T/status-down.json" "$M" <<'PY' || fail "counters while new is down"
import json, sys
r = json.load(open(sys.argv[1]))["relay"]
c, m = r["counters"], int(sys.argv[2])
assert c["new"]["queued"] == m and c["old"]["queued"] == 0, c
assert c["new"]["deferred"] >= 1, c
print(f"  while new is down: queued new={c['new']['queued']} old={c['old']['queued']}, "
      f"deferred attempts on new so far {c['new']['deferred']}")
PY
sleep $((DOWN - (SECONDS - down_at) > 0 ? DOWN - (SECONDS - down_at) : 0))
SINK_PORT_new=$SINK_PORT_new sink_start new
back_at=$SECONDS
wait_until 300 queue_empty || fail "queue not empty 300 s after new came back"
[ "$(sink_count new)" = "$M" ] || fail "new got $(sink_count new) of $M after it came back"
[ "$(sink_count old)" = "$M" ] || fail "old got $(sink_count old) copies of $M (duplicates?)"
"$MAILSHIFT" status -c "$T/relay.conf" --json >"$T/status-after.json"
python3 - "$T/status-before.json" "$T/status-after.json" "$M" <<'PY' || fail "counters"
import json, sys
b = json.load(open(sys.argv[1]))["relay"]["counters"]
a = json.load(open(sys.argv[2]))["relay"]["counters"]
m = int(sys.argv[3])
d = lambda dest, k: a.get(dest, {}).get(k, 0) - b.get(dest, {}).get(k, 0)
assert d("new", "deferred") >= 1, ("deferrals on new", d("new", "deferred"))
assert d("old", "deferred") == 0, ("deferrals on old", d("old", "deferred"))
assert d("new", "delivered") == m and d("old", "delivered") == m, a
assert a["new"]["queued"] == 0 and a["old"]["queued"] == 0, a
print(f"  counters: new deferred +{d('new', 'deferred')}, delivered +{d('new', 'delivered')}; old deferred +0")
PY
pass "new down ${DOWN}s: old had all $M after ${old_done}s, new got all $M $((SECONDS - back_at))s after it returned, deferrals counted"

relay_stop
[ "$RELAY_RC" = 0 ] || fail "relay exit $RELAY_RC on SIGTERM"
