#!/bin/bash
# The issue's acceptance copy: 5,000+ messages in 13 folders (Japanese and
# nested names, flags and keywords, ISO-2022-JP and UTF-8, messages without
# Message-ID, duplicates, a 20 MB attachment) over IMAPS; the per-folder
# digest of new (sha256 of each message, flags, internal date) must equal
# old's under the folder mapping. A rerun copies nothing.
. "$(dirname "$0")/lib.sh"

fill big --messages 5000 --big-mb 20 --seed 5000
sync_one big
expect_rc 0 "first sync"
[ "$(json_get "$T/big.json" 'd["copied"]')" = 5002 ] || fail "copied $(json_get "$T/big.json" 'd["copied"]') of 5002"
compare_user big "$T/big.json"
pass "5002 messages copied, digests equal"

# The mapping the issue names, checked by hand rather than trusted.
for pair in "INBOX.取引先.2024=取引先/2024" "INBOX.Sent=Sent" "INBOX.迷惑メール=Junk" \
	    "INBOX.Trash=Trash" "INBOX.Drafts=Drafts" "INBOX.Projects.Alpha=Projects/Alpha" \
	    "INBOX=INBOX" "INBOX.個人 &メモ=個人 &メモ"; do
	o=${pair%%=*} n=${pair#*=}
	got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/big-map.json" "$o")
	[ "$got" = "$n" ] || fail "folder '$o' went to '$got', expected '$n'"
done
pass "folder mapping"

# Folders are subscribed on new.
python3 - "$NEW_IMAPS_PORT" "$LAB_CA" "$(pw big)" <<'PY' || fail "folders not subscribed on new"
import sys
sys.path.insert(0, __import__("os").environ["TOP"] + "/tests/tools")
import imaputil
c = imaputil.connect("127.0.0.1", int(sys.argv[1]), "imaps", sys.argv[2], "big", open(sys.argv[3]).read().strip())
names = {f.name for f in imaputil.list_folders(imaputil.Session(c), subscribed=True)}
want = {"INBOX", "Sent", "Junk", "取引先", "取引先/2024", "Projects/Alpha", "個人 &メモ"}
missing = want - names
if missing:
    print("not subscribed:", missing); sys.exit(1)
PY
pass "target folders subscribed"

sync_one big
expect_rc 0 "second sync"
[ "$(json_get "$T/big.json" 'd["copied"]')" = 0 ] || fail "rerun copied again"
[ "$(json_get "$T/big.json" 'd["skipped"]')" = 5002 ] || fail "rerun did not recognise all 5002"
compare_user big "$T/big.json"
pass "rerun copies nothing, still equal"
