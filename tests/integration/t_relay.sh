#!/bin/bash
# mailshift relay with real peers: two Postfix smtp-sink servers as old and
# new, swaks as the sender.
#
#  - routing by phase: sales (both) → both sinks with the same
#    X-Mailshift-Trace; dev (new) → new only; anyone else → old
#    (default_phase); postmaster accepted
#  - never an open relay: another domain → 550 5.7.1; with
#    recipients = known (after SIGHUP) an unknown local part → 550 5.1.1
#  - SIGHUP moves sales to phase new: the next message goes to new only
#  - trace by queue id and by Message-ID; status counters
#  - new sink down: old gets the message at once (the primary never
#    notices), new is deferred and counted; queue list shows it; hold keeps
#    it; release + flush deliver it once new is back
#  - primary's permanent failure bounces a DSN (RFC 3464, checked with
#    Python's email package) through the bounce relay; a shadow's does not
#  - hostile input: each SMTP smuggling variant, an overlong line, a message
#    over max_message_size (552, nothing queued), STARTTLS injection,
#    1,000 idle connections (limits and timeouts hold, the relay keeps
#    serving)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay_lib.sh"

cleanup_relay() {
	if [ -n "${RELAY_PID:-}" ]; then kill -KILL "$RELAY_PID" 2>/dev/null || true; fi
	sink_stop old; sink_stop new; sink_stop bounce
	return 0
}
trap cleanup_relay EXIT

sink_start old
sink_start new
sink_start bounce
relay_conf "tls_cert = $LAB_DIR/tls/server.pem" "tls_key = $LAB_DIR/tls/server.key" \
	"max_message_size = 200K" "max_connections = 300" "max_per_client = 250" \
	"timeout = 3s"
relay_start

# --- routing -----------------------------------------------------------------
send alice@example.jp --header "Message-Id: <routing-1@outside.test>"
[ "$RC" = 0 ] || { cat "$SWAKS_OUT"; fail "swaks to alice: exit $RC"; }
id_both=$(queued_id)
send carol@example.jp
id_new=$(queued_id)
send dave@example.jp
id_old=$(queued_id)
send postmaster@example.jp
[ "$RC" = 0 ] || fail "postmaster@ refused"
wait_until 20 queue_empty || { mailshift_q=$("$MAILSHIFT" queue -c "$T/relay.conf" list); fail "queue not empty: $mailshift_q"; }
old=$(sink_traces old); new=$(sink_traces new)
grep -qx "$id_both alice@example.jp" <<<"$old" || fail "alice (both) not on old: $old"
grep -qx "$id_both alice@example.jp" <<<"$new" || fail "alice (both) not on new with the same trace: $new"
grep -qx "$id_new carol@example.jp" <<<"$new" || fail "carol (new) not on new"
grep -q "$id_new" <<<"$old" && fail "carol (phase new) also on old"
grep -qx "$id_old dave@example.jp" <<<"$old" || fail "dave (default_phase old) not on old"
grep -q "$id_old" <<<"$new" && fail "dave (default old) also on new"
pass "routing: both → old+new with one trace id ($id_both), new → new only, default → old only"

# --- never an open relay ------------------------------------------------------
send victim@elsewhere.test
grep -q "550 5.7.1" "$SWAKS_OUT" || { cat "$SWAKS_OUT"; fail "relay attempt to another domain not refused with 550 5.7.1"; }
send nosuchuser@example.jp
[ "$RC" = 0 ] || fail "recipients = domain should accept any local part"
sed -i 's/^default_phase = old$/default_phase = old\nrecipients = known/' "$T/relay.conf"
kill -HUP "$RELAY_PID"
sleep 1
send nosuchuser@example.jp
grep -q "550 5.1.1" "$SWAKS_OUT" || { cat "$SWAKS_OUT"; fail "recipients = known: unknown local part not refused with 550 5.1.1"; }
send bob@example.jp
[ "$RC" = 0 ] || fail "recipients = known: bob refused"
pass "open relay refused (550 5.7.1); after SIGHUP recipients = known refuses unknown users (550 5.1.1)"

