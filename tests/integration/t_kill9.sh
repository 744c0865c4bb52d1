#!/bin/bash
# Resume after kill -9 (lab user kill1).
#
# 5,000 corpus messages (no big attachment) are copied by `sync --delete
# --state` runs that are killed with SIGKILL at KILLS (20) random moments,
# each run restarted after the previous one was killed. Once new has
# everything, old gets 100 new messages, 30 flag changes and 10 expunges
# before each further run, so that kills keep landing in the middle of real
# work (a copy, a flag update, an expunge, a state write): work that a
# killed run recorded as done but had not done would be lost for good.
# Sleeps are random between 0.2 s and the expected length of the run
# (adapted: shortened to the sleep when a run finished before its kill,
# lengthened when a run was killed, faster when it had copied nothing).
# Then one uninterrupted run must exit 0, a rerun must copy nothing, the
# digests of old and new must be equal folder for folder (multiset-exact: a
# duplicate on new shows, so do lost flag changes and expunges), and
# `verify` must exit 0.
# Prints where the kills landed: mid-copy (the run had copied some messages,
# some were still to copy), before the run copied anything, or after every
# message was copied (flag updates, expunges, state writes); fails if fewer
# than 3 landed mid-copy (the schedule would not have tested resuming).
#
# Knobs: KILLS (20), KILL_SEED (random; printed, replays the schedule),
# KILL_BUDGET_SECS (240: the kill loop stops early after that),
# KILL_T_EST (3.0: first guess, in seconds, of a full run).
. "$(dirname "$0")/lib.sh"

U=kill1
STATE="sqlite:$T/state.db"
KILLS=${KILLS:-20}
BUDGET=${KILL_BUDGET_SECS:-240}
SEED=${KILL_SEED:-$RANDOM}
T_HI=${KILL_T_EST:-3.0}
echo "  kill schedule: KILL_SEED=$SEED KILLS=$KILLS"

count() { # count SIDE [KEY]: messages in the account (total), or UIDs used (uids_used)
	mut "$1" count "count-$1.json"
	json_get "$T/count-$1.json" "d['${2:-total}']"
}
py() { python3 -c "import random; r = random.Random('$SEED:$1'); $2"; }
alive() { # processes that use this test's state file (none may outlive its kill)
	pgrep -a -f -- "$STATE" || true
}

fill $U --messages 5000 --seed 9000
total_old=$(count old)
[ "$total_old" -ge 5000 ] || fail "fill: only $total_old messages on old"
# Copy progress is counted in APPENDs on new (UIDs used: an expunge does not give one
# back); everything is copied once new has used as many UIDs as old ever had messages.
need=$total_old

