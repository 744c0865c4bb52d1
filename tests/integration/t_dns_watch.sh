#!/bin/bash
# `mailshift dns watch` against five real NSD servers (lab/dns.sh) acting as the resolvers of a
# cutover: all start in state both (MX mx.old-host.test, TTL 300); during the watch servers 1
# and 2 switch to the new MX, then 3, 4 and 5. The watch must print each server's change as it
# happens (the lines for 1 and 2 are already out before 3 switches), exit 0 right after the
# last switch, and exit 1 at --timeout when one server stays old. Also: exit 4 when nothing
# answers, exit 2 without an expected host, text output. Skipped, saying so, without nsd.
. "$(dirname "$0")/lib.sh"

NSD=${NSD:-$(command -v nsd || echo /usr/sbin/nsd)}
export NSD
if [ ! -x "$NSD" ]; then
	echo "skipped: nsd is not installed (Debian package nsd; scripts/deps.sh check installs it)"
	exit 0
fi

DNS=$TOP/lab/dns.sh
L=$T/dns
WPID=
cleanup_watch() {
	[ -n "$WPID" ] && kill "$WPID" 2>/dev/null
	"$DNS" stop "$L" >/dev/null 2>&1 || true
	return 0
}
trap cleanup_watch EXIT

unset DNS_SERVERS DNS_COUNT
"$DNS" start "$L" >"$T/start.out" 2>&1 || { cat "$T/start.out" >&2; fail "dns.sh start failed"; }
# shellcheck disable=SC1091
. "$L/dns.env"
RES=()
for s in $DNS_SERVERS; do RES+=(--resolver "$s"); done
[ ${#RES[@]} = 10 ] || fail "expected 5 servers, got: $DNS_SERVERS"

sw() {   # sw WHICH STATE
	"$DNS" switch "$L" "$1" "$2" >>"$T/switch.out" 2>&1 || { cat "$T/switch.out" >&2; fail "switch $1 $2"; }
}
# lines FILE: number of change events so far
changes() { grep -c '"event":"change"' "$1" 2>/dev/null || true; }
# wait_changes FILE N: until FILE holds N change events (10 s at most)
wait_changes() {
	local i
	for i in $(seq 100); do
		[ "$(changes "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	cat "$1" >&2
	fail "$1: fewer than $2 change events after 10 s"
}

sw all both
now() { date +%s.%N; }

# ---------------------------------------------------------------- run 1: 2 then 3 switch, exit 0

W=$T/w1
"$MAILSHIFT" dns watch "${RES[@]}" --domain migration.test --expect mx.new-host.test \
	--interval 1 --timeout 60 --json >"$W.out" 2>"$W.err" &
WPID=$!
wait_changes "$W.out" 5          # the first poll: every server's answer
sleep 2
s12_0=$(now)
sw 1 new
sw 2 new
s12_1=$(now)
sleep 2.5
cp "$W.out" "$W.before3"         # what was printed before server 3 switched
s35_0=$(now)
sw 3 new
sw 4 new
sw 5 new
s35_1=$(now)
rc=0
wait "$WPID" || rc=$?
end=$(now)
WPID=
[ $rc = 0 ] || { cat "$W.out" "$W.err" >&2; fail "watch exited $rc after every server switched, expected 0"; }

# shellcheck disable=SC2086 # one argument per server
python3 - "$W.out" "$W.before3" "$s12_0" "$s12_1" "$s35_0" "$s35_1" "$end" $DNS_SERVERS <<'PY' ||
import json, sys
out, before3 = sys.argv[1], sys.argv[2]
s12_0, s12_1, s35_0, s35_1, end = map(float, sys.argv[3:8])
servers = sys.argv[8:]
ev = [json.loads(l) for l in open(out)]
ch = [e for e in ev if e["event"] == "change"]
summ = [e for e in ev if e["event"] == "summary"]
def die(m):
    print("FAIL:", m, file=sys.stderr)
    for e in ev: print(json.dumps(e), file=sys.stderr)
    sys.exit(1)
if len(summ) != 1 or ev[-1] is not summ[0]: die("not exactly one summary, last")
first, later = ch[:5], ch[5:]
for e, s in zip(first, servers):
    if (e["resolver"], e["previous"], e["answer"], e["ttl"], e["converged"], e["status"]) != \
       (s, None, ["10 mx.old-host.test"], 300, False, "NOERROR"):
        die(f"first poll of {s}: {e}")
    if e["authoritative"] is not True or e["converged_resolvers"] != 0 or e["resolvers"] != 5:
        die(f"first poll counts of {s}: {e}")
    # an authoritative TTL of 300: the bound is the poll time + 300
    if e["eta"] != e["time"] + 300 or not e["eta_authoritative"]:
        die(f"ETA of the first poll: {e}")
if len(later) != 5: die(f"{len(later)} changes after the first poll, expected 5 (one per server)")
for e in later:
    if e["previous"]["answer"] != ["10 mx.old-host.test"] or e["answer"] != ["10 mx.new-host.test"] \
       or not e["converged"] or e["domain"] != "migration.test" or e["record"] != "MX":
        die(f"change is not old -> new: {e}")
order = [e["resolver"] for e in later]
if sorted(order[:2]) != sorted(servers[:2]) or sorted(order[2:]) != sorted(servers[2:]):
    die(f"changes in the wrong order: {order}")
# when: each change is seen by the first poll after its switch (1 s interval, whole seconds)
for e in later[:2]:
    if not (int(s12_0) <= e["time"] <= s12_1 + 2.5): die(f"change of {e['resolver']} at {e['time']}, switched {s12_0}..{s12_1}")
    if e["converged_resolvers"] not in (1, 2): die(f"count {e}")
for e in later[2:]:
    if not (int(s35_0) <= e["time"] <= s35_1 + 2.5): die(f"change of {e['resolver']} at {e['time']}, switched {s35_0}..{s35_1}")
    if e["converged_resolvers"] < 3: die(f"count {e}")
if later[-1]["converged_resolvers"] != 5 or later[-1]["eta"] is not None: die(f"last change {later[-1]}")
# printed as they happened: the switches of 1 and 2 were on the output before 3 switched
b3 = [json.loads(l) for l in open(before3)]
got = sorted(e["resolver"] for e in b3 if e["event"] == "change" and e["previous"])
if got != sorted(servers[:2]): die(f"before server 3 switched the output had changes of {got}")
s = summ[0]
if s["result"] != "converged" or s["converged_resolvers"] != 5 or s["expect"] != "mx.new-host.test":
    die(f"summary {s}")
if len(s["states"]) != 5 or not all(x["converged"] for x in s["states"]): die(f"summary states {s}")
# exit 0 promptly after the last switch: within the interval plus a poll
if end - s35_1 > 3: die(f"exited {end - s35_1:.1f} s after the last switch")
PY
	fail "run 1 output"
pass "5 servers, 1+2 then 3+4+5 switched during the watch: a change line each as it happened, exit 0 $(python3 -c "print(f'{$end - $s35_1:.1f}')") s after the last switch"

# ---------------------------------------------------------------- run 2: server 5 stays old

sw all both
last=${DNS_SERVERS##* }
W=$T/w2
t0=$(now)
"$MAILSHIFT" dns watch "${RES[@]}" --domain migration.test --expect mx.new-host.test \
	--interval 1 --timeout 5 --json >"$W.out" 2>"$W.err" &
WPID=$!
wait_changes "$W.out" 5
for i in 1 2 3 4; do sw $i new; done
rc=0
wait "$WPID" || rc=$?
t1=$(now)
WPID=
[ $rc = 1 ] || { cat "$W.out" "$W.err" >&2; fail "watch with server 5 old exited $rc, expected 1"; }
python3 - "$W.out" "$t0" "$t1" "$last" <<'PY' ||
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
t0, t1, last = float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
def die(m):
    print("FAIL:", m, file=sys.stderr)
    for e in ev: print(json.dumps(e), file=sys.stderr)
    sys.exit(1)
s = ev[-1]
if s["event"] != "summary" or s["result"] != "timeout" or s["converged_resolvers"] != 4: die(f"summary {s}")
behind = [x for x in s["states"] if not x["converged"]]
if [x["resolver"] for x in behind] != [last] or behind[0]["answer"] != ["10 mx.old-host.test"]:
    die(f"not converged: {behind}")
if any(e["event"] == "change" and e["resolver"] == last and e["previous"] for e in ev):
    die(f"a change reported for {last}, which never switched")
if not (4.5 <= t1 - t0 <= 9): die(f"exited after {t1 - t0:.1f} s with --timeout 5")
PY
	fail "run 2 output"
pass "server 5 kept the old MX: exit 1 at --timeout 5 ($(python3 -c "print(f'{$t1 - $t0:.1f}')") s), 4/5 converged, $last named"

# ---------------------------------------------------------------- text, no answer, usage

sw 5 new
rc=0
"$MAILSHIFT" dns watch "${RES[@]}" --domain migration.test --expect MX.New-Host.Test. \
	--interval 1 --timeout 10 >"$T/text.out" 2>"$T/text.err" || rc=$?
[ $rc = 0 ] || { cat "$T/text.out" "$T/text.err" >&2; fail "text run exited $rc"; }
[ "$(grep -c ' migration.test MX: 10 mx.new-host.test (TTL 300, authoritative)  converged' "$T/text.out")" = 5 ] ||
	{ cat "$T/text.out" >&2; fail "text: not 5 converged lines"; }
grep -q '^all 5 resolvers answer mx.new-host.test for every domain (1 polls' "$T/text.out" ||
	{ cat "$T/text.out" >&2; fail "text: no final line"; }
pass "text output: a line per server, converged at the first poll"

# a port nothing listens on (bound, then closed)
dead=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rc=0
"$MAILSHIFT" dns watch --resolver "127.0.0.1:$dead" --domain migration.test --expect mx.new-host.test \
	--interval 1 >"$T/dead.out" 2>"$T/dead.err" || rc=$?
[ $rc = 4 ] || { cat "$T/dead.out" "$T/dead.err" >&2; fail "no answer: exit $rc, expected 4"; }
grep -q "127.0.0.1:$dead  migration.test: \(TIMEOUT\|SERVFAIL\)" "$T/dead.err" ||
	{ cat "$T/dead.err" >&2; fail "no answer: the resolver is not named"; }
pass "nothing answering: exit 4, naming 127.0.0.1:$dead"

rc=0
(cd "$T" && "$MAILSHIFT" dns watch "${RES[@]}" --domain migration.test) >"$T/usage.out" 2>"$T/usage.err" || rc=$?
[ $rc = 2 ] || fail "no expected host and no configuration: exit $rc, expected 2"
rc=0
"$MAILSHIFT" dns watch "${RES[@]}" --domain 'exa..mple.test' --expect mx.new-host.test >/dev/null 2>"$T/usage.err" || rc=$?
[ $rc = 2 ] && grep -q "exa..mple.test" "$T/usage.err" || fail "bad domain: exit $rc"
rc=0
"$MAILSHIFT" dns watch "${RES[@]}" --domain migration.test --expect x --interval 0 >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "--interval 0: exit $rc"

# the configuration: domains, [dns] resolvers and the host of [new] smtp
cat >"$T/ms.conf" <<EOF
[migration]
domains = migration.test
[new]
smtp = smtp://mx.new-host.test:25
[dns]
resolvers = ${DNS_SERVERS// /, }
EOF
rc=0
"$MAILSHIFT" dns watch -c "$T/ms.conf" --interval 1 --timeout 10 --json >"$T/conf.out" 2>"$T/conf.err" || rc=$?
[ $rc = 0 ] || { cat "$T/conf.out" "$T/conf.err" >&2; fail "watch from the configuration: exit $rc"; }
[ "$(changes "$T/conf.out")" = 5 ] && grep -q '"expect":"mx.new-host.test"' "$T/conf.out" ||
	{ cat "$T/conf.out" >&2; fail "watch from the configuration: output"; }
pass "usage errors exit 2; domains, resolvers and expected host from the configuration"

# --spf: the SPF record is reported too, and does not hold back convergence
sw 1 old
W=$T/spf
"$MAILSHIFT" dns watch "${RES[@]}" --domain migration.test --expect mx.new-host.test --spf \
	--interval 1 --timeout 20 --json >"$W.out" 2>"$W.err" &
WPID=$!
wait_changes "$W.out" 10
sw 1 new
rc=0
wait "$WPID" || rc=$?
WPID=
[ $rc = 0 ] || { cat "$W.out" "$W.err" >&2; fail "--spf run: exit $rc"; }
python3 - "$W.out" "${DNS_SERVERS%% *}" <<'PY' ||
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
first = sys.argv[2]
def die(m):
    print("FAIL:", m, file=sys.stderr)
    for e in ev: print(json.dumps(e), file=sys.stderr)
    sys.exit(1)
spf = [e for e in ev if e["event"] == "change" and e["record"] == "SPF"]
old, both = "v=spf1 ip4:192.0.2.10 -all", "v=spf1 ip4:192.0.2.10 ip4:198.51.100.20 -all"
if len(spf) != 6: die(f"{len(spf)} SPF changes, expected 5 first answers and 1 switch")
if [e["answer"] for e in spf if e["resolver"] == first] != [[old], [both]]: die("SPF of server 1")
if any(e["answer"] != [both] for e in spf[:5] if e["resolver"] != first): die("SPF of 2..5")
if "converged" in spf[0]: die("an SPF event claims convergence")
s = ev[-1]
if s["result"] != "converged" or len(s["states"]) != 10: die(f"summary {s}")
PY
	fail "--spf output"
pass "--spf: SPF answers and the switch of server 1 reported; MX alone decides the exit"
