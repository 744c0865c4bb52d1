#!/bin/bash
# The relay in front of the lab's two real Dovecot servers, delivering over
# LMTP (STARTTLS, certificate verified) — the whole parallel run for one
# user (relay1, group in phase both):
#  - 20 messages through the relay land in relay1's INBOX on old and on new,
#    each pair with one X-Mailshift-Trace (read back over IMAP);
#  - mailshift sync then copies none of them (each is recognised on new by
#    its trace id, although the two copies differ in bytes: each Dovecot
#    prepends its own Return-Path/Received), and verify exits 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay_lib.sh"

if [ -z "${OLD_LMTP_PORT:-}" ] || [ -z "${NEW_LMTP_PORT:-}" ]; then
	echo "skipped: the lab has no LMTP (install dovecot-lmtpd)"
	exit 0
fi
U=relay1
cleanup_relay() {
	if [ -n "${RELAY_PID:-}" ]; then kill -KILL "$RELAY_PID" 2>/dev/null || true; fi
	return 0
}
trap cleanup_relay EXIT

RELAY_PORT=$(free_port)
printf 'email,old_user,old_password,new_user,new_password\n%s@example.jp,%s,%s,%s,%s\n' \
	$U $U "$(cat "$(pw $U)")" $U "$(cat "$(pw $U)")" >"$T/g.csv"
chmod 600 "$T/g.csv"
cat >"$T/relay.conf" <<CONF
[migration]
domains = example.jp
state = sqlite:$T/state.db

[old]
imap = imaps://127.0.0.1:$OLD_IMAPS_PORT
smtp = lmtp://127.0.0.1:$OLD_LMTP_PORT
ca_file = $LAB_CA

[new]
imap = imaps://127.0.0.1:$NEW_IMAPS_PORT
smtp = lmtp://127.0.0.1:$NEW_LMTP_PORT
ca_file = $LAB_CA

[relay]
listen = 127.0.0.1:$RELAY_PORT
hostname = relay.example.jp
spool = $T/spool
retry_intervals = 1s, 2s
smtp_tls = require

[group g]
phase = both
accounts = g.csv
CONF
relay_start
for i in $(seq 1 20); do
	send $U@example.jp --header "Subject: relayed $i" --body "body $i"
	[ "$RC" = 0 ] || { cat "$SWAKS_OUT"; fail "message $i refused"; }
done
wait_until 30 queue_empty || { "$MAILSHIFT" queue -c "$T/relay.conf" list; fail "not delivered"; }
grep -q "delivered dest=new" "$T/relay.log" || fail "nothing delivered to new"

mut old list old-inbox.json --folder INBOX
mut new list new-inbox.json --folder INBOX
python3 - "$T/old-inbox.json" "$T/new-inbox.json" <<'PY' || fail "copies on old and new"
import json, sys
o = [m for m in json.load(open(sys.argv[1]))["messages"] if m.get("trace")]
n = [m for m in json.load(open(sys.argv[2]))["messages"] if m.get("trace")]
ot, nt = sorted(m["trace"] for m in o), sorted(m["trace"] for m in n)
assert len(ot) == 20 and ot == nt, (len(ot), len(nt))
same = sum(1 for a in o for b in n if a["trace"] == b["trace"] and a["sha256"] == b["sha256"])
print(f"  20 traces on both servers; byte-identical pairs: {same} (each Dovecot adds its own headers)")
PY
pass "20 messages relayed over LMTP+STARTTLS into real Dovecot: each on old and new with one trace id"

sync_one $U --state "sqlite:$T/state.db"
expect_rc 0 "sync after relaying"
copied=$(json_get "$T/$U.json" 'd["copied"]')
matched=$(json_get "$T/$U.json" 'd["matched"]')
[ "$copied" = 0 ] || fail "sync copied $copied relayed messages again"
[ "$matched" -ge 20 ] || fail "sync matched only $matched"
verify_one verify.json
[ "$RC" = 0 ] || fail "verify exit $RC"
pass "sync recognised all 20 relayed messages (copied 0, matched $matched); verify exit 0"

relay_stop
[ "$RELAY_RC" = 0 ] || fail "relay exit $RELAY_RC"
