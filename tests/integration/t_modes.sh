#!/bin/bash
# The other modes of the differential sync: --dry-run changes nothing,
# --reverse copies new → old, --watch keeps going and stops cleanly on
# SIGTERM, --jobs runs accounts in parallel, and a rerun with nothing new
# does not even list the folders.
. "$(dirname "$0")/lib.sh"

u=watch1
fill $u --messages 200 --seed 91
st="sqlite:$T/state.db"

# --dry-run on a fresh target: reports, changes nothing (not even the state).
sync_one $u --state "$st" --dry-run
expect_rc 0 "dry run"
python3 - "$T/$u.json" <<'PY' || fail "dry run did not report what it would do"
import json, sys
d = json.load(open(sys.argv[1]))
w = [x["would"] for x in d["would"]]
assert any(x.startswith("copy ") for x in w), w
assert any(x.startswith("create folder") for x in w), w
assert d["copied"] == 0, d["copied"]
PY
digest new $u "$T/dry-new.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["folders"]; assert sum(f["count"] for f in d.values())==0, d' "$T/dry-new.json" ||
	fail "--dry-run copied something"
[ ! -s "$T/state.db" ] || python3 - "$T/state.db" <<'PY' || fail "--dry-run wrote the state"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
n = c.execute("select count(*) from messages").fetchone()[0]
assert n == 0, n
PY
pass "--dry-run reports and changes nothing"

sync_one $u --state "$st"
expect_rc 0 "first sync"
compare_user $u "$T/$u.json"

# Nothing new: every folder is skipped unlisted (CONDSTORE) and nothing copied.
sync_one $u --state "$st"
python3 - "$T/$u.json" <<'PY' || fail "an unchanged account was scanned again"
import json, sys
a = json.load(open(sys.argv[1]))["accounts"][0]
assert a["copied"] == 0
assert all(f["unchanged"] for f in a["folders"]), [f["old"] for f in a["folders"] if not f["unchanged"]]
PY
pass "rerun with nothing new: all folders unchanged"

# --reverse: mail that exists only on new goes back to old (rollback).
python3 "$TOOLS/mutate.py" add --port "$NEW_IMAPS_PORT" --cafile "$LAB_CA" --user $u \
	--password-file "$(pw $u)" --folder "取引先/2025" --count 7 --seed 92 >/dev/null
sync_one $u --state "$st" --reverse
expect_rc 0 "reverse sync"
[ "$(json_get "$T/$u.json" 'd["copied"]')" = 7 ] || { cat "$T/$u.json"; fail "reverse copied $(json_get "$T/$u.json" 'd["copied"]') instead of 7"; }
RC=0
"$MAILSHIFT" verify --old "imaps://$u@127.0.0.1:$OLD_IMAPS_PORT" --old-password-file "$(pw $u)" \
	--new "imaps://$u@127.0.0.1:$NEW_IMAPS_PORT" --new-password-file "$(pw $u)" \
	--ca-file "$LAB_CA" --json >"$T/v.json" 2>"$T/v.err" || RC=$?
expect_rc 0 "verify after reverse"
python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["accounts"][0]; assert a["only_on_new"]==0, a["only_on_new"]' "$T/v.json" ||
	fail "after --reverse new still has messages old lacks"
pass "--reverse copied the 7 new-only messages back to old (in INBOX.取引先.2025)"

# --watch 120: between passes it IDLEs on INBOX, so new mail is copied within
# seconds, long before the 120 s are up; SIGTERM ends it.
"$MAILSHIFT" sync --old "imaps://$u@127.0.0.1:$OLD_IMAPS_PORT" --old-password-file "$(pw $u)" \
	--new "imaps://$u@127.0.0.1:$NEW_IMAPS_PORT" --new-password-file "$(pw $u)" \
	--ca-file "$LAB_CA" --state "$st" --watch 120 >"$T/watch.out" 2>"$T/watch.err" &
wpid=$!
for _ in $(seq 100); do grep -q '^pass 1 ' "$T/watch.out" && break; sleep 0.1; done
sleep 1.5   # the IDLE is set up right after the pass line
python3 "$TOOLS/mutate.py" add --port "$OLD_IMAPS_PORT" --cafile "$LAB_CA" --user $u \
	--password-file "$(pw $u)" --folder INBOX --count 5 --seed 93 >/dev/null
ok=0
for _ in $(seq 30); do
	sleep 1
	if grep -q "5 copied" "$T/watch.out"; then ok=1; break; fi
done
kill -TERM $wpid
RC=0
wait $wpid || RC=$?
[ $ok = 1 ] || { cat "$T/watch.out" "$T/watch.err"; fail "--watch did not copy the new messages"; }
[ "$RC" = 0 ] || { cat "$T/watch.err"; fail "--watch ended with $RC after SIGTERM"; }
[ "$(grep -c '^pass ' "$T/watch.out")" -ge 2 ] || fail "--watch printed no line per pass"
pass "--watch 120 woke up on new mail (IDLE), copied it within seconds, stopped cleanly on SIGTERM"

