#!/bin/bash
# Config mode: every account of every group from the CSVs; one account's
# failure (a wrong password) does not stop the others; --group/--account.
. "$(dirname "$0")/lib.sh"

fill carol --messages 80 --seed 55
fill alice --messages 40 --seed 56 --folders "INBOX.Config-Test"
cfg=$T/mailshift.conf
{
	echo "[migration]"
	echo "domains = example.co.jp"
	echo "state = sqlite:$T/state.db"
	echo "[old]"
	echo "imap = imaps://127.0.0.1:$OLD_IMAPS_PORT"
	echo "ca_file = $LAB_CA"
	echo "[new]"
	echo "imap = imap://127.0.0.1:$NEW_IMAP_PORT   ; STARTTLS"
	echo "ca_file = $LAB_CA"
	echo "[group sales]"
	echo "phase = old"
	echo "accounts = sales.csv"
	echo "[group dev]"
	echo "phase = old"
	echo "accounts = dev.csv"
} >"$cfg"
{
	echo "email,old_user,old_password,new_user,new_password"
	echo "carol@example.co.jp,carol,$(cat "$(pw carol)"),carol,$(cat "$(pw carol)")"
	echo "alice@example.co.jp,alice,$(cat "$(pw alice)"),alice,$(cat "$(pw alice)")"
} >"$T/sales.csv"
{
	echo "email,old_user,old_password,new_user,new_password"
	echo "bob@example.co.jp,bob,not-his-password,bob,not-his-password"
} >"$T/dev.csv"
chmod 600 "$T/sales.csv" "$T/dev.csv"

RC=0
"$MAILSHIFT" sync -c "$cfg" --json >"$T/all.json" 2>"$T/all.err" || RC=$?
expect_rc 1 "one account of three fails"
python3 - "$T/all.json" <<'PY' || { cat "$T/all.json"; fail "per-account outcome wrong"; }
import json, sys
d = json.load(open(sys.argv[1]))
acc = {a["account"]: a for a in d["accounts"]}
assert set(acc) == {"carol@example.co.jp", "alice@example.co.jp", "bob@example.co.jp"}, acc.keys()
assert acc["carol@example.co.jp"]["status"] == "ok" and acc["carol@example.co.jp"]["failed"] == 0
assert acc["alice@example.co.jp"]["status"] == "ok"
assert acc["bob@example.co.jp"]["status"] == "failed" and acc["bob@example.co.jp"]["error_kind"] == "auth"
assert d["exit"] == 1
PY
grep -q "not-his-password" "$T/all.json" "$T/all.err" && fail "a password leaked into the output"
pass "three accounts: two ok, one auth failure reported, exit 1"
compare_user carol "$T/all.json"
pass "carol's digest equal"

RC=0
"$MAILSHIFT" sync -c "$cfg" --group sales --json >"$T/sales.json" 2>"$T/sales.err" || RC=$?
expect_rc 0 "--group sales"
[ "$(json_get "$T/sales.json" 'd["copied"]')" = 0 ] || fail "rerun of sales copied again"
RC=0
"$MAILSHIFT" sync -c "$cfg" --account bob@example.co.jp >"$T/bob.out" 2>&1 || RC=$?
expect_rc 3 "only bob: all accounts failed authenticating"
RC=0
"$MAILSHIFT" sync -c "$cfg" --group nosuch >"$T/x.out" 2>&1 || RC=$?
expect_rc 2 "unknown group"
pass "--group, --account and their exit codes"
