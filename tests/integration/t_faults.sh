#!/bin/bash
# Faults real servers do not produce on request: a connection cut in the
# middle of a 2 MB literal (mailshift reconnects, redoes the folder, and
# ends with no duplicate and nothing missing), and scripted garbage (clear
# error, no crash, no hang).
. "$(dirname "$0")/lib.sh"

pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
start_bg() { # start_bg OUTFILE CMD...: background server that prints its port first
	local out=$1; shift
	"$@" >"$out" 2>>"$T/bg.err" &
	pids+=($!)
	for _ in $(seq 50); do [ -s "$out" ] && break; sleep 0.1; done
	[ -s "$out" ] || fail "helper did not start: $*"
	head -1 "$out"
}

# --- cut mid-literal: a new folder with a 2 MB message among 300 others
fill big --messages 300 --big-mb 2 --seed 66 --folders "INBOX.Fault"
port=$(start_bg "$T/proxy.port" python3 "$TOOLS/cutproxy.py" --port "$OLD_IMAPS_PORT" \
	--cafile "$LAB_CA" --cut-connections 1 --min-literal 1000000 --after 300000)
RC=0
"$MAILSHIFT" sync --json \
	--old "imap://big@127.0.0.1:$port" --old-tls none --old-password-file "$(pw big)" \
	--new "imaps://big@127.0.0.1:$NEW_IMAPS_PORT" --new-password-file "$(pw big)" \
	--new-ca-file "$LAB_CA" >"$T/big.json" 2>"$T/big.err" || RC=$?
expect_rc 0 "sync through a connection cut mid-literal"
grep -q "closed the connection" "$T/big.err" || { cat "$T/big.err"; fail "the cut was not reported"; }
[ "$(json_get "$T/big.json" 'd["accounts"][0]["reconnects"]')" -ge 1 ] || fail "no reconnect recorded"
compare_user big "$T/big.json"
pass "connection cut mid-literal: reconnected, digests equal (no duplicate, nothing missing)"

# --- scripted garbage
for mode in garbage longline hugeliteral badtag cut; do
	p=$(start_bg "$T/fake-$mode.port" python3 "$TOOLS/fakeimap.py" "$mode")
	RC=0
	timeout 60 "$MAILSHIFT" sync \
		--old "imap://alice@127.0.0.1:$p" --old-tls none --old-password-file "$(pw alice)" \
		--new "imaps://alice@127.0.0.1:$NEW_IMAPS_PORT" --new-password-file "$(pw alice)" \
		--new-ca-file "$LAB_CA" --timeout 10 >"$T/fake.out" 2>&1 || RC=$?
	case $RC in
	0) fail "$mode: a broken server was accepted" ;;
	124) fail "$mode: mailshift hung" ;;
	1|4) ;;
	*) cat "$T/fake.out"; fail "$mode: unexpected exit $RC (crash?)" ;;
	esac
	grep -q "old server 127.0.0.1:$p" "$T/fake.out" || { cat "$T/fake.out"; fail "$mode: error does not name the server"; }
	echo "  $mode: exit $RC: $(grep -m1 'error:' "$T/fake.out" | cut -c1-150)"
done
pass "garbage, endless line, absurd literal, foreign tag, cut after greeting: clear errors"
