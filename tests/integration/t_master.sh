#!/bin/bash
# An admin/master user logs in for the account (SASL PLAIN with an
# authorization identity), on both servers.
. "$(dirname "$0")/lib.sh"

fill bob --messages 120 --seed 22
RC=0
"$MAILSHIFT" sync --json \
	--old "imaps://bob@127.0.0.1:$OLD_IMAPS_PORT" --old-admin "$LAB_MASTER_USER" \
	--old-password-file "$LAB_MASTER_PASSWORD_FILE" \
	--new "imaps://bob@127.0.0.1:$NEW_IMAPS_PORT" --new-admin "$LAB_MASTER_USER" \
	--new-password-file "$LAB_MASTER_PASSWORD_FILE" \
	--ca-file "$LAB_CA" >"$T/bob.json" 2>"$T/bob.err" || RC=$?
expect_rc 0 "master-user sync"
# 120 generated + the corpus's one message stored twice
[ "$(json_get "$T/bob.json" 'd["copied"]')" = 121 ] || fail "copied $(json_get "$T/bob.json" 'd["copied"]')/121"
compare_user bob "$T/bob.json"
pass "copied bob's 121 messages logged in as $LAB_MASTER_USER"

# The admin password is checked: a wrong one is an authentication failure.
echo wrong >"$T/wrong.pass"; chmod 600 "$T/wrong.pass"
RC=0
"$MAILSHIFT" sync --old "imaps://bob@127.0.0.1:$OLD_IMAPS_PORT" --old-admin "$LAB_MASTER_USER" \
	--old-password-file "$T/wrong.pass" \
	--new "imaps://bob@127.0.0.1:$NEW_IMAPS_PORT" --new-password-file "$(pw bob)" \
	--ca-file "$LAB_CA" >"$T/wrong.out" 2>&1 || RC=$?
expect_rc 3 "wrong admin password"
grep -q "as admin '$LAB_MASTER_USER'" "$T/wrong.out" || { cat "$T/wrong.out"; fail "message does not name the admin"; }
pass "wrong admin password: exit 3"
