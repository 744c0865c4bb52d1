#!/bin/bash
# STARTTLS and IMAPS with the lab's CA both copy faithfully; a certificate
# from another CA, or no TLS at all, is refused with a clear message.
. "$(dirname "$0")/lib.sh"

fill alice --messages 300 --big-mb 2 --seed 11

# STARTTLS on both sides (imap:// requires it).
RC=0
"$MAILSHIFT" sync --json \
	--old "imap://alice@127.0.0.1:$OLD_IMAP_PORT" --old-password-file "$(pw alice)" \
	--new "imap://alice@127.0.0.1:$NEW_IMAP_PORT" --new-password-file "$(pw alice)" \
	--ca-file "$LAB_CA" >"$T/alice.json" 2>"$T/alice.err" || RC=$?
expect_rc 0 "STARTTLS sync"
[ "$(json_get "$T/alice.json" 'd["copied"]')" = 302 ] || fail "STARTTLS copied $(json_get "$T/alice.json" 'd["copied"]')/302"
compare_user alice "$T/alice.json"
pass "STARTTLS copy of 302 messages, digests equal"

# Wrong CA, IMAPS and STARTTLS: exit 5 (TLS), the message says why and what to do.
for scheme in imaps imap; do
	if [ $scheme = imaps ]; then port=$OLD_IMAPS_PORT; else port=$OLD_IMAP_PORT; fi
	RC=0
	"$MAILSHIFT" sync --old "$scheme://alice@127.0.0.1:$port" --old-password-file "$(pw alice)" \
		--new "imaps://alice@127.0.0.1:$NEW_IMAPS_PORT" --new-password-file "$(pw alice)" \
		--old-ca-file "$LAB_OTHER_CA" --new-ca-file "$LAB_CA" >"$T/wrongca.out" 2>&1 || RC=$?
	expect_rc 5 "$scheme with the wrong CA"
	grep -q "certificate not accepted" "$T/wrongca.out" || { cat "$T/wrongca.out"; fail "no clear certificate message"; }
	grep -q "ca_file" "$T/wrongca.out" || fail "the message does not say what to do"
done
pass "wrong CA refused over IMAPS and STARTTLS (exit 5)"

# Without a CA option the system trust store does not know the lab CA.
RC=0
"$MAILSHIFT" sync --old "imaps://alice@127.0.0.1:$OLD_IMAPS_PORT" --old-password-file "$(pw alice)" \
	--new "imaps://alice@127.0.0.1:$NEW_IMAPS_PORT" --new-password-file "$(pw alice)" \
	>"$T/noca.out" 2>&1 || RC=$?
expect_rc 5 "no CA given"
pass "unknown CA refused by default"

# tls none is plaintext: the lab refuses logins without TLS, so this is an
# authentication failure (exit 3) — and proves mailshift did not upgrade on its own.
RC=0
"$MAILSHIFT" sync --old "imap://alice@127.0.0.1:$OLD_IMAP_PORT" --old-password-file "$(pw alice)" \
	--old-tls none \
	--new "imaps://alice@127.0.0.1:$NEW_IMAPS_PORT" --new-password-file "$(pw alice)" \
	--ca-file "$LAB_CA" >"$T/none.out" 2>&1 || RC=$?
expect_rc 3 "plaintext login"
pass "tls none is really plaintext (refused by the lab: exit 3)"
