#!/bin/bash
# bench/run.sh — `make bench`: time mailshift's one-way IMAP copy against mbsync
# (isync 1.4) on a private Dovecot lab and print the figures side by side.
#
# What it does (see bench/README.md for how to read the result):
#   1. starts a fresh lab (lab/lab.sh) in a temporary directory, stopped on any exit;
#   2. fills old 'big' with BENCH_MESSAGES messages (default 10000) plus one message with
#      a BENCH_BIG_MB MiB attachment (default 20), using tests/tools/corpus.py;
#   3. copies old 'big' into an empty account on new, under /usr/bin/time, with
#        mailshift (MULTIAPPEND)        → new 'big'
#        mbsync                         → new 'carol'
#        mailshift --no-multiappend     → new 'alice'
#      BENCH_ROUNDS times (default 3), the tools interleaved; from the second round on,
#      each target account is emptied first (its maildir removed: no session is open);
#   4. verifies every copy right after it: mailshift's with digest.py compare
#      (byte-identical messages, flags, dates) over the folder map from its --json;
#      mbsync's by per-folder counts, and bodies/dates/flags with mbsync's known changes
#      (X-TUID header, keywords) taken out;
#   5. prints medians per tool and the ratios. Exit 0 only if every copy was complete.
#
# Environment: MAILSHIFT (default build/release/mailshift), MBSYNC (default mbsync),
# BENCH_MESSAGES, BENCH_BIG_MB, BENCH_ROUNDS, BENCH_KEEP=1 (keep the temporary directory).
# Everything runs on 127.0.0.1; no password is ever put on a command line or in a config.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MAILSHIFT=${MAILSHIFT:-$ROOT/build/release/mailshift}
MBSYNC=${MBSYNC:-mbsync}
MESSAGES=${BENCH_MESSAGES:-10000}
BIG_MB=${BENCH_BIG_MB:-20}
ROUNDS=${BENCH_ROUNDS:-3}
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
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "BENCH_ROUNDS must be a number from 1 to 99"

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

# Other work on the machine skews the wall-clock figures: each run also measures the
# CPU time the whole machine spent that is neither the tool's nor the lab servers'.
cpu_ticks() {      # non-idle ticks of all CPUs since boot (user nice system irq softirq steal)
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

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
step "old '$SRC': $SRC_MSGS messages, $SRC_BYTES bytes in $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["folders"]))' "$WORK/old.json") folders (appended in ${CORPUS_S}s)"

for u in $T_MS $T_MB $T_MS1; do
	digest new "$u" "$WORK/empty-$u.json"
	[ "$(total "$WORK/empty-$u.json")" -eq 0 ] || die "new '$u' is not empty before the copy"
done

# ---------------------------------------------------------------- measuring
# Server CPU: the copy is bound by the new server's APPEND work, so the CPU the servers
# spend on it is measured too. Each IMAPS session is an imap-login process (TLS) and an
# imap process, both children of the master and both gone at logout; the master's
# cutime+cstime (/proc/PID/stat fields 16, 17) then holds their CPU time.
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
# "seconds peak-RSS-KB user sys" → NAME.time, "old new all" ticks → NAME.srv. Dirty
# pages of earlier runs are written first so that no run pays for another's writeback.
timed() {
	local name=$1 rc=0 o0 n0 a0
	shift
	sync
	sessions_gone
	o0=$(srv_ticks "$OLD_PID") n0=$(srv_ticks "$NEW_PID") a0=$(cpu_ticks)
	"$TIME" -f '%e %M %U %S' -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
	sessions_gone
	echo "$(($(srv_ticks "$OLD_PID") - o0)) $(($(srv_ticks "$NEW_PID") - n0)) $(($(cpu_ticks) - a0))" \
		>"$WORK/$name.srv"
	if [ $rc -ne 0 ]; then
		echo "bench: $name exited with status $rc; command: $*" >&2
		echo "---- stderr (last 30 lines) ----" >&2
		tail -n 30 "$WORK/$name.err" >&2
		echo "---- stdout (last 10 lines) ----" >&2
		tail -n 10 "$WORK/$name.out" >&2
		return $rc
	fi
}
seconds() { tail -n 1 "$WORK/$1.time" | cut -d' ' -f1; }

# empty_account USER: remove the account's maildir on new (Dovecot keeps nothing of a
# user between sessions; it recreates the maildir and its auto folders at next login).
empty_account() {
	sessions_gone
	case $NEW_HOME_ROOT in /tmp/msbench.*/lab/new/home) ;; *) die "unexpected NEW_HOME_ROOT $NEW_HOME_ROOT" ;; esac
	rm -rf -- "${NEW_HOME_ROOT:?}/$1/Maildir"
}

