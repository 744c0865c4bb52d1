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

# Other work on the machine skews the wall-clock figures (Dovecot's CPU bounds the copy): say so.
# busy: processes (not this lab's Dovecot) that used >= 20% of a CPU over their lifetime.
busy() {
	ps -eo pcpu=,pid=,comm= --sort=-pcpu | awk -v me=$$ '
		$1 >= 20 && $2 != me && $3 !~ /^(dovecot|imap|imap-login|auth|config|anvil|log|stats)$/ {
			printf "%s%s pid %s %s%%", sep, $3, $2, $1; sep = ", " }'
}
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
BUSY_START=$(busy)

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
# Server CPU: the copy is bound by Dovecot's work, so the CPU seconds the servers spend
# on it are measured too. Each IMAPS session is an imap-login process (TLS) and an imap
# process, both children of the master, both gone at logout; the master's cutime+cstime
# (/proc/PID/stat fields 16, 17) then holds their CPU time. A figure that other load on
# the machine barely changes, unlike wall seconds.
srv_ticks() {
	awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$1/stat"
}
sessions_gone() {  # wait (up to 10 s) until no imap or imap-login process of the lab is left
	for _ in $(seq 1 100); do
		pgrep -x -P "$OLD_PID,$NEW_PID" 'imap|imap-login' >/dev/null || return 0
		sleep 0.1
	done
	echo "bench: IMAP sessions still open 10 s after the tool exited; server CPU figures are low" >&2
}

# timed NAME CMD...: run CMD under /usr/bin/time; stdout → NAME.out, stderr → NAME.err,
# "seconds peak-RSS-KB user sys" → NAME.time, "old-ticks new-ticks" → NAME.srv. Dirty
# pages of the previous run are written first so that no run pays for another's writeback.
timed() {
	local name=$1 rc=0 o0 n0
	shift
	sync
	sessions_gone
	o0=$(srv_ticks "$OLD_PID") n0=$(srv_ticks "$NEW_PID")
	"$TIME" -f '%e %M %U %S' -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
	sessions_gone
	echo "$(($(srv_ticks "$OLD_PID") - o0)) $(($(srv_ticks "$NEW_PID") - n0))" >"$WORK/$name.srv"
	if [ $rc -ne 0 ]; then
		echo "bench: $name exited with status $rc; command: $*" >&2
		echo "---- stderr (last 30 lines) ----" >&2
		tail -n 30 "$WORK/$name.err" >&2
		echo "---- stdout (last 10 lines) ----" >&2
		tail -n 10 "$WORK/$name.out" >&2
		return $rc
	fi
}

MS_ARGS=(sync --old "imaps://$SRC@127.0.0.1:$OLD_IMAPS_PORT" --ca-file "$LAB_CA"
	--old-password-file "$PW/$SRC.pass" --json)

step "mailshift: old '$SRC' → new '$T_MS' (MULTIAPPEND)"
timed mailshift "$MAILSHIFT" "${MS_ARGS[@]}" --new "imaps://$T_MS@127.0.0.1:$NEW_IMAPS_PORT" \
	--new-password-file "$PW/$T_MS.pass" || die "mailshift failed (see above)"

# mbsync: the config comes from bench/mbsyncrc.in. Folders that exist only on the new
# account before the copy (Dovecot's auto-created Junk) are excluded: see the template.
EXCLUDES=$(python3 - "$WORK/old.json" "$WORK/empty-$T_MB.json" "$TOOLS" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[3])
import imaputil as U
old = json.load(open(sys.argv[1]))["folders"]
new = json.load(open(sys.argv[2]))["folders"]
# mbsync's canonical names: old's NAMESPACE prefix "INBOX." stripped, '.' becomes '/'.
mapped = {n[6:].replace(".", "/") if n.startswith("INBOX.") else n for n in old}
out = []
for n in sorted(set(new) - mapped):
    raw = U.mutf7_encode(n)          # mbsync 1.4 matches patterns against raw mUTF-7 names
    if '"' in raw or "\\" in raw:
        sys.exit(f"cannot exclude folder {n!r} in an mbsync pattern")
    out.append(f'"!{raw}"')