# --- phase change by SIGHUP ---------------------------------------------------
sed -i '/^\[group sales\]/,/^accounts/ s/^phase = both$/phase = new/' "$T/relay.conf"
kill -HUP "$RELAY_PID"
sleep 1
send alice@example.jp
id_after=$(queued_id)
wait_until 20 queue_empty || fail "queue not empty after phase change"
grep -q "$id_after alice@example.jp" <<<"$(sink_traces new)" || fail "after SIGHUP: alice not on new"
grep -q "$id_after" <<<"$(sink_traces old)" && fail "after SIGHUP (phase new): alice still on old"
pass "SIGHUP: sales moved to phase new, the next message went to new only"
sed -i '/^\[group sales\]/,/^accounts/ s/^phase = new$/phase = both/' "$T/relay.conf"
kill -HUP "$RELAY_PID"
sleep 1

# --- trace and status -----------------------------------------------------------
"$MAILSHIFT" trace -c "$T/relay.conf" "$id_both" >"$T/trace.txt" || fail "trace $id_both: exit $?"
grep -q "received" "$T/trace.txt" && grep -q "delivered old" "$T/trace.txt" &&
	grep -q "delivered new" "$T/trace.txt" || { cat "$T/trace.txt"; fail "trace lacks received/delivered old/new"; }
grep -q "(250 2.0.0 Ok" "$T/trace.txt" || { cat "$T/trace.txt"; fail "trace lacks the remote server's reply"; }
"$MAILSHIFT" trace -c "$T/relay.conf" "<routing-1@outside.test>" >"$T/trace2.txt" ||
	fail "trace by Message-ID failed"
grep -q "$id_both" "$T/trace2.txt" || fail "trace by Message-ID does not find $id_both"
pass "trace by queue id and by Message-ID: received, delivered to old and new with the remote replies"

# --- new server down --------------------------------------------------------------
sink_stop new
send bob@example.jp --header "Message-Id: <while-down@outside.test>"
id_down=$(queued_id)
wait_until 15 sink_has old "$id_down bob@example.jp" || fail "primary (old) did not get the message while new was down"
wait_until 15 grep -q "deferred dest=new to=<bob@example.jp>" "$T/relay.log" || fail "no deferral logged for new"
"$MAILSHIFT" queue -c "$T/relay.conf" list >"$T/q.txt"
grep -q "$id_down" "$T/q.txt" && grep -q "new=deferred" "$T/q.txt" && grep -q "old=done" "$T/q.txt" ||
	{ cat "$T/q.txt"; fail "queue list does not show old=done new=deferred"; }
"$MAILSHIFT" queue -c "$T/relay.conf" hold "$id_down" || fail "queue hold: exit $?"
"$MAILSHIFT" status -c "$T/relay.conf" --json >"$T/status.json"
python3 - "$T/status.json" <<'PY' || fail "status counters"
import json, sys
d = json.load(open(sys.argv[1]))["relay"]
c = d["counters"]
assert d["hold"] == 1, d
assert c["new"]["deferred"] >= 1, c
assert c["old"]["delivered"] >= 1 and c["new"]["delivered"] >= 1, c
assert c["new"]["queued"] == 1, c          # the held one
PY
SINK_PORT_new=$SINK_PORT_new sink_start new
"$MAILSHIFT" queue -c "$T/relay.conf" flush || fail "queue flush: exit $?"
sleep 2
grep -q "$id_down" <(sink_traces new) && fail "a held message was delivered"
"$MAILSHIFT" queue -c "$T/relay.conf" release "$id_down" || fail "queue release: exit $?"
wait_until 15 sink_has new "$id_down bob@example.jp" || fail "released message not delivered to new"
[ "$(grep -c "$id_down" <(sink_traces old))" = 1 ] || fail "old got the message more than once"
pass "new down: old served at once, new deferred (counted), hold kept it, release delivered it once"

