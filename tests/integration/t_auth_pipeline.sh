#!/bin/bash
# XOAUTH2 (token from a file) against a scripted server that checks the
# exact SASL payload, and the slow paths of the copy pipeline against real
# Dovecot: synchronizing literals (no LITERAL+), with and without MULTIAPPEND.
. "$(dirname "$0")/lib.sh"

pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

# --- XOAUTH2
printf 'ya29.a0-test-token' >"$T/token"; chmod 600 "$T/token"
python3 "$TOOLS/fakeimap.py" xoauth2 --user alice --token-file "$T/token" >"$T/x.port" &
pids+=($!)
for _ in $(seq 50); do [ -s "$T/x.port" ] && break; sleep 0.1; done
xp=$(head -1 "$T/x.port")
xsync() {
	RC=0
	"$MAILSHIFT" sync --old "imap://alice@127.0.0.1:$xp" --old-tls none --old-auth xoauth2 \
		--old-password-file "$1" \
		--new "imaps://alice@127.0.0.1:$NEW_IMAPS_PORT" --new-password-file "$(pw alice)" \
		--new-ca-file "$LAB_CA" >"$T/x.out" 2>&1 || RC=$?
}
xsync "$T/token"
expect_rc 0 "XOAUTH2 with the right token"
printf 'expired' >"$T/bad"; chmod 600 "$T/bad"
xsync "$T/bad"
expect_rc 3 "XOAUTH2 with a wrong token"
grep -q "Invalid credentials" "$T/x.out" || { cat "$T/x.out"; fail "server's words missing"; }
grep -q "expired" "$T/x.out" && fail "the token leaked into the output"
pass "XOAUTH2: right token accepted, wrong one refused (exit 3), token never printed"

# --- synchronizing literals, single APPENDs
fill carol --messages 150 --big-mb 2 --seed 77 --folders "INBOX.Sync-Literals"
sync_one carol --no-literal-plus --no-multiappend
expect_rc 0 "no LITERAL+, no MULTIAPPEND"
compare_user carol "$T/carol.json"
# --- synchronizing literals inside MULTIAPPEND
fill carol --messages 150 --seed 78 --folders "INBOX.Sync-Multi"
sync_one carol --no-literal-plus --batch 20
expect_rc 0 "no LITERAL+, MULTIAPPEND of 20"
compare_user carol "$T/carol.json"
pass "synchronizing literals with single APPENDs and with MULTIAPPEND: digests equal"
