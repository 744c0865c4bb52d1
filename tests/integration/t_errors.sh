#!/bin/bash
# Bad input gets a clear error and the documented exit status.
. "$(dirname "$0")/lib.sh"

run() { RC=0; "$MAILSHIFT" "$@" >"$T/out" 2>&1 || RC=$?; }
has() { grep -q -- "$1" "$T/out" || { cat "$T/out"; fail "output lacks '$1'"; }; }

echo wrong >"$T/wrong.pass"; chmod 600 "$T/wrong.pass"
run sync --old "imaps://alice@127.0.0.1:$OLD_IMAPS_PORT" --old-password-file "$T/wrong.pass" \
	--new "imaps://alice@127.0.0.1:$NEW_IMAPS_PORT" --new-password-file "$(pw alice)" --ca-file "$LAB_CA"
expect_rc 3 "wrong password"; has "refused"; has "alice"
grep -q wrong "$T/out" && fail "the password appears in the output"
pass "wrong password: exit 3, names the user, not the password"

# A port nobody listens on.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
run sync --old "imaps://alice@127.0.0.1:$port" --old-password-file "$(pw alice)" \
	--new "imaps://alice@127.0.0.1:$NEW_IMAPS_PORT" --new-password-file "$(pw alice)" \
	--ca-file "$LAB_CA" --timeout 5
expect_rc 4 "connection refused"; has "cannot connect"
pass "unreachable server: exit 4"

run sync --old "http://alice@127.0.0.1:1" --new "imaps://alice@127.0.0.1:1"
expect_rc 2 "bad URL"; has "http"
run sync --old "imaps://alice@127.0.0.1:$OLD_IMAPS_PORT" --new "imaps://alice@127.0.0.1:$NEW_IMAPS_PORT"
expect_rc 2 "no password"; has "MAILSHIFT_OLD_PASSWORD"
run sync --frobnicate
expect_rc 2 "unknown option"
run sync -c "$T/missing.conf"
expect_rc 2 "missing config"; has "missing.conf"
printf '[migration]\nstate = sqlite:/tmp/x\n[old]\nimap = imaps://127.0.0.1:1\ntls = maybe\n' >"$T/bad.conf"
run sync -c "$T/bad.conf"
expect_rc 2 "bad config value"; has "bad.conf:5"
pass "usage and configuration errors: exit 2 with file:line"

# The environment is an accepted source of passwords (not argv).
RC=0
MAILSHIFT_OLD_PASSWORD=$(cat "$(pw carol)") MAILSHIFT_NEW_PASSWORD=$(cat "$(pw carol)") \
	"$MAILSHIFT" sync --old "imaps://carol@127.0.0.1:$OLD_IMAPS_PORT" \
	--new "imaps://carol@127.0.0.1:$NEW_IMAPS_PORT" --ca-file "$LAB_CA" >"$T/out" 2>&1 || RC=$?
expect_rc 0 "passwords from the environment"
pass "passwords from MAILSHIFT_OLD_PASSWORD / MAILSHIFT_NEW_PASSWORD"
