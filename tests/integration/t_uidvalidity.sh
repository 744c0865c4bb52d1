#!/bin/bash
# UIDVALIDITY repair (lab user uidv1).
#
# After a first `sync --state`, folders are re-created behind mailshift's
# back (the same messages, flags and dates APPENDed back, in a shuffled
# order, under a new UIDVALIDITY: what a restore from backup or a server
# move does). Every UID mailshift remembers for that folder is then stale,
# and because of the shuffle a stale UID now names another message: an
# engine that trusts it copies, flags or expunges the wrong messages.
#   1. old INBOX.取引先.2024 re-created, then 5 new messages there, flags
#      removed from 4 messages and added to 4: `sync --delete --state`
#      copies exactly those 5 (no re-copy, nothing expunged), digests equal
#      (no duplicate; flags right, removals included).
#   2. new アーカイブ re-created (the state is stale for the NEW side), then
#      in old INBOX.アーカイブ 7 new messages, flags removed from 5 and added
#      to 5: sync copies exactly 7, digests equal.
# Removals matter: a message matched again by identity must get old's flags,
# not the union of both sides' (the new side's extra flag is stale, not the
# user's: it was old's flag at the last sync).
#   3. INBOX.取引先.2025 re-created on old AND 取引先/2025 on new, no other
#      change: sync copies nothing, digests equal.
# Finally `verify` exits 0. All syncs run with --delete: a UIDVALIDITY change
# must never be mistaken for "every message was expunged".
. "$(dirname "$0")/lib.sh"

U=uidv1
STATE="sqlite:$T/state.db"

# expect_copied N [OLD-FOLDER]: the last sync copied N messages (in that folder, and in all)
# and expunged nothing.
expect_copied() {
	python3 - "$T/$U.json" "$1" "${2:-}" <<'PY' || fail "sync copied or expunged the wrong number of messages"
import json, sys
d = json.load(open(sys.argv[1]))
want, folder = int(sys.argv[2]), sys.argv[3]
fs = [f for a in d["accounts"] for f in a["folders"]]
bad = []
if d["copied"] != want:
    bad.append(f"copied {d['copied']} messages in all, expected {want}: "
               + ", ".join(f"{f['old']}={f['copied']}" for f in fs if f["copied"]))
if folder:
    got = sum(f["copied"] for f in fs if f["old"] == folder)
    if got != want:
        bad.append(f"copied {got} into the folder of {folder}, expected {want}")
exp = [f"{f['old']}={f['expunged']}" for f in fs if f.get("expunged")]
if exp:
    bad.append("expunged on new: " + ", ".join(exp) + " (nothing was expunged on old)")
if bad:
    print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
}
recreated() { # recreated OUT: one line about a mutate.py recreate report
	json_get "$T/$1" '"%s: %d messages, UIDVALIDITY %d -> %d, %d of them under another UID" % (d["folder"], d["count"], d["uidvalidity_before"], d["uidvalidity_after"], sum(1 for o, n in d["uid_map"].items() if int(o) != n))'
}

fill $U --messages 600 --seed 606
sync_one $U --state "$STATE"
expect_rc 0 "first sync --state"
compare_user $U "$T/$U.json"
pass "first sync: $(json_get "$T/$U.json" 'd["copied"]') messages, digests equal"

# --- 1. a folder re-created on old
F1="INBOX.取引先.2024"
mut old recreate rec1.json --folder "$F1" --shuffle --seed uv1
mut old add add1.json --folder "$F1" --count 5 --seed uv-add1
mut old flags flags1r.json --folder "$F1" --count 4 --op remove --seed uv-flags1
mut old flags flags1a.json --folder "$F1" --count 4 --op add --seed uv-flags1
echo "  old $(recreated rec1.json); then +5 messages, flags removed from 4, added to 4"
sync_one $U --state "$STATE" --delete
expect_rc 0 "sync after $F1 was re-created on old"
expect_copied 5 "$F1"
compare_user $U "$T/$U.json"
pass "old folder re-created: only the 5 new messages copied, nothing expunged, digests equal"

# --- 2. a folder re-created on new
F2="INBOX.アーカイブ"
F2_NEW=$(json_get "$T/$U-map.json" "d['$F2']")
mut new recreate rec2.json --folder "$F2_NEW" --shuffle --seed uv2
mut old add add2.json --folder "$F2" --count 7 --seed uv-add2
mut old flags flags2r.json --folder "$F2" --count 5 --op remove --seed uv-flags2
mut old flags flags2a.json --folder "$F2" --count 5 --op add --seed uv-flags2
echo "  new $(recreated rec2.json); then old $F2: +7 messages, flags removed from 5, added to 5"
sync_one $U --state "$STATE" --delete
expect_rc 0 "sync after $F2_NEW was re-created on new"
expect_copied 7 "$F2"
compare_user $U "$T/$U.json"
pass "new folder re-created: only the 7 new messages copied, nothing expunged, digests equal"

# --- 3. the same folder re-created on both sides
F3="INBOX.取引先.2025"
F3_NEW=$(json_get "$T/$U-map.json" "d['$F3']")
mut old recreate rec3o.json --folder "$F3" --shuffle --seed uv3o
mut new recreate rec3n.json --folder "$F3_NEW" --shuffle --seed uv3n
echo "  old $(recreated rec3o.json)"
echo "  new $(recreated rec3n.json)"
sync_one $U --state "$STATE" --delete
expect_rc 0 "sync after $F3 was re-created on both sides"
expect_copied 0 "$F3"
compare_user $U "$T/$U.json"
pass "folder re-created on both sides: nothing copied, nothing expunged, digests equal"

RC=0
"$MAILSHIFT" verify --json \
	--old "imaps://$U@127.0.0.1:$OLD_IMAPS_PORT" --old-password-file "$(pw $U)" \
	--new "imaps://$U@127.0.0.1:$NEW_IMAPS_PORT" --new-password-file "$(pw $U)" \
	--ca-file "$LAB_CA" >"$T/verify.json" 2>"$T/verify.err" || RC=$?
[ "$RC" = 0 ] || { head -c 2000 "$T/verify.json"; cat "$T/verify.err" >&2; fail "verify exit $RC, expected 0"; }
[ "$(json_get "$T/verify.json" 'd["missing"]')" = 0 ] || fail "verify reports missing messages"
pass "verify: exit 0"
