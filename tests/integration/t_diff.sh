#!/bin/bash
# The differential sync scenario of issue 3 (lab user diff1).
#
# old gets ~1,000 corpus messages and a first `sync --state` copies them.
# Then, behind mailshift's back, old changes the way a working mailbox does:
# 200 new messages, flags changed on 300, 50 expunged, a new folder with 40
# messages, a folder with two subfolders renamed (INBOX.Projects ->
# INBOX.旧Projects); and 150 messages are delivered to BOTH servers' INBOX
# (100 by the relay, with one X-Mailshift-Trace header, 10% without
# Message-ID; 50 by a Postfix bcc, no trace, the same Message-ID and body, or
# for 10% no Message-ID: then only body + Date/From/Subject tell), each copy
# with its own Received lines, size and arrival date, read (\Seen) on old only.
# `sync --delete --state` must then leave new holding every message of old
# exactly once, folder for folder: byte-identical with the same flags and
# date, except the 150 dual-delivered ones, where new keeps its OWN copy
# (identity, not bytes) and takes old's flags (\Seen); nothing expunged on
# old is left on new; the renamed folders exist on new under the new names
# (subscribed) and the old names are gone (not selectable, not subscribed).
# A --dry-run before it changes nothing on new; a rerun after it changes
# nothing. `verify` exits 0; after one message is expunged on new behind
# mailshift's back, `verify` exits 1 and its JSON names that message (old
# folder, UID on old, Message-ID).
. "$(dirname "$0")/lib.sh"

U=diff1
STATE="sqlite:$T/state.db"

# dual STYLE COUNT OUT [options]: deliver to both servers' INBOX, mark read on old
dual() {
	python3 "$TOOLS/mutate.py" dual-deliver --old-port "$OLD_IMAPS_PORT" --new-port "$NEW_IMAPS_PORT" \
		--cafile "$LAB_CA" --user "$U" --password-file "$(pw "$U")" --folder INBOX \
		--style "$1" --count "$2" --seed "diff-$1" --mark-read-on-old --json "${@:4}" >"$T/$3" 2>"$T/$3.log" ||
		{ cat "$T/$3.log" >&2; fail "mutate.py dual-deliver --style $1 failed"; }
}
counters() { # counters SYNC.json: the per-run counters, for the log
	python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
fs = [f for a in d["accounts"] for f in a["folders"]]
keys = ["copied", "skipped", "matched", "flags_updated", "expunged"]
print("  sync counters: " + ", ".join(f"{k}={sum(f.get(k) or 0 for f in fs)}" if any(k in f for f in fs)
                                       else f"{k}=(absent)" for k in keys))
PY
}

# --- 1. fill old, first differential sync
fill $U --messages 1000 --seed 31
sync_one $U --state "$STATE"
expect_rc 0 "first sync --state"
compare_user $U "$T/$U.json"
cp "$T/$U-map.json" "$T/map1.json"
pass "first sync: $(json_get "$T/$U.json" 'd["copied"]') messages copied, digests equal"

# --- 2. old changes behind mailshift's back
mut old add add1.json --folder INBOX --count 120 --seed diff-add1
mut old add add2.json --folder "INBOX.取引先.2025" --count 50 --seed diff-add2
mut old add add3.json --folder "INBOX.Sent" --count 30 --seed diff-add3
mut old flags flags.json --count 300 --seed diff-flags
mut old expunge expunge.json --count 50 --seed diff-expunge
mut old create create.json --folder "INBOX.新規案件" --count 40 --seed diff-create
mut old rename rename.json --from "INBOX.Projects" --to "INBOX.旧Projects"
dual relay 100 dual-relay.json
dual bcc 50 dual-bcc.json --without-message-id 10
pass "old changed: +200 messages, 300 flag changes, 50 expunged, folder created (40), INBOX.Projects (+2 subfolders) renamed; 150 dual-delivered (100 relay, 50 bcc), read on old"

# --- 3. a dry run changes nothing on new
digest new $U "$T/new-before-dry.json"
sync_one $U --state "$STATE" --delete --dry-run
expect_rc 0 "sync --delete --dry-run"
digest new $U "$T/new-after-dry.json"
python3 "$TOOLS/digest.py" compare "$T/new-before-dry.json" "$T/new-after-dry.json" --strict-extra \
	>"$T/dry-compare.txt" || { cat "$T/dry-compare.txt" >&2; fail "--dry-run changed the new server"; }