# ---------------------------------------------------------------- verifying
# verify_mailshift NAME USER: its --json says all copied; digest.py compare says equal.
verify_mailshift() {
	local name=$1 u=$2
	python3 - "$WORK/$name.out" "$WORK/old.json" "$WORK/$name.map.json" "$SRC_MSGS" <<'PY' || return 1
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
    print("    FAIL: " + p)
sys.exit(1 if problems else 0)
PY
	digest new "$u" "$WORK/$name.new.json"
	if python3 "$TOOLS/digest.py" compare "$WORK/old.json" "$WORK/$name.new.json" \
		--map "$WORK/$name.map.json" >"$WORK/$name.compare" 2>&1; then
		echo "    verified: $(total "$WORK/$name.new.json") messages on new '$u'; digest.py compare: $(tail -n 1 "$WORK/$name.compare" | sed 's/^RESULT: //')"
	else
		echo "    FAIL: digest.py compare old '$SRC' / new '$u':"
		grep -v '^OK ' "$WORK/$name.compare" | head -n 40 | sed 's/^/    /'
		return 1
	fi
}

# verify_mbsync NAME USER: reads every message of the mbsync copy back.
verify_mbsync() {
	python3 - "$WORK/old.json" "$TOOLS" "$NEW_IMAPS_PORT" "$LAB_CA" "$2" "$PW/$2.pass" \
		"$WORK/$1.check.json" <<'PY'
# mbsync 1.4 adds an "X-TUID:" header line to each message it stores (its crash-recovery
# marker) and copies only the system flags and $Forwarded (its "Passed" flag), so bodies
# are compared with that line removed and flags as those it keeps; the other keywords it
# drops are counted.
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
KEPT = {"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "$Forwarded"}

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
fail, total_new, total_tuid, kw_lost, seen = [], 0, 0, 0, set()
for oname in sorted(old):
    nname = oname[6:].replace(".", "/") if oname.startswith("INBOX.") else oname
    want = old[oname]["messages"]
    if nname not in new:
        fail.append(f"{oname}: no folder {nname} on new ({len(want)} messages not copied)")
        continue
    seen.add(nname)
    got, tuid = read_folder(new[nname])
    total_new += len(got)
    total_tuid += tuid
    kw_lost += sum(1 for e in want if set(e[1]) - KEPT)
    exp = Counter((e[0], tuple(sorted(set(e[1]) & KEPT)), e[2]) for e in want)
    have = Counter((e[0], tuple(sorted(e[1])), e[2]) for e in got)
    if len(got) != len(want):
        fail.append(f"{oname} -> {nname}: old {len(want)} messages, new {len(got)}")
    elif exp != have:
        fail.append(f"{oname} -> {nname}: {sum((exp - have).values())} messages differ "
                    f"(body without X-TUID, flags it keeps, or date)")
s.logout()
extra = sorted(set(new) - seen)
print(f"    verified: {total_new} messages on new '{sys.argv[5]}' in {len(seen)} folders "
      f"(counts per folder equal: {'no' if any('messages,' in f or 'no folder' in f for f in fail) else 'yes'}); "
      f"{total_tuid} got an X-TUID header line, otherwise byte-identical: "
      f"{'no' if fail else 'yes'}; dates, system flags and $Forwarded kept; "
      f"{kw_lost} lost other keywords")
if extra:
    print("    new folders nothing was copied to: " + ", ".join(extra))
json.dump({"messages": total_new, "tuid": total_tuid, "keywords_lost": kw_lost},
          open(sys.argv[7], "w"))
for f in fail:
    print("    FAIL: " + f)
sys.exit(1 if fail else 0)
PY
}

# ---------------------------------------------------------------- mbsync config
# From bench/mbsyncrc.in. Folders that exist only on the new account before the copy
# (Dovecot's auto-created Junk) are excluded: see the template.
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
	case $f in *[[:space:]\"\'\\\$\`\|]*) die "$f: path unusable in an mbsync config" ;; esac
done
sed -e '/^#/d' -e "s|@OLD_PORT@|$OLD_IMAPS_PORT|" -e "s|@NEW_PORT@|$NEW_IMAPS_PORT|" \
	-e "s|@OLD_USER@|$SRC|" -e "s|@NEW_USER@|$T_MB|" \
	-e "s|@OLD_PASSWORD_FILE@|$PW/$SRC.pass|" -e "s|@NEW_PASSWORD_FILE@|$PW/$T_MB.pass|" \
	-e "s|@CA@|$LAB_CA|" -e "s|@STATE_DIR@|$WORK/mbsync-state|" -e "s|@EXCLUDES@|$EXCLUDES|" \
	"$ROOT/bench/mbsyncrc.in" >"$WORK/mbsyncrc"
! grep -q '@[A-Z_]*@' "$WORK/mbsyncrc" || die "unsubstituted name left in $WORK/mbsyncrc"
MBSYNC_VERSION=$("$MBSYNC" --version 2>&1 | head -n 1)
MAILSHIFT_VERSION=$("$MAILSHIFT" version 2>&1 | head -n 1)

# ---------------------------------------------------------------- the runs
MS_ARGS=(sync --old "imaps://$SRC@127.0.0.1:$OLD_IMAPS_PORT" --ca-file "$LAB_CA"
	--old-password-file "$PW/$SRC.pass" --json)
step "mailshift: $MAILSHIFT ($MAILSHIFT_VERSION) sync ... --json [--no-multiappend]"
step "mbsync: $MBSYNC_VERSION, Far :old: → Near :new:, Sync Pull, Create Near, Patterns *${EXCLUDES:+ $EXCLUDES}"
BAD=0
for r in $(seq 1 "$ROUNDS"); do
	step "round $r of $ROUNDS"
	if [ "$r" -gt 1 ]; then
		for u in $T_MS $T_MB $T_MS1; do empty_account "$u"; done
	fi

	echo "  mailshift: old '$SRC' → new '$T_MS'"
	timed "mailshift.$r" "$MAILSHIFT" "${MS_ARGS[@]}" --new "imaps://$T_MS@127.0.0.1:$NEW_IMAPS_PORT" \
		--new-password-file "$PW/$T_MS.pass" || die "mailshift failed (see above)"
	echo "    $(seconds "mailshift.$r") s"
	verify_mailshift "mailshift.$r" "$T_MS" || BAD=1

	echo "  mbsync: old '$SRC' → new '$T_MB'"
	rm -rf -- "$WORK/mbsync-state"
	mkdir -m 0700 "$WORK/mbsync-state"
	timed "mbsync.$r" "$MBSYNC" -c "$WORK/mbsyncrc" copy || die "mbsync failed (see above)"
	echo "    $(seconds "mbsync.$r") s"
	if [ -s "$WORK/mbsync.$r.err" ]; then
		echo "    mbsync wrote to stderr:"
		sed 's/^/    | /' "$WORK/mbsync.$r.err"
	fi
	verify_mbsync "mbsync.$r" "$T_MB" || BAD=1

	echo "  mailshift --no-multiappend: old '$SRC' → new '$T_MS1'"
	timed "mailshift1.$r" "$MAILSHIFT" "${MS_ARGS[@]}" --new "imaps://$T_MS1@127.0.0.1:$NEW_IMAPS_PORT" \
		--new-password-file "$PW/$T_MS1.pass" --no-multiappend || die "mailshift --no-multiappend failed (see above)"
	echo "    $(seconds "mailshift1.$r") s"
	verify_mailshift "mailshift1.$r" "$T_MS1" || BAD=1
done

# ---------------------------------------------------------------- table
python3 - "$WORK" "$ROUNDS" "$SRC_BYTES" "$MBSYNC_VERSION" "$FSYNC" "$FSYNC_OLD" \
	"$MAILSHIFT_VERSION" <<'PY'
import json, os, statistics, sys
work, rounds, src_bytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
mbv, fsync_new, fsync_old, msv = sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7]
hz = os.sysconf("SC_CLK_TCK")
ncpu = os.cpu_count() or 1
mb = src_bytes / 1e6

def run(name, r):
    line = open(f"{work}/{name}.{r}.time").read().strip().splitlines()[-1]
    sec, kb, user, sys_ = line.split()
    o, n, a = (int(x) for x in open(f"{work}/{name}.{r}.srv").read().split())
    tool = float(user) + float(sys_)
    if name == "mbsync":
        msgs = json.load(open(f"{work}/{name}.{r}.check.json"))["messages"]
    else:
        msgs = json.load(open(f"{work}/{name}.{r}.out"))["copied"]
    return {"sec": float(sec), "rss": int(kb) / 1024, "tool": tool, "old": o / hz, "new": n / hz,
            # CPU the machine spent on anything else meanwhile (other users' work, kernel
            # threads such as writeback; /proc/stat and rusage round differently: clamp)
            "other": max(0.0, a / hz - tool - o / hz - n / hz), "msgs": msgs}

tools = [("mailshift", "mailshift"), ("mbsync", mbv.replace("isync", "mbsync")),
         ("mailshift1", "mailshift --no-multiappend")]
res = {k: [run(k, r) for r in range(1, rounds + 1)] for k, _ in tools}
med = lambda k, f: statistics.median(x[f] for x in res[k])

print()
print(f"one-way copy old → new over IMAPS on 127.0.0.1: {res['mailshift'][0]['msgs']} messages, "
      f"{mb:.1f} MB; {ncpu} CPUs; Dovecot mail_fsync = {fsync_new} (new), {fsync_old} (old); "
      f"{msv}; median of {rounds} round{'s' if rounds > 1 else ''}")
print()
w = 26
print(f"{'':<{w}} {'':>8} {'':>6} {'':>15} {'':>7} {'':>6} {'peak RSS':>9}  "
      f"{' CPU seconds ':-^33}")
hdr = (f"{'tool':<{w}} {'messages':>8} {'MB':>6} {'seconds (range)':>15} {'msgs/s':>7} {'MB/s':>6} "
       f"{'MiB':>9}  {'tool':>6} {'old srv':>8} {'new srv':>8} {'other':>7}")
print(hdr)
print("-" * len(hdr))
for k, label in tools:
    sec = med(k, "sec")
    lo, hi = min(x["sec"] for x in res[k]), max(x["sec"] for x in res[k])
    rng = f"{sec:.2f} ({lo:.0f}-{hi:.0f})" if rounds > 1 else f"{sec:.2f}"
    msgs = min(x["msgs"] for x in res[k])
    print(f"{label:<{w}} {msgs:>8} {mb:>6.1f} {rng:>15} {msgs / sec:>7.0f} {mb / sec:>6.2f} "
          f"{max(x['rss'] for x in res[k]):>9.1f}  {med(k, 'tool'):>6.2f} {med(k, 'old'):>8.2f} "
          f"{med(k, 'new'):>8.2f} {med(k, 'other'):>7.2f}")
print()
def ratio(a, b):
    return f"x{a / b:.2f}" if b else "n/a"
s_ms, s_mb, s_1 = med("mailshift", "sec"), med("mbsync", "sec"), med("mailshift1", "sec")
print(f"mailshift / mbsync:            throughput {ratio(s_mb, s_ms)}   peak RSS "
      f"{ratio(max(x['rss'] for x in res['mailshift']), max(x['rss'] for x in res['mbsync']))}   "
      f"new-server CPU {ratio(med('mailshift', 'new'), med('mbsync', 'new'))}")
print(f"MULTIAPPEND / --no-multiappend: throughput {ratio(s_1, s_ms)}   "
      f"new-server CPU {ratio(med('mailshift', 'new'), med('mailshift1', 'new'))}")
print()
print("MB = 10^6 bytes of the source messages (RFC 822 sizes, the same for every row); seconds = "
      "wall clock, median (and range) over the rounds; peak RSS = largest of the rounds; "
      "CPU seconds (medians): tool = user+sys of the tool, old/new srv = the Dovecot imap and "
      "imap-login (TLS) processes that served it, other = everything else the machine ran "
      "meanwhile.")
busy = [(k, r + 1, x) for k, _ in tools for r, x in enumerate(res[k])
        if x["other"] > 0.25 * ncpu * x["sec"]]
if busy:
    print("WARNING: other work used more than a quarter of the CPUs during "
          + ", ".join(f"{k} round {r} ({x['other']:.1f} CPU s in {x['sec']:.1f} s)" for k, r, x in busy)
          + ": wall-clock seconds and rates are skewed (the copy is bound by the new server's "
          "APPEND work); compare CPU seconds, or rerun on an idle machine.")
PY

if [ $BAD -ne 0 ]; then
	die "VERIFICATION FAILED: at least one copy was incomplete or wrong (see FAIL lines above)"
fi
step "every copy verified complete"

# ---------------------------------------------------------------- relay
# The relay bench (bench/relay_bench.sh, README "The relay bench"): mailshift relay against
# Postfix with recipient_bcc_maps. BENCH_RELAY=0 skips it.
if [ "${BENCH_RELAY:-1}" != 0 ]; then
	MAILSHIFT=$MAILSHIFT "$ROOT/bench/relay_bench.sh"
fi
