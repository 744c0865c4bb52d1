# lib.sh — helpers for the integration tests (sourced).
# Environment from run.sh: MAILSHIFT, TOP, WORK, and the lab's variables.
set -euo pipefail

TOOLS=$TOP/tests/tools
T=$(mktemp -d "$WORK/t.XXXXXX")
chmod 755 "$T"   # a lab started under it must be reachable by the mail uid

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
pw() { echo "$LAB_PASSWORD_DIR/$1.pass"; }

# fill USER [corpus.py options...]: fill USER's mailbox on the old server
fill() {
	local user=$1; shift
	python3 "$TOOLS/corpus.py" --port "$OLD_IMAPS_PORT" --cafile "$LAB_CA" --user "$user" \
		--password-file "$(pw "$user")" "$@" >"$T/fill-$user.txt"
}

# sync_one USER [extra mailshift options...]: one-account sync over IMAPS, JSON in $T/USER.json
# Sets RC to the exit status.
sync_one() {
	local user=$1; shift
	RC=0
	"$MAILSHIFT" sync --json \
		--old "imaps://$user@127.0.0.1:$OLD_IMAPS_PORT" --old-password-file "$(pw "$user")" \
		--new "imaps://$user@127.0.0.1:$NEW_IMAPS_PORT" --new-password-file "$(pw "$user")" \
		--ca-file "$LAB_CA" "$@" >"$T/$user.json" 2>"$T/$user.err" || RC=$?
}

# jq-like access without jq: json_get FILE PYTHON-EXPR (d is the document)
json_get() {
	python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

# digest SIDE USER OUT
digest() {
	local port
	if [ "$1" = old ]; then port=$OLD_IMAPS_PORT; else port=$NEW_IMAPS_PORT; fi
	python3 "$TOOLS/digest.py" --port "$port" --cafile "$LAB_CA" --user "$2" \
		--password-file "$(pw "$2")" --json >"$3"
}

# map_from_json SYNC.json MAP.json USER: the folder mapping mailshift reported for USER
map_from_json() {
	python3 - "$1" "$2" "$3" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
u = sys.argv[3]
m = {f["old"]: f["new"] for a in d["accounts"] for f in a["folders"]
     if a["account"] == u or a["account"].startswith(u + "@")}
json.dump(m, open(sys.argv[2], "w"), ensure_ascii=False)
PY
}

# compare_user USER SYNC.json: digest old and new and compare under the mapping
compare_user() {
	digest old "$1" "$T/$1-old.json"
	digest new "$1" "$T/$1-new.json"
	map_from_json "$2" "$T/$1-map.json" "$1"
	python3 "$TOOLS/digest.py" compare "$T/$1-old.json" "$T/$1-new.json" \
		--map "$T/$1-map.json" >"$T/$1-compare.txt" ||
		{ cat "$T/$1-compare.txt" >&2; fail "digest of new differs from old for $1"; }
}

# mut SIDE CMD OUT [options]: tests/tools/mutate.py on user $U's account on SIDE
# (old|new), JSON report in $T/OUT
mut() {
	local side=$1 cmd=$2 out=$3 port=$OLD_IMAPS_PORT
	shift 3
	[ "$side" = new ] && port=$NEW_IMAPS_PORT
	python3 "$TOOLS/mutate.py" "$cmd" --port "$port" --cafile "$LAB_CA" --user "$U" \
		--password-file "$(pw "$U")" --json "$@" >"$T/$out" 2>"$T/$out.log" ||
		{ cat "$T/$out.log" >&2; fail "mutate.py $cmd on $side failed"; }
}

# verify_one OUT [options]: mailshift verify of user $U, JSON in $T/OUT; sets RC
verify_one() {
	local out=$1; shift
	RC=0
	"$MAILSHIFT" verify --json \
		--old "imaps://$U@127.0.0.1:$OLD_IMAPS_PORT" --old-password-file "$(pw "$U")" \
		--new "imaps://$U@127.0.0.1:$NEW_IMAPS_PORT" --new-password-file "$(pw "$U")" \
		--ca-file "$LAB_CA" "$@" >"$T/$out" 2>"$T/${out%.json}.err" || RC=$?
}

expect_rc() {
	[ "$RC" = "$1" ] || { cat "$T"/*.err >&2 2>/dev/null || true; fail "$2: exit $RC, expected $1"; }
}
