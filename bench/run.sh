#!/bin/bash
# bench/run.sh — `make bench`: time mailshift's one-way IMAP copy against mbsync
# (isync 1.4) on a private Dovecot lab and print the figures side by side.
#
# What it does (see bench/README.md for how to read the result):
#   1. starts a fresh lab (lab/lab.sh) in a temporary directory, stopped on any exit;
#   2. fills old 'big' with BENCH_MESSAGES messages (default 10000) plus one message with
#      a BENCH_BIG_MB MiB attachment (default 20), using tests/tools/corpus.py;
#   3. copies old 'big' into three empty accounts on new, each under /usr/bin/time:
#        mailshift (MULTIAPPEND)        → new 'big'
#        mbsync                         → new 'carol'
#        mailshift --no-multiappend     → new 'alice'
#   4. verifies every copy: mailshift's with digest.py compare (byte-identical bodies,
#      flags, dates) over the folder map from its --json output; mbsync's by per-folder
#      counts, and bodies/dates/system flags with mbsync's X-TUID header removed;
#   5. prints the table and the ratios. Exit 0 only if every tool copied everything.
#
# Environment: MAILSHIFT (default build/release/mailshift), MBSYNC (default mbsync),
# BENCH_MESSAGES, BENCH_BIG_MB, BENCH_KEEP=1 (keep the temporary directory and say where).
# Everything runs on 127.0.0.1; no password is ever put on a command line or in a config.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MAILSHIFT=${MAILSHIFT:-$ROOT/build/release/mailshift}
MBSYNC=${MBSYNC:-mbsync}
MESSAGES=${BENCH_MESSAGES:-10000}
BIG_MB=${BENCH_BIG_MB:-20}
KEEP=${BENCH_KEEP:-0}
TOOLS=$ROOT/tests/tools
TIME=/usr/bin/time

die() { echo "bench: $*" >&2; exit 1; }
step() { echo "bench: $*"; }

case $MAILSHIFT in /*) ;; *) MAILSHIFT=$PWD/$MAILSHIFT ;; esac
[ -x "$MAILSHIFT" ] || die "$MAILSHIFT not found: run 'make all' first (or set MAILSHIFT=path/to/mailshift)"
command -v "$MBSYNC" >/dev/null || die "mbsync not found: scripts/deps.sh bench (Debian package isync)"
[ -x "$TIME" ] || die "$TIME not found: scripts/deps.sh bench (Debian package time)"
[[ $MESSAGES =~ ^[1-9][0-9]*$ ]] || die "BENCH_MESSAGES must be a positive number"
[[ $BIG_MB =~ ^[0-9]+$ ]] || die "BENCH_BIG_MB must be a number"

# The lab's mail uid must reach the lab directory: /tmp, not $TMPDIR (may be under /root).
WORK=$(mktemp -d /tmp/msbench.XXXXXX)
chmod 0755 "$WORK"
LAB=$WORK/lab
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -d "$LAB" ]; then
		"$ROOT/lab/lab.sh" stop "$LAB" >/dev/null 2>&1 || echo "bench: could not stop the lab in $LAB" >&2
	fi
	if [ "$KEEP" = 1 ] || [ $rc -ne 0 ]; then
		echo "bench: files kept in $WORK (logs, JSON, mbsyncrc)" >&2
	else
		rm -rf -- "$WORK"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A lab.env sourced earlier in this shell would fix the ports to that lab's (README).
unset OLD_IMAP_PORT OLD_IMAPS_PORT NEW_IMAP_PORT NEW_IMAPS_PORT
"$ROOT/lab/lab.sh" start "$LAB" >"$WORK/lab-start.log" 2>&1 || {
	cat "$WORK/lab-start.log" >&2
	die "lab start failed"
}
# shellcheck disable=SC1091
. "$LAB/lab.env"
PW=$LAB_PASSWORD_DIR
FSYNC=$(doveconf -c "$NEW_CONF" -h mail_fsync 2>/dev/null || echo "?")
FSYNC_OLD=$(doveconf -c "$OLD_CONF" -h mail_fsync 2>/dev/null || echo "?")

SRC=big            # old account, the source of every copy
T_MS=big           # new account for mailshift
T_MB=carol         # new account for mbsync
T_MS1=alice        # new account for mailshift --no-multiappend

digest() {         # digest SIDE USER OUT.json
	local port
	if [ "$1" = old ]; then port=$OLD_IMAPS_PORT; else port=$NEW_IMAPS_PORT; fi
	python3 "$TOOLS/digest.py" --port "$port" --cafile "$LAB_CA" --user "$2" \
		--password-file "$PW/$2.pass" --json >"$3"
}
total() {          # total FILE.json: messages in every folder of a digest
	python3 -c 'import json,sys; print(sum(f["count"] for f in json.load(open(sys.argv[1]))["folders"].values()))' "$1"
}

# ---------------------------------------------------------------- corpus
step "filling old '$SRC' with $MESSAGES messages + one ${BIG_MB} MiB message (corpus.py)"
python3 "$TOOLS/corpus.py" --port "$OLD_IMAPS_PORT" --cafile "$LAB_CA" --user "$SRC" \
	--password-file "$PW/$SRC.pass" --messages "$MESSAGES" --big-mb "$BIG_MB" --json \
	>"$WORK/corpus.json" || die "corpus.py failed (see $WORK/corpus.json)"
read -r SRC_MSGS SRC_BYTES CORPUS_S < <(python3 -c '
import json,sys; c=json.load(open(sys.argv[1])); print(c["messages"], c["bytes"], c["total_seconds"])' "$WORK/corpus.json")
# Also reads the whole old maildir once, so every tool starts with it in the page cache.
digest old "$SRC" "$WORK/old.json"
[ "$(total "$WORK/old.json")" -eq "$SRC_MSGS" ] ||
	die "old '$SRC' holds $(total "$WORK/old.json") messages, corpus.py appended $SRC_MSGS"
step "old '$SRC': $SRC_MSGS messages, $SRC_BYTES bytes (appended in ${CORPUS_S}s)"

for u in $T_MS $T_MB $T_MS1; do
	digest new "$u" "$WORK/empty-$u.json"
	[ "$(total "$WORK/empty-$u.json")" -eq 0 ] || die "new '$u' is not empty before the copy"
done

# ---------------------------------------------------------------- timed runs
# timed NAME CMD...: run CMD under /usr/bin/time; stdout → NAME.out, stderr → NAME.err,
# "seconds peak-RSS-KB" → NAME.time. Dirty pages of the previous run are written first
# so that no run pays for another's writeback.
timed() {
	local name=$1 rc=0
	shift
	sync
	"$TIME" -f '%e %M' -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
	if [ $rc -ne 0 ]; then
		echo "bench: $name exited with status $rc; command: $*" >&2
		echo "---- stderr (last 30 lines) ----" >&2
		tail -n 30 "$WORK/$name.err" >&2
		echo "---- stdout (last 10 lines) ----" >&2
		tail -n 10 "$WORK/$name.out" >&2
		return $rc
	fi
}