# --- bounces --------------------------------------------------------------------------
# old (primary) refuses every recipient for good: a DSN to the sender via the bounce relay
sink_stop old
SINK_PORT_old=$SINK_PORT_old sink_start old -f RCPT
send bob@example.jp --header "Message-Id: <to-bounce@outside.test>"
id_b=$(queued_id)
wait_until 20 grep -q "bounced dest=old to=<bob@example.jp>" "$T/relay.log" || fail "no bounce at old"
wait_until 20 sink_has bounce "sender@outside.test" || fail "no DSN reached the bounce relay"
dsn=$(grep -l "X-Rcpt-Args: <sender@outside.test>" "$T"/sink-bounce/* | head -1)
python3 "$TOOLS/sinkdump.py" message "$dsn" >"$T/dsn.eml"
python3 "$TOOLS/check_dsn.py" --expect-rcpt bob@example.jp "$T/dsn.eml" >"$T/dsn-check.txt" 2>&1 ||
	{ cat "$T/dsn-check.txt"; fail "the DSN is not a valid RFC 3464 report for bob"; }
wait_until 10 sink_has new "$id_b" ||
	fail "the shadow (new) did not get its copy while old bounced"
pass "permanent failure at the primary: DSN to the sender (RFC 3464, valid), shadow copy delivered"

sink_stop old
SINK_PORT_old=$SINK_PORT_old sink_start old
sink_stop new
SINK_PORT_new=$SINK_PORT_new sink_start new -f RCPT
before=$(sink_count bounce)
send alice@example.jp
id_s=$(queued_id)
wait_until 15 grep -q "rejected dest=new to=<alice@example.jp>" "$T/relay.log" || fail "shadow rejection not logged"
sleep 2
[ "$(sink_count bounce)" = "$before" ] || fail "a shadow's 5xx bounced to the sender"
"$MAILSHIFT" queue -c "$T/relay.conf" list | grep -q "$id_s" || fail "shadow-rejected message not kept for retry"
sink_stop new
SINK_PORT_new=$SINK_PORT_new sink_start new
# no flush: the retry timer (retry_intervals = 1s, 2s) must bring it
wait_until 15 sink_has new "$id_s alice@example.jp" || fail "shadow copy not delivered after the new server accepted again"
pass "5xx at the shadow (new): never bounced, retried by the timer, delivered once new accepts"

# queue_lifetime reached at the primary: a "delayed too long" DSN (4.4.7)
sed -i 's/^queue_lifetime = 1h$/queue_lifetime = 3s/' "$T/relay.conf"
kill -HUP "$RELAY_PID"
sleep 1
sink_stop old
before=$(sink_count bounce)
send bob@example.jp   # (recipients = known since the SIGHUP above)
id_e=$(queued_id)
[ -n "$id_e" ] || { cat "$SWAKS_OUT"; fail "not accepted"; }
wait_until 20 grep -q "$id_e: expired dest=old to=<bob@example.jp>" "$T/relay.log" || fail "no expiry at old"
wait_until 20 sink_more bounce "$before" || fail "no DSN on expiry"
dsn=$(ls -t "$T"/sink-bounce/* | head -1)
python3 "$TOOLS/sinkdump.py" message "$dsn" >"$T/dsn2.eml"
python3 "$TOOLS/check_dsn.py" --expect-rcpt bob@example.jp --expect-status 4.4.7 "$T/dsn2.eml" \
	>"$T/dsn2-check.txt" 2>&1 || { cat "$T/dsn2-check.txt"; fail "the expiry DSN is not valid"; }
"$MAILSHIFT" queue -c "$T/relay.conf" list | grep -q "$id_e" && fail "expired message still queued"
SINK_PORT_old=$SINK_PORT_old sink_start old
sed -i 's/^queue_lifetime = 3s$/queue_lifetime = 1h/' "$T/relay.conf"
kill -HUP "$RELAY_PID"
sleep 1
pass "queue_lifetime reached at the primary: expired, DSN with Status 4.4.7 to the sender"

# --- hostile input -----------------------------------------------------------------------
before_old=$(sink_count old)
python3 "$TOOLS/smtp_raw.py" smuggle "$RELAY_PORT" bob@example.jp >"$T/smuggle.txt" ||
	{ cat "$T/smuggle.txt"; fail "SMTP smuggling variant not rejected"; }
python3 "$TOOLS/smtp_raw.py" longline "$RELAY_PORT" >"$T/long.txt" || { cat "$T/long.txt"; fail "long line"; }
head -c 300000 /dev/urandom | base64 -w 76 >"$T/big.txt"
send bob@example.jp --attach "@$T/big.txt"
grep -q "552 5.3.4" "$SWAKS_OUT" || { tail -5 "$SWAKS_OUT"; fail "oversize message not refused with 552"; }
python3 "$TOOLS/smtp_raw.py" starttls-inject "$RELAY_PORT" "$LAB_CA" >"$T/inject.txt" ||
	{ cat "$T/inject.txt"; fail "STARTTLS injection"; }
grep -q "discarded 6 bytes sent after STARTTLS" "$T/relay.log" || fail "injected bytes not discarded"
sleep 2
[ "$(sink_count old)" = "$before_old" ] || fail "hostile input led to a delivery"
send 'victim%elsewhere.test@example.jp'
grep -q "550 5.7.1" "$SWAKS_OUT" || { cat "$SWAKS_OUT"; fail "percent-hack address not refused"; }
send '"victim@elsewhere.test"@example.jp'
grep -q "550 5.7.1" "$SWAKS_OUT" || { cat "$SWAKS_OUT"; fail "quoted-@ address not refused"; }
pass "smuggling (5 variants), overlong line, oversize (552), STARTTLS injection (then QUIT over TLS), percent hack and quoted @: refused, nothing queued"

# a client that pipelines commands and never reads the replies: the relay
# stops reading it instead of buffering replies (memory stays bounded)
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$RELAY_PID/status"; }
rss0=$(rss)
python3 "$TOOLS/smtp_raw.py" flood "$RELAY_PORT" 5 >"$T/flood.txt"
rss1=$(rss)
taken=$(sed -n 's/^flood: \([0-9]*\) octets.*/\1/p' "$T/flood.txt")
[ $((rss1 - rss0)) -lt 20000 ] || fail "relay grew by $((rss1 - rss0)) kB under a NOOP flood ($taken octets taken)"
[ "$taken" -lt 20000000 ] || fail "relay took $taken octets of unanswered commands"
pass "NOOP flood without reading: relay took $taken octets then stopped reading; RSS +$((rss1 - rss0)) kB"

python3 "$TOOLS/smtp_raw.py" idle "$RELAY_PORT" 1000 20 >"$T/idle.txt"
read -r greeted limited timed < <(sed -n 's/.*greeted=\([0-9]*\) refused_by_limit=\([0-9]*\) timed_out=\([0-9]*\)/\1 \2 \3/p' "$T/idle.txt")
[ "$greeted" -le 250 ] && [ "$limited" -ge 750 ] || { cat "$T/idle.txt"; fail "connection limits did not hold"; }
[ "$timed" = "$greeted" ] || { cat "$T/idle.txt"; fail "idle sessions not timed out"; }
send bob@example.jp
[ "$RC" = 0 ] || fail "relay not serving after 1,000 idle connections"
pass "1,000 idle connections: $greeted served (max_per_client 250), $limited refused with 421, all idle ones timed out; the relay keeps serving"

relay_stop
[ "$RELAY_RC" = 0 ] || fail "relay exit $RELAY_RC on SIGTERM"
if grep -E "ERROR|runtime error|AddressSanitizer" "$T/relay.log"; then fail "sanitizer report in the relay log"; fi
pass "clean stop on SIGTERM"