pass "--dry-run: new unchanged"

# --- 4. the differential sync
sync_one $U --state "$STATE" --delete
expect_rc 0 "sync --delete --state"
counters "$T/$U.json"
digest old $U "$T/old2.json"
digest new $U "$T/new2.json"
map_from_json "$T/$U.json" "$T/map2.json" $U
mut new folders folders-new.json

cat >"$T/check.py" <<'PY'
# check.py OLD NEW MAP MAP1 FOLDERS-NEW RENAME EXPUNGE DUAL...: is new what old says it must be?
import json, sys
from collections import Counter

old = json.load(open(sys.argv[1]))["folders"]
new = json.load(open(sys.argv[2]))["folders"]
mp = json.load(open(sys.argv[3]))
map1 = json.load(open(sys.argv[4]))
fnew = {f["name"]: f for f in json.load(open(sys.argv[5]))["folders"]}
rename = json.load(open(sys.argv[6]))
expunged = json.load(open(sys.argv[7]))["messages"]
duals = [m for p in sys.argv[8:] for m in json.load(open(p))["messages"]]
dual_old = {m["old_sha256"]: m for m in duals}
dual_new = {m["new_sha256"]: m for m in duals}
gone_sha = {m["sha256"] for m in expunged}
problems = []   # per-folder details
summary = []    # one line each, printed first

def who(m):
    return f"{m['style']} #{m['index']} trace={m['trace']} Message-ID={m['message_id']} subject={m['subject']!r}"

# Every old folder was synced; map entries for folders old no longer has are ignored.
targets = {}
for o in sorted(old):
    n = mp.get(o)
    if n is None:
        summary.append(f"old folder {o!r} ({old[o]['count']} messages) is not in the sync JSON")
    else:
        targets.setdefault(n, []).append(o)

def key(e, dual_map):
    sha, flags, date = e
    if sha in dual_map:          # dual-delivered: identity + flags, any date
        return ("dual", dual_map[sha]["index"], dual_map[sha]["style"], tuple(flags))
    return (sha, tuple(flags), date)

seen_dual = Counter()
for n in sorted(targets):
    if n not in new:
        summary.append(f"new folder {n!r} (from {targets[n]}) does not exist or is not selectable")
        continue
    want = Counter(key(e, dual_old) for o in targets[n] for e in old[o]["messages"])
    have = Counter(key(e, dual_new) for e in new[n]["messages"])
    for e in new[n]["messages"]:
        if e[0] in dual_new:
            seen_dual[e[0]] += 1
    missing, extra = want - have, have - want
    lines = []
    for k in missing.elements():
        if k[0] == "dual":
            m = next(x for x in duals if x["index"] == k[1] and x["style"] == k[2])
            other = [h for h in have if h[:3] == k[:3]]
            if other:
                lines.append(f"dual-delivered {who(m)}: new's copy has flags {list(other[0][3])}, old has {list(k[3])}")
            elif any(e[0] == m["old_sha256"] for e in new[n]["messages"]):
                lines.append(f"dual-delivered {who(m)}: new's own copy is gone, old's bytes are there instead")
            else:
                lines.append(f"dual-delivered {who(m)}: new's own copy is missing")
            continue
        sha, flags, date = k
        same = [h for h in extra if h[0] == sha]
        if same:
            lines.append(f"{sha[:16]}: flags/date on new {list(same[0][1])}/{same[0][2]}, on old {list(flags)}/{date}")
        else:
            lines.append(f"{sha[:16]} flags={list(flags)} date={date}: on old, missing on new")
    for k in extra.elements():
        if k[0] == "dual":
            continue  # a flag difference (above) or a second copy (counted below)
        sha, flags, date = k
        if any(h[0] == sha for h in missing):
            continue  # reported above
        if sha in dual_old:
            lines.append(f"old's copy of dual-delivered {who(dual_old[sha])} was copied to new: duplicate")
        elif sha in gone_sha:
            lines.append(f"{sha[:16]} was expunged on old but is still on new")
        elif any(h[0] == sha for h in want):
            lines.append(f"{sha[:16]}: on new {have[k]} times, on old {want[k]} times (duplicate)")
        else:
            lines.append(f"{sha[:16]} flags={list(flags)} date={date}: on new only")
    if lines:
        problems.append(f"{n} (from {' + '.join(targets[n])}): {sum(missing.values())} missing, "
                        f"{sum(extra.values())} extra on new")
        problems += ["    " + x for x in lines[:12]]
        if len(lines) > 12:
            problems.append(f"    ... and {len(lines) - 12} more")

