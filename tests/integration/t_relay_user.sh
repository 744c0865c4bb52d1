#!/bin/bash
# The relay binds a privileged port as root, then runs as [relay] user: its
# process belongs to that user, every file it creates in the spool and the
# state folder is that user's, and delivery works. (Needs root; skipped
# otherwise, saying so.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay_lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "skipped: needs root to bind a port below 1024 and change user"
	exit 0
fi
cleanup_relay() {
	if [ -n "${RELAY_PID:-}" ]; then kill -KILL "$RELAY_PID" 2>/dev/null || true; fi
	sink_stop old; sink_stop new
	return 0
}
trap cleanup_relay EXIT

# a free privileged port
RELAY_PORT=$(python3 -c '
import socket
for p in range(700, 1000):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()')
[ -n "$RELAY_PORT" ] || fail "no free port below 1024"
sink_start old
sink_start new
install -d -o nobody -m 0700 "$T/var"
relay_conf "user = nobody"
sed -i "s|^spool = .*|spool = $T/var/spool|; s|^state = .*|state = sqlite:$T/var/state.db|" "$T/relay.conf"
relay_start
[ "$(ps -o user= -p "$RELAY_PID" | tr -d ' ')" = nobody ] ||
	fail "relay runs as $(ps -o user= -p "$RELAY_PID"), expected nobody"
send alice@example.jp
[ "$RC" = 0 ] || { cat "$SWAKS_OUT"; fail "message refused"; }
id=$(queued_id)

wait_until 15 bash -c "[ -z \"\$(find '$T/var/spool/queue' -type f)\" ]" || fail "not delivered"
grep -q "$id alice@example.jp" <(sink_traces new) || fail "not on new"
others=$(find "$T/var" ! -user nobody)
[ -z "$others" ] || fail "files not owned by nobody: $others"
grep -q "running as nobody" "$T/relay.log" || fail "no log line about the user"
pass "bound port $RELAY_PORT as root, runs as nobody, spool and state owned by nobody, delivered"
relay_stop
