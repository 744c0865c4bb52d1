#!/bin/bash
# A server that refuses a message without advertising APPENDLIMIT (stock
# Dovecot: NO [LIMIT]): the MULTIAPPEND holding it is refused as a whole,
# redone one message per APPEND, and only the big message fails, with the
# server's own words. Runs its own lab (stock behaviour needs a restart).
. "$(dirname "$0")/lib.sh"

lab2=$T/lab2
trap '"$TOP/lab/lab.sh" stop "$lab2" >/dev/null 2>&1 || true' EXIT
(
	unset OLD_IMAP_PORT OLD_IMAPS_PORT NEW_IMAP_PORT NEW_IMAPS_PORT
	LAB_ADVERTISE_APPENDLIMIT=no "$TOP/lab/lab.sh" start "$lab2" >/dev/null
)
# shellcheck disable=SC1091
. "$lab2/lab.env"

# The big message in a folder among many small ones, so it shares a batch.
fill limited --messages 150 --big-mb 2 --seed 44 --folders "INBOX.Projects"
sync_one limited --batch 50
expect_rc 1 "sync with one refused message"
python3 - "$T/limited.json" <<'PY' || { cat "$T/limited.json"; fail "refusal not reported as expected"; }
import json, sys
a = json.load(open(sys.argv[1]))["accounts"][0]
assert a["failed"] == 1, a["failed"]
assert a["copied"] == a["messages"] - 1, (a["copied"], a["messages"])
f = a["failures"][0]
assert f["folder"] == "INBOX.Projects", f
assert "NO" in f["reason"] and "LIMIT" in f["reason"] and "maximum size" in f["reason"], f["reason"]
PY
pass "stock-Dovecot refusal: batch redone singly, one message failed with the server's words"