# Dual-delivered: once each on new, as new's own copy, with old's flags (\Seen).
not_once = [m for m in duals if seen_dual[m["new_sha256"]] != 1]
if not_once:
    m = not_once[0]
    summary.append(f"{len(not_once)} dual-delivered messages are not on new exactly once as new's own "
                   f"copy: first {who(m)} ({seen_dual[m['new_sha256']]} times)")
n_old_copies = sum(1 for f in new.values() for e in f["messages"] if e[0] in dual_old)
if n_old_copies:
    summary.append(f"{n_old_copies} of old's copies of dual-delivered messages are on new (duplicates)")
unread = [m for m in duals for f in new.values() for e in f["messages"]
          if e[0] == m["new_sha256"] and "\\Seen" not in e[1]]
if unread:
    summary.append(f"{len(unread)} dual-delivered messages are not \\Seen on new (read on old): first {who(unread[0])}")

# Expunged on old: not on new more often than old still holds the same bytes.
left = []
for m in expunged:
    o_cnt = sum(1 for f in old for e in old[f]["messages"] if e[0] == m["sha256"])
    n_cnt = sum(1 for f in new for e in new[f]["messages"] if e[0] == m["sha256"])
    if n_cnt > o_cnt:
        left.append(f"{m['folder']} UID {m['uid']} {m['message_id']} (on new {n_cnt}x, on old {o_cnt}x)")
if left:
    summary.append(f"{len(left)} of {len(expunged)} messages expunged on old are still on new: "
                   + "; ".join(left[:3]) + (" ..." if len(left) > 3 else ""))

# Renamed folders: new names there and subscribed; old names gone from new.
for r in rename["folders"]:
    gone_name, now_name = map1.get(r["from"]), mp.get(r["to"])
    if gone_name in new:
        summary.append(f"{r['from']} was renamed on old, but {gone_name!r} is still a folder on new "
                        f"({new[gone_name]['count']} messages)")
    if gone_name in fnew and fnew[gone_name]["subscribed"]:
        summary.append(f"{gone_name!r} (renamed away on old) is still subscribed on new")
    if now_name is None or now_name not in fnew or not fnew[now_name]["subscribed"]:
        summary.append(f"{r['to']} (renamed on old) is not a subscribed folder on new (mapped to {now_name!r})")

# Nothing else on new: non-empty folders no old folder maps to.
for n in sorted(new):
    if n not in targets and new[n]["count"]:
        summary.append(f"new folder {n!r} holds {new[n]['count']} messages but no old folder maps to it")

if summary or problems:
    print("\n".join(summary + problems))
    sys.exit(1)
print(f"  {len(targets)} folders equal; {len(duals)} dual-delivered kept once as new's own copy, "
      f"\\Seen; {len(expunged)} expunged gone; {len(rename['folders'])} renamed folders moved")
PY
python3 "$T/check.py" "$T/old2.json" "$T/new2.json" "$T/map2.json" "$T/map1.json" \
	"$T/folders-new.json" "$T/rename.json" "$T/expunge.json" "$T/dual-relay.json" "$T/dual-bcc.json" \
	>"$T/check.txt" || { head -80 "$T/check.txt" >&2; fail "new is not what old says after sync --delete"; }
cat "$T/check.txt"
# The folder mapping of the new folders, checked by hand rather than trusted.
for pair in "INBOX.新規案件=新規案件" "INBOX.旧Projects=旧Projects" "INBOX.旧Projects.Alpha=旧Projects/Alpha" \
	    "INBOX.旧Projects.Beta=旧Projects/Beta"; do
	o=${pair%%=*} n=${pair#*=}
	got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]))' "$T/map2.json" "$o")
	[ "$got" = "$n" ] || fail "folder '$o' went to '$got', expected '$n'"
done
pass "after sync --delete: every message of old on new exactly once, flags and dates equal, dual-delivered matched by identity"

