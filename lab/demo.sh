#!/bin/bash
# demo.sh — `make demo`: a parallel-run migration in miniature.
#
# Starts the lab (two real Dovecot servers on 127.0.0.1: "old", Courier-style
# with INBOX. prefix and '.' separator; "new", with '/' and SPECIAL-USE
# folders), fills two accounts on old with a sample office mailbox (Japanese
# folders, ISO-2022-JP mail, flags and keywords, a 5 MB attachment), writes a
# mailshift.conf with one group in phase "both", runs `mailshift sync`, then
# the parallel run: more mail on old, `mailshift relay` delivering new mail
# to both servers over LMTP (one trace id in both copies), a second sync
# that recognises the relayed mail instead of copying it, `mailshift
# verify`; proves the copy with an independent digest; then the DNS
# cutover on five NSD servers (`dns check` before and after the records are
# prepared, `dns watch` while they switch to the new MX); and leaves the
# IMAP lab running for you to look at.
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
unset OLD_IMAP_PORT OLD_IMAPS_PORT NEW_IMAP_PORT NEW_IMAPS_PORT OLD_LMTP_PORT NEW_LMTP_PORT
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
relay_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
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
	echo "smtp    = lmtp://127.0.0.1:$OLD_LMTP_PORT   ; the relay delivers here (STARTTLS, verified)"
	echo
	echo "[new]"
	echo "imap    = imap://127.0.0.1:$NEW_IMAP_PORT      ; STARTTLS, verified"
	echo "ca_file = $LAB_CA"
	echo "smtp    = lmtp://127.0.0.1:$NEW_LMTP_PORT"
	echo
	echo "[relay]"
	echo "listen   = 127.0.0.1:$relay_port"
	echo "hostname = relay.example.co.jp"
	echo "spool    = $demo/spool"
	echo "recipients = known"
	echo
	echo "[group sales]"
	echo "phase    = both           ; the parallel run: the relay delivers to old and new"
	echo "accounts = sales.csv"
} >"$cfg"
{
	echo "email,old_user,old_password,new_user,new_password"
	for u in alice bob carol; do
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
echo "== mailshift relay: new mail for carol goes to both servers (LMTP, STARTTLS verified)"
"$ms" relay -c "$cfg" >"$demo/relay.out" 2>"$demo/relay.log" &
relay_pid=$!
for _ in $(seq 1 50); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1',$relay_port),1).close()" \
		2>/dev/null && break
	sleep 0.1
done
ids=()
for i in 1 2 3; do
	swaks --server "127.0.0.1:$relay_port" --from "partner$i@example.net" \
		--to carol@example.co.jp --helo mx.example.net \
		--header "Subject: =?UTF-8?B?$(printf '見積書 No.%s' "$i" | base64 -w0)?=" \
		--body "relayed message $i" >"$demo/swaks-$i.txt" 2>&1 || true
	ids+=("$(sed -n 's/.*queued as \([0-9A-Z]\{20\}\).*/\1/p' "$demo/swaks-$i.txt" | tail -1)")
done
swaks --server "127.0.0.1:$relay_port" --from spammer@example.net --to someone@elsewhere.example \
	>"$demo/swaks-relay-attempt.txt" 2>&1 || true
for _ in $(seq 1 100); do
	[ -z "$(find "$demo/spool/queue" -type f 2>/dev/null)" ] && break
	sleep 0.1
done
echo "   3 messages accepted: ${ids[*]}"
echo "   a relay attempt to another domain: $(grep -o '550 5.7.1.*' "$demo/swaks-relay-attempt.txt" | head -1)"
echo "   mailshift trace ${ids[0]}:"
"$ms" trace -c "$cfg" "${ids[0]}" | sed 's/^/      /'
echo "   mailshift status:"
"$ms" status -c "$cfg" | sed 's/^/      /'
kill -TERM "$relay_pid" 2>/dev/null || true
wait "$relay_pid" 2>/dev/null || true

echo
echo "== mailshift sync again: the relayed mail is already on new (same trace id): nothing copied"
"$ms" sync -c "$cfg" --account carol@example.co.jp | sed -n 's/^\([a-z]*@[^:]*: .*\)/   \1/p'

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

echo
echo "== the DNS cutover: five NSD servers play the Internet's resolvers for migration.test"
if [ -x /usr/sbin/nsd ]; then
	"$top/lab/dns.sh" stop "$demo/dns" >/dev/null 2>&1 || true
	"$top/lab/dns.sh" start "$demo/dns" >/dev/null
	# shellcheck disable=SC1091
	. "$demo/dns/dns.env"
	check() {
		"$ms" dns check --domain migration.test --resolver "127.0.0.1:$DNS_PORT_1" \
			--ns-port "$DNS_PORT_1" --old-mx mx.old-host.test --new-mx mx.new-host.test \
			--old-ips 192.0.2.10 --new-ips 198.51.100.20 --old-selector default \
			--new-selector ms2026 --new-dkim-key "$DNS_NEW_DKIM_KEY" >"$demo/dns-check-$1.txt" || true
		echo "   dns check, zone in state '$1': $(grep '^summary:' "$demo/dns-check-$1.txt" || true)"
		{ grep -E '^  (WARN|FAIL)' "$demo/dns-check-$1.txt" || true; } | sed 's/^/   /' | head -6
	}
	check old
	"$top/lab/dns.sh" switch "$demo/dns" all both >/dev/null
	check both
	resolvers=()
	for p in $DNS_SERVERS; do resolvers+=(--resolver "$p"); done
	"$ms" dns watch --domain migration.test --expect mx.new-host.test "${resolvers[@]}" \
		--interval 1 --timeout 60 >"$demo/dns-watch.txt" 2>&1 &
	watch_pid=$!
	sleep 1.5
	for i in 1 2 3 4 5; do
		"$top/lab/dns.sh" switch "$demo/dns" "$i" new >/dev/null
		sleep 0.7
	done
	rc=0
	wait "$watch_pid" || rc=$?
	echo "   dns watch while the five servers switch to the new MX one by one (exit $rc):"
	sed 's/^/      /' "$demo/dns-watch.txt" | tail -7
	"$top/lab/dns.sh" stop "$demo/dns" >/dev/null
else
	echo "   (nsd is not installed: run make demo as root, or apt-get install nsd)"
fi

cat <<EOT

== where to look
   configuration      $cfg (accounts in $csv)
   sync report        $demo/sync.json
   servers            old imaps://127.0.0.1:$OLD_IMAPS_PORT   new imap://127.0.0.1:$NEW_IMAP_PORT (STARTTLS)
   CA certificate     $LAB_CA       passwords: $LAB_PASSWORD_DIR/
   server logs        $OLD_LOG
                      $NEW_LOG
   relay log          $demo/relay.log   (spool $demo/spool)
   dns reports        $demo/dns-check-old.txt  $demo/dns-check-both.txt  $demo/dns-watch.txt
   try it yourself    $ms sync -c $cfg
                      $ms relay -c $cfg      (then: swaks --server 127.0.0.1:$relay_port --to carol@example.co.jp)
   stop the lab       lab/lab.sh stop $demo/lab
EOT
[ $ok = 1 ]
