#!/bin/bash
# demo.sh — `make demo`: a parallel-run migration in miniature.
#
# Starts the lab (two real Dovecot servers on 127.0.0.1: "old", Courier-style
# with INBOX. prefix and '.' separator; "new", with '/' and SPECIAL-USE
# folders), fills two accounts on old with a sample office mailbox (Japanese
# folders, ISO-2022-JP mail, flags and keywords, a 5 MB attachment), writes a
# mailshift.conf with one group, runs `mailshift sync`, proves the copy with
# an independent digest, and leaves the lab running for you to look at.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
demo=${MAILSHIFT_DEMO_DIR:-/tmp/mailshift-demo}
ms=${MAILSHIFT:-$top/build/release/mailshift}

if [ -d "$demo" ]; then
	"$top/lab/lab.sh" stop "$demo/lab" >/dev/null 2>&1 || true
	rm -rf "$demo"
fi
mkdir -p "$demo"
chmod 755 "$demo"
unset OLD_IMAP_PORT OLD_IMAPS_PORT NEW_IMAP_PORT NEW_IMAPS_PORT
echo "== starting the lab (two Dovecot servers on 127.0.0.1)"
"$top/lab/lab.sh" start "$demo/lab"
# shellcheck disable=SC1091
. "$demo/lab/lab.env"

echo
echo "== filling the old server: alice (600 messages + a 5 MB attachment), bob (300)"
for u in alice bob; do
	n=300; big=0
	[ $u = alice ] && { n=600; big=5; }
	python3 "$top/tests/tools/corpus.py" --port "$OLD_IMAPS_PORT" --cafile "$LAB_CA" --user $u \
		--password-file "$LAB_PASSWORD_DIR/$u.pass" --messages $n --big-mb $big --seed demo \
		| sed 's/^/   /' | head -20
done

cfg=$demo/mailshift.conf
csv=$demo/sales.csv
{
	echo "; written by make demo: the lab's two servers"
	echo "[migration]"
	echo "domains = example.co.jp"
	echo "state   = sqlite:$demo/state.db"
	echo
	echo "[old]"
	echo "imap    = imaps://127.0.0.1:$OLD_IMAPS_PORT"
	echo "ca_file = $LAB_CA"
	echo
	echo "[new]"
	echo "imap    = imap://127.0.0.1:$NEW_IMAP_PORT      ; STARTTLS, verified"
	echo "ca_file = $LAB_CA"
	echo
	echo "[group sales]"
	echo "phase    = old"
	echo "accounts = sales.csv"
} >"$cfg"
{
	echo "email,old_user,old_password,new_user,new_password"
	for u in alice bob; do
		p=$(cat "$LAB_PASSWORD_DIR/$u.pass")
		echo "$u@example.co.jp,$u,$p,$u,$p"
	done
} >"$csv"
chmod 600 "$csv"

echo
echo "== mailshift sync -c $cfg"
"$ms" sync -c "$cfg" --json >"$demo/sync.json" || true
python3 - "$demo/sync.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for a in d["accounts"]:
    print(f"   {a['account']}: {a['status']}, {a['copied']} of {a['messages']} messages copied "
          f"({a['bytes']/1e6:.1f} MB, {a['msgs_per_sec']:.0f} msgs/s), {a['failed']} failed")
    for f in a["folders"]:
        print(f"      {f['old']:<24} -> {f['new']:<16} {f['copied']:>5} copied")
PY

echo
echo "== the parallel run: new mail on old, a flag changed, then mailshift sync again"
python3 "$top/tests/tools/mutate.py" add --port "$OLD_IMAPS_PORT" --cafile "$LAB_CA" --user alice \
	--password-file "$LAB_PASSWORD_DIR/alice.pass" --folder INBOX --count 3 --seed demo2 >/dev/null
python3 "$top/tests/tools/mutate.py" flags --port "$OLD_IMAPS_PORT" --cafile "$LAB_CA" --user alice \
	--password-file "$LAB_PASSWORD_DIR/alice.pass" --count 2 --seed demo3 >/dev/null
"$ms" sync -c "$cfg" | sed -n 's/^\([a-z]*@[^:]*: .*\)/   \1/p'

echo
echo "== mailshift verify -c $cfg"
"$ms" verify -c "$cfg" | sed 's/^/   /' || true

echo
echo "== checking independently: digest of every message, its flags and date, old vs new"
ok=1
for u in alice bob; do
	for side in old new; do
		if [ $side = old ]; then port=$OLD_IMAPS_PORT; else port=$NEW_IMAPS_PORT; fi
		python3 "$top/tests/tools/digest.py" --port "$port" --cafile "$LAB_CA" --user $u \
			--password-file "$LAB_PASSWORD_DIR/$u.pass" --json >"$demo/$u-$side.json"
	done
	"$ms" sync -c "$cfg" --json --account "$u@example.co.jp" >"$demo/sync-$u.json" || true
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); u=sys.argv[2]
json.dump({f["old"]: f["new"] for a in d["accounts"] if a["account"].startswith(u+"@") for f in a["folders"]}, open(sys.argv[3],"w"), ensure_ascii=False)' \
		"$demo/sync-$u.json" $u "$demo/$u-map.json"
	if python3 "$top/tests/tools/digest.py" compare "$demo/$u-old.json" "$demo/$u-new.json" \
		--map "$demo/$u-map.json" >"$demo/$u-compare.txt"; then
		echo "   $u: every folder of new equals old (see $demo/$u-compare.txt)"
	else
		echo "   $u: DIFFERENCES (see $demo/$u-compare.txt)"; ok=0
	fi
done

cat <<EOT

== where to look
   configuration      $cfg (accounts in $csv)
   sync report        $demo/sync.json
   servers            old imaps://127.0.0.1:$OLD_IMAPS_PORT   new imap://127.0.0.1:$NEW_IMAP_PORT (STARTTLS)
   CA certificate     $LAB_CA       passwords: $LAB_PASSWORD_DIR/
   server logs        $OLD_LOG
                      $NEW_LOG
   try it yourself    $ms sync -c $cfg
   stop the lab       lab/lab.sh stop $demo/lab
EOT
[ $ok = 1 ]
