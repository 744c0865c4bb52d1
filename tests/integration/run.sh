#!/bin/bash
# run.sh — integration tests against real Dovecot servers (lab/lab.sh).
#
# Starts one lab for the whole run, runs every t_*.sh (or those named on the
# command line) with the lab's variables exported, stops the lab on any exit.
# MAILSHIFT names the binary under test (make check passes the ASan build).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export MAILSHIFT=${MAILSHIFT:-$top/build/release/mailshift}
export TOP=$top
[ -x "$MAILSHIFT" ] || { echo "run.sh: $MAILSHIFT is not built" >&2; exit 2; }

work=$(mktemp -d /tmp/mailshift-it.XXXXXX)
chmod 755 "$work"
export WORK=$work
cleanup() {
	"$top/lab/lab.sh" stop "$work/lab" >/dev/null 2>&1 || true
	if [ "${KEEP_WORK:-}" = "" ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT
# A lab's ports, when inherited from a developer's shell, would collide.
unset OLD_IMAP_PORT OLD_IMAPS_PORT NEW_IMAP_PORT NEW_IMAPS_PORT
"$top/lab/lab.sh" start "$work/lab" >/dev/null
# shellcheck disable=SC1091
. "$work/lab/lab.env"

# Under the sanitizer build a finding must fail the test even where the test
# expects a non-zero exit: distinct exit codes, and a scan of every output.
export ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=86:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
	for t in "$here"/t_*.sh; do tests+=("$(basename "$t")"); done
fi
failed=()
for t in "${tests[@]}"; do
	echo "=== $t"
	start=$(date +%s)
	rc=0
	bash "$here/$t" || rc=$?
	if grep -rlE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$work" --include='*.err' \
		--include='*.out' --include='*.json' >/dev/null 2>&1; then
		grep -rhE -A5 "ERROR: (Address|Leak)Sanitizer|runtime error:" "$work" --include='*.err' \
			--include='*.out' --include='*.json' | head -40
		echo "sanitizer finding in $t"
		rc=1
		find "$work" -name 't.*' -type d -prune -exec rm -rf {} +
	fi
	if [ $rc = 0 ]; then
		echo "--- PASS $t ($(( $(date +%s) - start )) s)"
	else
		echo "--- FAIL $t ($(( $(date +%s) - start )) s)"
		failed+=("$t")
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "integration: FAILED: ${failed[*]}"
	exit 1
fi
echo "integration: all ${#tests[@]} passed"
