#!/bin/bash
# Flag updates left in flight by a killed run (lab user flags1).
#
# A sync writes each row whose destination flags it is about to change with
# a flags_base before its UID STORE, and clears it once the STORE is
# confirmed. A run killed in between leaves the row with its base: the
# STORE may or may not have been done. This test builds those states
# exactly (a state row with a base, the destination's flags as the killed
# run left them, the source as it is now) and checks what the next run
# makes of them:
#   A  the STORE (+\Seen) was done, then \Seen was removed again on old:
#      \Seen must go on new (t_kill9 once found it left there for good);
#   B  the STORE (+\Flagged) was not done, old unchanged since: \Flagged
#      must be set on new;
#   C  a first match (base ""), new has a keyword of its own: it stays.
# Then the rows are confirmed (no base left), a rerun changes nothing, and
# old and new digests are equal except C's own keyword.
. "$(dirname "$0")/lib.sh"

U=flags1
STATE="sqlite:$T/state.db"
fill $U --messages 40 --seed 31 --folders "INBOX,INBOX.Flags"
sync_one $U --state "$STATE"
expect_rc 0 "first sync"
compare_user $U "$T/$U.json"

mut old list old-list.json --folder INBOX
mut new list new-list.json --folder INBOX
# Three messages of INBOX and their UIDs on both sides (by content).
python3 - "$T/old-list.json" "$T/new-list.json" >"$T/pick.sh" <<'PY'
import json, shlex, sys
old = json.load(open(sys.argv[1]))["messages"]
new = {m["sha256"]: m for m in json.load(open(sys.argv[2]))["messages"]}
cand = [m for m in old if m["sha256"] in new and "\\Seen" not in m["flags"]
        and "\\Flagged" not in m["flags"] and "$NewOnly" not in m["flags"]]
if len(cand) < 3:
    sys.exit("fewer than 3 suitable messages in INBOX")
for k, m in zip("ABC", cand[:3]):
    print(f"{k}_OLD={m['uid']} {k}_NEW={new[m['sha256']]['uid']} "
          f"{k}_FLAGS={shlex.quote(' '.join(m['flags']))}")
PY
. "$T/pick.sh"
flagset() { python3 -c 'import sys; print(" ".join(sorted(set(" ".join(sys.argv[1:]).split()))))' "$@"; }

# A: killed after its STORE of \Seen landed; \Seen removed on old since.
mut new setflags a-new.json --folder INBOX --uid "$A_NEW" --flags "$(flagset "$A_FLAGS" '\Seen')"
# B: journal written, STORE never made; old has \Flagged.
mut old setflags b-old.json --folder INBOX --uid "$B_OLD" --flags "$(flagset "$B_FLAGS" '\Flagged')"
# C: a first match being given the source's flags; new has a keyword of its own.
mut new setflags c-new.json --folder INBOX --uid "$C_NEW" --flags "$(flagset "$C_FLAGS" '$NewOnly')"
python3 - "$T/state.db" "$A_OLD" "$(flagset "$A_FLAGS" '\Seen')" "$A_FLAGS" \
	"$B_OLD" "$(flagset "$B_FLAGS" '\Flagged')" "$B_FLAGS" "$C_OLD" "$C_FLAGS" <<'PY'
import sqlite3, sys
db, a, a_s1, a_base, b, b_s1, b_base, c, c_s1 = sys.argv[1:]
con = sqlite3.connect(db)
fid = con.execute("SELECT id FROM folders WHERE src_name = 'INBOX'").fetchone()[0]
for uid, s1, base in ((a, a_s1, a_base), (b, b_s1, b_base), (c, c_s1, "")):
    n = con.execute("UPDATE messages SET src_flags = ?, dst_flags = ?, flags_base = ? "
                    "WHERE folder_id = ? AND src_uid = ?", (s1, s1, base, fid, int(uid))).rowcount
    assert n == 1, f"no state row for INBOX UID {uid}"
con.commit()
PY

sync_one $U --state "$STATE"
expect_rc 0 "sync after the simulated kill"
mut new list new-after.json --folder INBOX
python3 - "$T/new-after.json" "$A_NEW" "$A_FLAGS" "$B_NEW" "$(flagset "$B_FLAGS" '\Flagged')" \
	"$C_NEW" "$(flagset "$C_FLAGS" '$NewOnly')" <<'PY' || fail "flags on new after the run"
import json, sys
got = {m["uid"]: " ".join(m["flags"]) for m in json.load(open(sys.argv[1]))["messages"]}
bad = []
for what, uid, want in (("A (STORE landed, source changed back)", sys.argv[2], sys.argv[3]),
                        ("B (STORE never made)", sys.argv[4], sys.argv[5]),
                        ("C (first match, new's own keyword)", sys.argv[6], sys.argv[7])):
    if got.get(int(uid)) != want:
        bad.append(f"{what}: new UID {uid} has [{got.get(int(uid))}], expected [{want}]")
print("\n".join(bad), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
pass "in-flight flag rows reconciled with new's real flags (A cleared, B set, C's own keyword kept)"

left=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM messages WHERE flags_base IS NOT NULL").fetchone()[0])' "$T/state.db")
[ "$left" = 0 ] || fail "$left rows still carry a flags_base after a complete run"
sync_one $U --state "$STATE"
expect_rc 0 "rerun"
upd=$(json_get "$T/$U.json" 'sum(a["flags_updated"] for a in d["accounts"])')
[ "$upd" = 0 ] || fail "rerun updated flags of $upd messages"
# Equal to old once C's own keyword is gone again.
mut new setflags c-back.json --folder INBOX --uid "$C_NEW" --flags "$C_FLAGS"
compare_user $U "$T/$U.json"
pass "rows confirmed, rerun changes nothing, digests equal"