print(" ".join(out))
PY
)
for f in "$LAB_CA" "$PW/$SRC.pass" "$PW/$T_MB.pass" "$WORK"; do
	case $f in *[[:space:]\"\'\\\$\`]*) die "$f: path unusable in an mbsync config" ;; esac
done
mkdir -m 0700 "$WORK/mbsync-state"
sed -e '/^#/d' -e "s|@OLD_PORT@|$OLD_IMAPS_PORT|" -e "s|@NEW_PORT@|$NEW_IMAPS_PORT|" \
	-e "s|@OLD_USER@|$SRC|" -e "s|@NEW_USER@|$T_MB|" \
	-e "s|@OLD_PASSWORD_FILE@|$PW/$SRC.pass|" -e "s|@NEW_PASSWORD_FILE@|$PW/$T_MB.pass|" \
	-e "s|@CA@|$LAB_CA|" -e "s|@STATE_DIR@|$WORK/mbsync-state|" -e "s|@EXCLUDES@|$EXCLUDES|" \
	"$ROOT/bench/mbsyncrc.in" >"$WORK/mbsyncrc"
! grep -q '@[A-Z_]*@' "$WORK/mbsyncrc" || die "unsubstituted name left in $WORK/mbsyncrc"
MBSYNC_VERSION=$("$MBSYNC" --version 2>&1 | head -n 1)

step "mbsync ($MBSYNC_VERSION): old '$SRC' → new '$T_MB' (Sync Pull, Create Near${EXCLUDES:+, Patterns * $EXCLUDES})"
timed mbsync "$MBSYNC" -c "$WORK/mbsyncrc" copy || die "mbsync failed (see above)"
if [ -s "$WORK/mbsync.err" ]; then
	echo "bench: mbsync wrote to stderr:" >&2
	sed 's/^/  | /' "$WORK/mbsync.err" >&2
fi

step "mailshift --no-multiappend: old '$SRC' → new '$T_MS1'"
timed mailshift1 "$MAILSHIFT" "${MS_ARGS[@]}" --new "imaps://$T_MS1@127.0.0.1:$NEW_IMAPS_PORT" \
	--new-password-file "$PW/$T_MS1.pass" --no-multiappend || die "mailshift --no-multiappend failed (see above)"

BUSY_END=$(busy)

# ---------------------------------------------------------------- verification
BAD=0
for run in mailshift:$T_MS mailshift1:$T_MS1; do
	name=${run%%:*} u=${run#*:}
	step "verifying $name's copy in new '$u' (digest.py compare, map from its --json)"
	python3 - "$WORK/$name.out" "$WORK/old.json" "$WORK/$name.map.json" "$SRC_MSGS" <<'PY' || BAD=1
import json, sys
doc = json.load(open(sys.argv[1]))
old = json.load(open(sys.argv[2]))["folders"]
acc = doc["accounts"][0]
m = {f["old"]: f["new"] for f in acc["folders"]}
json.dump(m, open(sys.argv[3], "w"), ensure_ascii=False)
problems = []
if doc.get("exit") != 0 or acc.get("status") != "ok":
    problems.append(f"exit {doc.get('exit')}, status {acc.get('status')}, error {acc.get('error')}")
if acc["copied"] != int(sys.argv[4]) or acc["failed"] or acc["skipped"]:
    problems.append(f"copied {acc['copied']} skipped {acc['skipped']} failed {acc['failed']} "
                    f"of {sys.argv[4]}")
unmapped = sorted(set(old) - set(m))
if unmapped:
    problems.append("old folders missing from its --json: " + ", ".join(unmapped))
for p in problems:
    print("  FAIL: " + p)
sys.exit(1 if problems else 0)
PY
	digest new "$u" "$WORK/new-$u.json"
	if python3 "$TOOLS/digest.py" compare "$WORK/old.json" "$WORK/new-$u.json" \
		--map "$WORK/$name.map.json" >"$WORK/$name.compare" 2>&1; then
		echo "  $(tail -n 1 "$WORK/$name.compare"); $(total "$WORK/new-$u.json") messages on new '$u'"
	else
		BAD=1
		echo "  FAIL: digest.py compare old '$SRC' / new '$u':" >&2
		grep -v '^OK ' "$WORK/$name.compare" | head -n 40 >&2
	fi
done

step "verifying mbsync's copy in new '$T_MB' (counts per folder; bodies, dates, flags)"
python3 - "$WORK/old.json" "$TOOLS" "$NEW_IMAPS_PORT" "$LAB_CA" "$T_MB" "$PW/$T_MB.pass" \
	"$WORK/mbsync.check.json" <<'PY' || BAD=1
# Reads every message of the mbsync copy. mbsync 1.4 adds an "X-TUID:" header line to
# each message it stores (its crash-recovery marker) and copies only the system flags and
# $Forwarded (its "Passed" flag), so bodies are compared with that line removed and flags
# as those it keeps; the other keywords it drops are counted.
import hashlib, json, re, sys
from collections import Counter
sys.path.insert(0, sys.argv[2])
import imaputil as U
import digest as D

old = json.load(open(sys.argv[1]))["folders"]
imap = U.connect("127.0.0.1", int(sys.argv[3]), "imaps", sys.argv[4], sys.argv[5],
                 U.read_password_file(sys.argv[6]))
s = U.Session(imap)
TUID = re.compile(rb"^X-TUID: [^\r\n]*\r\n", re.M)
SYSTEM = {"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "$Forwarded"}

def read_folder(f):
    _, un = s.run(b"EXAMINE " + U.imap_quote(f.raw))
    exists = sum(int(x.tokens[0]) for x in un if D.word(x, 1) == b"EXISTS")
    out, tuid = [], 0
    for lo in range(1, exists + 1, 500):
        hi = min(lo + 499, exists)
        _, un = s.run(b"FETCH %d:%d (FLAGS INTERNALDATE BODY.PEEK[])" % (lo, hi))
        for x in un:
            if D.word(x, 1) != b"FETCH":
                continue
            _, d = U.fetch_items(x.tokens)
            body = bytes(d[b"BODY[]"] or b"")
            end = body.find(b"\r\n\r\n")
            head, rest = (body, b"") if end < 0 else (body[:end + 2], body[end + 2:])
            head, n = TUID.subn(b"", head, count=1)
            tuid += n
            out.append((hashlib.sha256(head + rest).hexdigest(), tuple(D.norm_flags(d[b"FLAGS"])),
                        U.internaldate_to_epoch(d[b"INTERNALDATE"])))
    if len(out) != exists:
        raise U.ImapError(f"{f.name}: EXISTS {exists}, FETCH returned {len(out)}")
    return out, tuid

new = {f.name: f for f in U.list_folders(s)
       if "\\noselect" not in f.attrs and "\\nonexistent" not in f.attrs}
fail, total_new, total_tuid, kw_lost, rows = [], 0, 0, 0, []
for oname in sorted(old):
    nname = oname[6:].replace(".", "/") if oname.startswith("INBOX.") else oname
    want = old[oname]["messages"]
    if nname not in new:
        fail.append(f"{oname}: no folder {nname} on new ({len(want)} messages not copied)")
        continue
    got, tuid = read_folder(new[nname])
    total_new += len(got)
    total_tuid += tuid
    kw_lost += sum(1 for e in want if set(e[1]) - SYSTEM)
    exp = Counter((e[0], tuple(sorted(set(e[1]) & SYSTEM)), e[2]) for e in want)
    have = Counter((e[0], tuple(sorted(e[1])), e[2]) for e in got)
    if len(got) != len(want):
        fail.append(f"{oname} -> {nname}: old {len(want)} messages, new {len(got)}")
    elif exp != have:
        fail.append(f"{oname} -> {nname}: {sum((exp - have).values())} messages differ "
                    f"(body without X-TUID, system flags/$Forwarded or date)")
    rows.append((nname, len(want), len(got)))
s.logout()
extra = sorted(set(new) - {r[0] for r in rows})
for n, w, g in rows:
    print(f"  {'OK  ' if w == g else 'DIFF'}  {n}: old {w}, new {g}")
print(f"  mbsync: {total_new} messages on new; {total_tuid} got an X-TUID header "
      f"(bodies otherwise byte-identical: {'yes' if not fail else 'see FAIL'}); dates, "
      f"system flags and $Forwarded kept; {kw_lost} messages lost other keywords "
      f"($Junk, $NotJunk, $MDNSent, Project_X, ...)")
if extra:
    print("  new folders nothing maps to: " + ", ".join(extra))
json.dump({"messages": total_new, "tuid": total_tuid, "keywords_lost": kw_lost},
          open(sys.argv[7], "w"))
for f in fail:
    print("  FAIL: " + f)
sys.exit(1 if fail else 0)
PY

# ---------------------------------------------------------------- table
LOAD_END=$(cut -d' ' -f1 /proc/loadavg)
python3 - "$WORK" "$SRC_BYTES" "$MBSYNC_VERSION" "$FSYNC" "$FSYNC_OLD" "$("$MAILSHIFT" version 2>&1 | head -n 1)" \
	"$LOAD_START" "$LOAD_END" "$BUSY_START" "$BUSY_END" <<'PY'
import json, os, sys
work, src_bytes = sys.argv[1], int(sys.argv[2])
mbv, fsync_new, fsync_old, msv = sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
load_start, load_end = float(sys.argv[7]), float(sys.argv[8])
busy = "; ".join(x for x in (sys.argv[9] and "before: " + sys.argv[9],
                               sys.argv[10] and "after the timed runs: " + sys.argv[10]) if x)
hz = os.sysconf("SC_CLK_TCK")
def t(name):
    line = open(os.path.join(work, name + ".time")).read().strip().splitlines()[-1]
    sec, kb, user, sys_ = line.split()
    o, n = open(os.path.join(work, name + ".srv")).read().split()
    return float(sec), int(kb), float(user) + float(sys_), int(o) / hz, int(n) / hz
def ms_count(name):
    return json.load(open(os.path.join(work, name + ".out")))["copied"]
rows = [
    ("mailshift", ms_count("mailshift"), *t("mailshift")),
    (mbv.replace("isync", "mbsync"), json.load(open(os.path.join(work, "mbsync.check.json")))["messages"],
     *t("mbsync")),
    ("mailshift --no-multiappend", ms_count("mailshift1"), *t("mailshift1")),
]
mb = src_bytes / 1e6
print()
print(f"one-way copy old → new, IMAPS on 127.0.0.1, {os.cpu_count()} CPUs; "
      f"Dovecot mail_fsync = {fsync_new} (new), {fsync_old} (old); {msv}")
print(f"{'':<26} {'':>8} {'':>6} {'':>8} {'':>7} {'':>6} {'peak RSS':>9}  {'CPU seconds':-^26}")
hdr = (f"{'tool':<26} {'messages':>8} {'MB':>6} {'seconds':>8} {'msgs/s':>7} {'MB/s':>6} {'MiB':>9}"
       f"  {'tool':>6} {'old srv':>9} {'new srv':>9}")
print(hdr)
print("-" * len(hdr))
rate = {}
for name, n, sec, kb, cpu, so, sn in rows:
    s = max(sec, 0.01)
    rate[name] = (n / s, mb / s, kb / 1024, sn)
    print(f"{name:<26} {n:>8} {mb:>6.1f} {sec:>8.2f} {n / s:>7.0f} {mb / s:>6.2f} {kb / 1024:>9.1f}"
          f"  {cpu:>6.2f} {so:>9.2f} {sn:>9.2f}")
ms, mbs, ms1 = (rate[r[0]] for r in rows)
ratio = lambda a, b: f"x{a / b:.2f}" if b else "n/a"
print()
print(f"mailshift / mbsync:  msgs/s {ratio(ms[0], mbs[0])}   MB/s {ratio(ms[1], mbs[1])}   "
      f"peak RSS {ratio(ms[2], mbs[2])}   new-server CPU {ratio(ms[3], mbs[3])}")
print(f"mailshift MULTIAPPEND / --no-multiappend:  msgs/s {ratio(ms[0], ms1[0])}   "
      f"new-server CPU {ratio(ms[3], ms1[3])}")
ncpu = os.cpu_count() or 1
print(f"load average (1 min) {load_start:.2f} before the lab started, {load_end:.2f} at the end "
      "(the bench's own Dovecot and tools count in the second)")
if busy or load_start > 0.5 * ncpu:
    print("WARNING: other processes were using the CPUs" + (f" ({busy})" if busy else "") +
          "; the copy is bound by the new Dovecot's APPEND work (CPU and fsyncs), so seconds "
          "and rates are skewed (CPU seconds much less): rerun on an idle machine")
print("MB = 10^6 bytes of the source messages (RFC 822 sizes, the same for every row); seconds = "
      "wall clock; peak RSS and tool CPU (user+sys) from /usr/bin/time; old/new srv = CPU of the "
      "Dovecot imap and imap-login (TLS) processes serving that run.")
PY

if [ $BAD -ne 0 ]; then
	die "VERIFICATION FAILED: at least one tool did not copy everything (see FAIL lines above)"
fi
step "all three copies verified complete"
