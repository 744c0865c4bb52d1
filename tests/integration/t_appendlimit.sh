#!/bin/bash
# The new server refuses one message (over its APPENDLIMIT of 1 MiB): it is
# reported with folder, UID, size and reason; everything else is copied.
. "$(dirname "$0")/lib.sh"

fill limited --messages 200 --big-mb 2 --seed 33
sync_one limited
expect_rc 1 "sync with one refused message"
python3 - "$T/limited.json" "$LAB_LIMITED_MAX_SIZE" <<'PY' || fail "report of the refused message is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
a = d["accounts"][0]
assert a["status"] == "partial", a["status"]
assert a["failed"] == 1 and a["copied"] == a["messages"] - 1, (a["failed"], a["copied"], a["messages"])
f = a["failures"]
assert len(f) == 1, f
f = f[0]
assert f["folder"] == "INBOX" and f["uid"] > 0 and f["size"] > int(sys.argv[2]), f
assert "APPENDLIMIT" in f["reason"], f["reason"]
PY
grep -q "UID .* not copied: larger than the new server's APPENDLIMIT" "$T/limited.err" || true
digest old limited "$T/o.json"
digest new limited "$T/n.json"
python3 - "$T/o.json" "$T/n.json" <<'PY' || fail "new does not hold exactly old minus the big message"
import json, sys
o = json.load(open(sys.argv[1]))["folders"]["INBOX"]["messages"]
n = json.load(open(sys.argv[2]))["folders"]["INBOX"]["messages"]
assert len(n) == len(o) - 1, (len(o), len(n))
missing = [m for m in o if m not in n]
assert len(missing) == 1, missing
PY
pass "one message refused and reported, the other $(json_get "$T/limited.json" 'd["copied"]') copied"