# --jobs: three accounts in parallel from a config, one state file.
for x in verify1; do fill $x --messages 60 --seed 94; done
cfg=$T/jobs.conf
printf '[migration]\nstate = sqlite:%s/jobs.db\n[old]\nimap = imaps://127.0.0.1:%s\nca_file = %s\n[new]\nimap = imaps://127.0.0.1:%s\nca_file = %s\n[sync]\njobs = 3\n[group g]\naccounts = g.csv\n' \
	"$T" "$OLD_IMAPS_PORT" "$LAB_CA" "$NEW_IMAPS_PORT" "$LAB_CA" >"$cfg"
{
	echo "email,old_user,old_password,new_user,new_password"
	for x in verify1 $u alice; do
		echo "$x@example.co.jp,$x,$(cat "$(pw $x)"),$x,$(cat "$(pw $x)")"
	done
} >"$T/g.csv"
chmod 600 "$T/g.csv"
RC=0
"$MAILSHIFT" sync -c "$cfg" --json >"$T/jobs.json" 2>"$T/jobs.err" || RC=$?
expect_rc 0 "--jobs 3"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["accounts"])==3 and all(a["status"]=="ok" for a in d["accounts"]), d' "$T/jobs.json" ||
	fail "not every account synced"
compare_user verify1 "$T/jobs.json"   # account names are verify1@...
pass "--jobs 3: three accounts in parallel, all ok"

# verify --fix: a message deleted on new behind mailshift's back is copied again.
V() { # V [options]: verify watch1, JSON in $T/v.json, exit status in RC
	RC=0
	"$MAILSHIFT" verify --old "imaps://$u@127.0.0.1:$OLD_IMAPS_PORT" --old-password-file "$(pw $u)" \
		--new "imaps://$u@127.0.0.1:$NEW_IMAPS_PORT" --new-password-file "$(pw $u)" \
		--ca-file "$LAB_CA" --json "$@" >"$T/v.json" 2>"$T/v.err" || RC=$?
}
python3 "$TOOLS/mutate.py" delete-one --port "$NEW_IMAPS_PORT" --cafile "$LAB_CA" --user $u \
	--password-file "$(pw $u)" --folder Sent --nth 3 >/dev/null
V
expect_rc 1 "verify after a deletion on new"
V --fix
expect_rc 0 "verify --fix"
[ "$(json_get "$T/v.json" 'd["accounts"][0]["fixed"]')" = 1 ] || fail "--fix did not copy exactly one message"
V
expect_rc 0 "verify after --fix"
pass "verify --fix copied the missing message back"

# verify --dedupe: an extra copy on new is listed, and removed only with --yes.
python3 - "$NEW_IMAPS_PORT" "$LAB_CA" "$(pw $u)" $u <<'PY' || fail "could not plant a duplicate"
import sys, os
sys.path.insert(0, os.environ["TOP"] + "/tests/tools")
import imaputil
port, ca, pwf, user = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
c = imaputil.connect("127.0.0.1", port, "imaps", ca, user, open(pwf).read().strip())
c.select('"Projects/Alpha"')
typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[] INTERNALDATE FLAGS)")
body = data[0][1]
c.append('"Projects/Alpha"', None, None, body)
c.logout()
PY
V --dedupe
expect_rc 0 "verify --dedupe (a duplicate is not a missing message)"
[ "$(json_get "$T/v.json" 'd["accounts"][0]["duplicates"]')" = 1 ] || fail "the duplicate was not found"
[ "$(json_get "$T/v.json" 'd["accounts"][0]["removed"]')" = 0 ] || fail "--dedupe without --yes removed something"
V --dedupe --yes
[ "$(json_get "$T/v.json" 'd["accounts"][0]["removed"]')" = 1 ] || fail "--dedupe --yes did not remove the duplicate"
V
[ "$(json_get "$T/v.json" 'd["accounts"][0]["duplicates"]')" = 0 ] || fail "the duplicate is still there"
expect_rc 0 "verify after --dedupe --yes"
pass "verify --dedupe lists an extra copy and removes it only with --yes"

# --max-messages-per-second paces the copy (a lower bound only: a slow
# machine makes it slower, never faster).
python3 "$TOOLS/mutate.py" add --port "$OLD_IMAPS_PORT" --cafile "$LAB_CA" --user $u \
	--password-file "$(pw $u)" --folder INBOX --count 60 --seed 95 >/dev/null
start=$(date +%s.%N)
sync_one $u --state "$st" --max-messages-per-second 20
expect_rc 0 "paced sync"
took=$(python3 -c "print($(date +%s.%N) - $start)")
[ "$(json_get "$T/$u.json" 'd["copied"]')" = 60 ] || fail "paced sync copied $(json_get "$T/$u.json" 'd["copied"]')/60"
python3 -c "import sys; sys.exit(0 if $took >= 2.5 else 1)" || fail "60 messages at 20/s took only ${took}s"
pass "--max-messages-per-second 20: 60 messages took ${took}s (at least 3 s expected)"