# --- 5. a rerun changes nothing
sync_one $U --state "$STATE" --delete
expect_rc 0 "rerun of sync --delete"
[ "$(json_get "$T/$U.json" 'd["copied"]')" = 0 ] || fail "rerun copied $(json_get "$T/$U.json" 'd["copied"]') messages"
digest new $U "$T/new3.json"
python3 "$TOOLS/digest.py" compare "$T/new2.json" "$T/new3.json" --strict-extra >"$T/rerun-compare.txt" ||
	{ cat "$T/rerun-compare.txt" >&2; fail "a rerun changed the new server"; }
pass "rerun: nothing copied, new unchanged"

# --- 6. verify
verify_one verify-ok.json
[ "$RC" = 0 ] || { head -c 3000 "$T/verify-ok.json"; cat "$T/verify-ok.err" >&2; fail "verify exit $RC after a complete sync, expected 0"; }
python3 - "$T/verify-ok.json" <<'PY' || fail "verify JSON after a complete sync is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
bad = []
if d["missing"] != 0 or d["exit"] != 0:
    bad.append(f"missing={d['missing']} exit={d['exit']}")
for a in d["accounts"]:
    if a["status"] != "ok":
        bad.append(f"account {a['account']} status {a['status']}")
    for f in a["folders"]:
        for k in ("missing", "duplicates", "flag_mismatches"):
            if f.get(k):
                bad.append(f"{f['old']} -> {f['new']}: {k} {f[k][:3]}")
        if f["old_count"] > f["new_count"]:
            bad.append(f"{f['old']}: old_count {f['old_count']} > new_count {f['new_count']}")
if bad:
    print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
pass "verify: exit 0, nothing missing, no duplicates, no flag mismatches"

# --- 7. one message expunged on new behind mailshift's back
victim_old="INBOX.取引先.2024"
victim_new=$(json_get "$T/map2.json" "d['$victim_old']")
mut old list list-old.json --folder "$victim_old"
mut new list list-new.json --folder "$victim_new"
read -r old_uid new_uid msgid < <(python3 - "$T/list-old.json" "$T/list-new.json" <<'PY'
import json, sys
from collections import Counter
o = json.load(open(sys.argv[1]))["messages"]
n = json.load(open(sys.argv[2]))["messages"]
shas = Counter(m["sha256"] for m in o)
mids = Counter(m["message_id"] for m in o)
for m in o:  # a message with a Message-ID and bytes that are unique in the folder
    if m["message_id"] and mids[m["message_id"]] == 1 and shas[m["sha256"]] == 1:
        hit = [x for x in n if x["sha256"] == m["sha256"]]
        if len(hit) == 1:
            print(m["uid"], hit[0]["uid"], m["message_id"])
            break
else:
    sys.exit("no suitable message")
PY
)
[ -n "${msgid:-}" ] || fail "found no message to delete in $victim_old"
mut new delete-one delete-one.json --folder "$victim_new" --uid "$new_uid"
verify_one verify-missing.json
[ "$RC" = 1 ] || { head -c 3000 "$T/verify-missing.json"; cat "$T/verify-missing.err" >&2; fail "verify exit $RC with a message missing on new, expected 1"; }
python3 - "$T/verify-missing.json" "$victim_old" "$old_uid" "$msgid" <<'PY' || fail "verify JSON does not name the missing message"
import json, sys
d = json.load(open(sys.argv[1]))
folder, uid, mid = sys.argv[2], int(sys.argv[3]), sys.argv[4].strip("<>")
bad = []
if d["missing"] != 1 or d["exit"] != 1:
    bad.append(f"missing={d['missing']} exit={d['exit']}, expected 1 and 1")
a = d["accounts"][0]
if a["status"] != "missing":
    bad.append(f"account status {a['status']!r}, expected 'missing'")
for f in a["folders"]:
    if f["old"] == folder:
        got = [(m["uid"], (m["message_id"] or "").strip("<>")) for m in f["missing"]]
        if got != [(uid, mid)]:
            bad.append(f"{folder}: missing {got}, expected [({uid}, {mid!r})]")
    elif f["missing"]:
        bad.append(f"{f['old']}: missing {f['missing'][:3]}, expected none")
if not any(f["old"] == folder for f in a["folders"]):
    bad.append(f"no folder entry for {folder}")
if bad:
    print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
pass "verify after expunging $victim_new UID $new_uid on new: exit 1, names $victim_old UID $old_uid $msgid"
