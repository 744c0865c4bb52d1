# relay_lib.sh — helpers for the relay's integration tests (sourced after lib.sh).
#
# Real peers: Postfix's smtp-sink plays the old and the new server (each
# message dumped to its own file, envelope included), swaks and
# smtp-source (and tests/tools/smtp_load.py where the test must know which
# messages got their 250) are the senders.

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# sink_start NAME [smtp-sink options...]: an smtp-sink on a free port; sets
# SINK_PORT_<NAME>; dumps each message to $T/sink-NAME/
sink_start() {
	local name=$1; shift
	local port dir=$T/sink-$name
	mkdir -p "$dir"
	chmod 777 "$dir"
	port=$(eval echo "\${SINK_PORT_$name:-}")
	[ -n "$port" ] || port=$(free_port)
	eval "SINK_PORT_$name=$port"
	local user=()
	[ "$(id -u)" = 0 ] && user=(-u nobody)
	/usr/sbin/smtp-sink "${user[@]}" -d "$dir/%H%M%S." -m 512 "$@" "127.0.0.1:$port" 256 \
		>"$T/sink-$name.out" 2>&1 &
	eval "SINK_PID_$name=$!"
	for _ in $(seq 1 50); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1).close()" \
			2>/dev/null && return 0
		sleep 0.1
	done
	fail "smtp-sink $name did not start on port $port: $(cat "$T/sink-$name.out")"
}

sink_stop() {
	local pid
	pid=$(eval echo "\${SINK_PID_$1:-}")
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	eval "SINK_PID_$1="
}

# sink_count NAME: messages dumped so far
sink_count() {
	find "$T/sink-$1" -type f | wc -l
}

# sink_traces NAME: "TRACE RCPT" per message and recipient, sorted
sink_traces() {
	python3 "$TOOLS/sinkdump.py" traces "$T/sink-$1"
}

# sink_more NAME N: the sink holds more than N messages (for wait_until)
sink_more() {
	[ "$(sink_count "$1")" -gt "$2" ]
}

# sink_has NAME PATTERN: a "TRACE RCPT" line of the sink matches (for wait_until:
# a <(sink_traces ...) argument would be read only once)
sink_has() {
	sink_traces "$1" | grep -q -- "$2"
}

# relay_conf [extra [relay] lines...]: writes $T/relay.conf (+ CSVs) for the
# relay in front of the two sinks. Groups: sales (both: alice, bob),
# dev (new: carol); anyone else at example.jp follows default_phase (old).
relay_conf() {
	RELAY_PORT=${RELAY_PORT:-$(free_port)}
	printf 'email,old_user,old_password,new_user,new_password\nalice@example.jp,alice,x,alice,x\nbob@example.jp,bob,x,bob,x\n' >"$T/sales.csv"
	printf 'email,old_user,old_password,new_user,new_password\ncarol@example.jp,carol,x,carol,x\n' >"$T/dev.csv"
	chmod 600 "$T/sales.csv" "$T/dev.csv"
	cat >"$T/relay.conf" <<CONF
[migration]
domains = example.jp, example.co.jp
state = sqlite:$T/state.db

[old]
imap = imaps://127.0.0.1:1
smtp = smtp://127.0.0.1:${SINK_PORT_old}
tls = none

[new]
imap = imaps://127.0.0.1:1
smtp = smtp://127.0.0.1:${SINK_PORT_new}
tls = none

[relay]
listen = 127.0.0.1:$RELAY_PORT
hostname = relay.example.jp
spool = $T/spool
default_phase = old
primary = old
retry_intervals = ${RELAY_RETRY:-1s, 2s}
queue_lifetime = 1h
concurrency = ${RELAY_CONCURRENCY:-4}
bounce_relay = smtp://127.0.0.1:${SINK_PORT_bounce:-${SINK_PORT_old}}
$(printf '%s\n' "$@")

[group sales]
phase = ${PHASE_sales:-both}
accounts = sales.csv

[group dev]
phase = new
accounts = dev.csv
CONF
}

# relay_start: start `mailshift relay` in the background; RELAY_PID
relay_start() {
	"$MAILSHIFT" relay -c "$T/relay.conf" --announce >>"$T/relay.out" 2>>"$T/relay.log" &
	RELAY_PID=$!
	for _ in $(seq 1 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1',$RELAY_PORT),1).close()" \
			2>/dev/null && return 0
		kill -0 "$RELAY_PID" 2>/dev/null || { cat "$T/relay.log" >&2; fail "relay exited at start"; }
		sleep 0.1
	done
	cat "$T/relay.log" >&2
	fail "relay did not listen on $RELAY_PORT"
}

# relay_stop: SIGTERM and wait (exit status in RELAY_RC)
relay_stop() {
	RELAY_RC=0
	kill -TERM "$RELAY_PID" 2>/dev/null || true
	wait "$RELAY_PID" 2>/dev/null || RELAY_RC=$?
}

# send TO [swaks options...]: one message through the relay with swaks;
# sets RC and SWAKS_OUT (the transcript)
send() {
	local to=$1; shift
	RC=0
	SWAKS_OUT=$T/swaks.$RANDOM.txt
	swaks --server "127.0.0.1:$RELAY_PORT" --from sender@outside.test --to "$to" \
		--helo client.test "$@" >"$SWAKS_OUT" 2>&1 || RC=$?
}

# queued_id: the queue id of the last send ("250 ... queued as ID")
queued_id() {
	sed -n 's/.*queued as \([0-9A-Z]\{20\}\).*/\1/p' "$SWAKS_OUT" | tail -1
}

# wait_until SECS CMD...: poll until CMD succeeds
wait_until() {
	local secs=$1; shift
	local end=$((SECONDS + secs))
	while ! "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.2
	done
}

queue_empty() {
	[ -z "$(find "$T/spool/queue" -type f 2>/dev/null)" ]
}