folders=("INBOX" "INBOX.取引先.2024" "INBOX.Sent" "INBOX.アーカイブ" "INBOX.個人 &メモ")
mid=0 before=0 late=0 early=0 complete=0 prev_used=0
loop_start=$SECONDS
# Up to 3 × KILLS runs: a run that finishes before its kill does not count;
# the loop ends when KILLS kills have landed in a running sync.
for i in $(seq 1 $((KILLS * 3))); do
	if (( mid + before + late >= KILLS )); then
		break
	fi
	if (( SECONDS - loop_start > BUDGET )); then
		echo "  time budget of ${BUDGET}s reached after $((i - 1)) runs"
		break
	fi
	if [ $complete = 1 ]; then
		mut old add "add-$i.json" --folder "${folders[$((i % ${#folders[@]}))]}" --count 100 --seed "k9-$i"
		mut old flags "flags-$i.json" --count 30 --seed "k9-$i"
		mut old expunge "expunge-$i.json" --count 10 --seed "k9-$i"
		total_old=$((total_old + 90))
		need=$((need + 100))
	fi
	delay=$(py "$i" "print(f'{r.uniform(0.2, max(0.3, $T_HI)):.2f}')")
	# A simple command, so that $! is mailshift itself (a function or subshell would
	# get the SIGKILL instead, and mailshift would run on next to the next run).
	"$MAILSHIFT" sync --json \
		--old "imaps://$U@127.0.0.1:$OLD_IMAPS_PORT" --old-password-file "$(pw $U)" \
		--new "imaps://$U@127.0.0.1:$NEW_IMAPS_PORT" --new-password-file "$(pw $U)" \
		--ca-file "$LAB_CA" --state "$STATE" --delete >"$T/run-$i.json" 2>"$T/run-$i.err" &
	pid=$!
	sleep "$delay"
	kill -KILL "$pid" 2>/dev/null || true
	rc=0
	wait "$pid" 2>/dev/null || rc=$?   # (2>/dev/null: no "Killed" job notice)
	left=$(alive)
	[ -z "$left" ] || fail "run $i: still running after SIGKILL and wait: $left"
	used=$(count new uids_used)
	if [ $rc = 137 ]; then
		if [ "$used" -ge "$need" ]; then
			late=$((late + 1))
			what="after every message was copied ($used of $need)"
		elif [ "$used" -gt "$prev_used" ]; then
			mid=$((mid + 1))
			what="mid-copy: $used of $need copied (+$((used - prev_used)) in this run)"
		else
			before=$((before + 1))
			what="before this run copied anything ($used of $need copied)"
			T_HI=$(python3 -c "print(min(30.0, max($T_HI * 1.5, $delay * 1.5)))")
		fi
		T_HI=$(python3 -c "print(min(30.0, max($T_HI, $delay * 1.3)))")
	elif [ $rc = 0 ]; then
		early=$((early + 1))
		what="the run finished by itself first"
		T_HI=$(python3 -c "print(max(0.4, $delay))")
	else
		cat "$T/run-$i.err" >&2
		fail "run $i ended by itself with exit $rc (killed runs end with 137, finished ones with 0)"
	fi
	[ "$used" -ge "$need" ] && complete=1
	echo "  run $i, SIGKILL at ${delay}s: $what"
	prev_used=$used
done
echo "  kills that landed mid-copy: $mid; before a run copied anything: $before;" \
	"after every message was copied: $late; runs that finished before their kill: $early"
[ $mid -ge 3 ] || fail "only $mid kills landed mid-copy: the schedule did not test resuming (set KILL_T_EST lower?)"

RC=0
timeout 300 "$MAILSHIFT" sync --json \
	--old "imaps://$U@127.0.0.1:$OLD_IMAPS_PORT" --old-password-file "$(pw $U)" \
	--new "imaps://$U@127.0.0.1:$NEW_IMAPS_PORT" --new-password-file "$(pw $U)" \
	--ca-file "$LAB_CA" --state "$STATE" --delete >"$T/$U.json" 2>"$T/$U.err" || RC=$?
expect_rc 0 "final uninterrupted sync --delete --state"
sync_one $U --state "$STATE" --delete
expect_rc 0 "rerun after the final sync"
[ "$(json_get "$T/$U.json" 'd["copied"]')" = 0 ] || fail "rerun copied $(json_get "$T/$U.json" 'd["copied"]') messages"
compare_user $U "$T/$U.json"
pass "after $((mid + before + late)) kills: $total_old messages, digests equal (no duplicate, nothing missing, flags equal, expunged gone)"

RC=0
"$MAILSHIFT" verify --json \
	--old "imaps://$U@127.0.0.1:$OLD_IMAPS_PORT" --old-password-file "$(pw $U)" \
	--new "imaps://$U@127.0.0.1:$NEW_IMAPS_PORT" --new-password-file "$(pw $U)" \
	--ca-file "$LAB_CA" >"$T/verify.json" 2>"$T/verify.err" || RC=$?
[ "$RC" = 0 ] || { head -c 2000 "$T/verify.json"; cat "$T/verify.err" >&2; fail "verify exit $RC, expected 0"; }
[ "$(json_get "$T/verify.json" 'd["missing"]')" = 0 ] || fail "verify reports missing messages"
pass "verify: exit 0"
