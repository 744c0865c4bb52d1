#!/bin/bash
# lab/lab.sh - a private test lab of two real Dovecot IMAP servers on 127.0.0.1.
#
#   lab/lab.sh start  DIR   create DIR (absent or empty), start "old" and "new", write DIR/lab.env
#   lab/lab.sh stop   DIR   stop both, wait until no process of the lab remains; idempotent
#   lab/lab.sh status DIR   print the state of both; exit 0 only when both answer
#
# Contract (see lab/README.md for the full list of DIR/lab.env variables):
#   - "old" is a Courier-like server: Maildir++, separator '.', namespace prefix "INBOX.",
#     no SPECIAL-USE flags.  "new" is Maildir LAYOUT=fs, separator '/', no prefix, with
#     \Sent \Drafts \Trash \Junk folders auto-created and subscribed, and a user "limited"
#     whose messages may not exceed 1 MiB (quota_max_mail_size: APPEND of a bigger one gets
#     NO [LIMIT]; APPENDLIMIT=1048576 is added to its CAPABILITY by hand, see write_auth).
#   - Both listen on 127.0.0.1 only: IMAP with STARTTLS and IMAPS, with a certificate for
#     127.0.0.1/localhost signed by a CA made at start.  Logging in without TLS fails even on
#     loopback (see "secured" below).
#   - Ports are chosen free at start (two labs never collide) unless OLD_IMAP_PORT,
#     OLD_IMAPS_PORT, NEW_IMAP_PORT, NEW_IMAPS_PORT are set in the environment.
#   - Passwords are random per lab and written only to DIR/passwords/<user>.pass (0600, no
#     trailing newline); Dovecot's passwd-files hold SHA512-CRYPT hashes only.
#   - As root, mail processes run as a dedicated numeric uid/gid (LAB_MAIL_UID/LAB_MAIL_GID,
#     default: the first uid >= 61000 that no account uses), login processes as dovenull and
#     internal ones as dovecot.  As an ordinary user everything runs as that user.
#
# SECURITY: DIR holds private keys and passwords; it is created 0711 and those parts 0700.
# Passwords never appear on a command line (they go to openssl through stdin).

set -euo pipefail

PROG=${0##*/}
HOST=127.0.0.1
DOVECOT=${DOVECOT:-$(command -v dovecot || echo /usr/sbin/dovecot)}
DOVECONF=${DOVECONF:-$(command -v doveconf || echo /usr/bin/doveconf)}
LAB_USERS_LIST="alice bob carol big limited diff1 kill1 uidv1 verify1 watch1 flags1 relay1"
MASTER_USER=msadmin
START_TIMEOUT=${LAB_START_TIMEOUT:-20}
STOP_TIMEOUT=${LAB_STOP_TIMEOUT:-20}

die() { echo "$PROG: $*" >&2; exit 1; }
note() { echo "$PROG: $*" >&2; }

usage() {
	echo "usage: $PROG start|stop|status DIR" >&2
	exit 2
}

# ---------------------------------------------------------------- helpers

abspath() {
	# DIR may not exist yet; its parent must.
	local d=$1 parent base
	parent=$(dirname -- "$d")
	base=$(basename -- "$d")
	if [ ! -d "$parent" ]; then
		[ "$CMD" = start ] && die "$parent does not exist: create the parent of the lab directory first"
		echo "$d"
		return 0
	fi
	parent=$(cd -- "$parent" && pwd -P)
	if [ "$parent" = / ]; then echo "/$base"; else echo "$parent/$base"; fi
}

# Is something listening on 127.0.0.1:$1 ?  (bash's /dev/tcp, no external tool)
port_open() {
	(exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# Can we bind 127.0.0.1:$1 right now?
port_free() {
	python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

# Print one free port below the kernel's ephemeral range (so that no outgoing connection
# takes it later) and not in the list of ports already picked ($*).
pick_port() {
	local lo=15000 hi=30000 p tries=0
	while [ $tries -lt 200 ]; do
		tries=$((tries + 1))
		p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo)))
		case " $* " in *" $p "*) continue ;; esac
		if port_free "$p" && ! port_open "$p"; then
			echo "$p"
			return 0
		fi
	done
	die "found no free port in $lo-$hi"
}

random_password() {
	# 24 characters of [A-Za-z0-9]: nothing that needs quoting in IMAP or a shell.
	local pw
	pw=$(head -c 64 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9')
	pw=${pw:0:24}
	[ ${#pw} -eq 24 ] || die "could not make a random password"
	printf '%s' "$pw"
}

# SHA512-CRYPT hash of the password read from file $1 (stdin to openssl, not argv).
hash_password() {
	openssl passwd -6 -stdin <"$1" || die "openssl passwd -6 failed"
}

# The pid in $1 if that process is alive and runs dovecot with our config $2.
live_master_pid() {
	local pidfile=$1 conf=$2 pid
	[ -s "$pidfile" ] || return 1
	pid=$(cat "$pidfile" 2>/dev/null) || return 1
	case $pid in '' | *[!0-9]*) return 1 ;; esac
	[ -r "/proc/$pid/cmdline" ] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$conf" || return 1
	echo "$pid"
}

# All descendants of pid $1 (children first level and below), from /proc.
descendants() {
	local root=$1
	python3 - "$root" <<'EOF'
import os, sys
root = int(sys.argv[1])
kids = {}
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    try:
        with open(f"/proc/{d}/stat") as f:
            st = f.read()
    except OSError:
        continue
    ppid = int(st[st.rindex(")") + 2:].split()[1])
    kids.setdefault(ppid, []).append(int(d))
out, todo = [], [root]
while todo:
    p = todo.pop()
    for c in kids.get(p, []):
        out.append(c)
        todo.append(c)
print(" ".join(map(str, out)))
EOF
}

pids_alive() {
	local p n=0
	for p in "$@"; do
		[ -d "/proc/$p" ] && n=$((n + 1))
	done
	[ $n -gt 0 ]
}

# ---------------------------------------------------------------- identity

setup_identity() {
	if [ "$(id -u)" -eq 0 ]; then
		LOGIN_USER=dovenull
		INTERNAL_USER=dovecot
		id "$LOGIN_USER" >/dev/null 2>&1 || die "user $LOGIN_USER is missing (install dovecot-core)"
		id "$INTERNAL_USER" >/dev/null 2>&1 || die "user $INTERNAL_USER is missing (install dovecot-core)"
		INTERNAL_GROUP=$(id -gn "$INTERNAL_USER")
		if [ -n "${LAB_MAIL_UID:-}" ]; then
			MAIL_UID=$LAB_MAIL_UID
		else
			MAIL_UID=61000
			while getent passwd "$MAIL_UID" >/dev/null || getent group "$MAIL_UID" >/dev/null; do
				MAIL_UID=$((MAIL_UID + 1))
			done
		fi
		MAIL_GID=${LAB_MAIL_GID:-$MAIL_UID}
		case $MAIL_UID$MAIL_GID in *[!0-9]*) die "LAB_MAIL_UID/LAB_MAIL_GID must be numeric" ;; esac
		[ "$MAIL_UID" -ne 0 ] || die "LAB_MAIL_UID must not be 0"
		AS_ROOT=1
	else
		LOGIN_USER=$(id -un)
		INTERNAL_USER=$LOGIN_USER
		INTERNAL_GROUP=$(id -gn)
		MAIL_UID=$(id -u)
		MAIL_GID=$(id -g)
		AS_ROOT=0
	fi
}

# ---------------------------------------------------------------- TLS

make_tls() {
	local t=$1
	mkdir -m 0700 "$t"
	(
		cd "$t"
		umask 077
		openssl req -x509 -newkey rsa:2048 -nodes -days 30 -sha256 \
			-keyout ca.key -out ca.pem -subj "/O=mailshift lab/CN=mailshift lab CA" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
		openssl req -x509 -newkey rsa:2048 -nodes -days 30 -sha256 \
			-keyout other-ca.key -out other-ca.pem \
			-subj "/O=mailshift lab/CN=unrelated CA (wrong-CA tests)" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
		openssl req -new -newkey rsa:2048 -nodes -sha256 -keyout server.key -out server.csr \
			-subj "/O=mailshift lab/CN=127.0.0.1" 2>/dev/null
		cat >server.ext <<'EOF'
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost
EOF
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
			-days 30 -sha256 -extfile server.ext -out server.pem 2>/dev/null
		chmod 0644 ca.pem other-ca.pem server.pem
	) || die "making the lab certificates with openssl failed"
	# The CA certificates are public; the directory is not (keys).
	chmod 0711 "$t"
}

# ---------------------------------------------------------------- dovecot config

# write_conf NAME CONF PORT_IMAP PORT_IMAPS
write_conf() {
	local name=$1 conf=$2 pimap=$3 pimaps=$4 plmtp=${5:-}
	local idir=$DIR/$name
	local svc

	{
		cat <<EOF
# Generated by lab/lab.sh for the mailshift test lab ("$name" server). Regenerated at start.
instance_name = mslab-$LAB_ID-$name
base_dir = $BASE_DIR/$name
state_dir = $idir/state
log_path = $idir/dovecot.log
info_log_path = $idir/dovecot.log
log_timestamp = "%Y-%m-%d %H:%M:%S "
verbose_proctitle = yes

protocols = imap${plmtp:+ lmtp}
listen = $HOST
shutdown_clients = yes

default_login_user = $LOGIN_USER
default_internal_user = $INTERNAL_USER
default_internal_group = $INTERNAL_GROUP
first_valid_uid = $MAIL_UID
last_valid_uid = $MAIL_UID
first_valid_gid = $MAIL_GID
last_valid_gid = $MAIL_GID

# Benchmarks depend on this: pin it rather than inherit a default.
mail_fsync = optimized
mail_max_userip_connections = 100

ssl = yes
ssl_cert = <$DIR/tls/server.pem
ssl_key = <$DIR/tls/server.key
ssl_min_protocol = TLSv1.2

# Dovecot 2.3 treats a connection whose remote IP equals its local IP (any loopback
# connection to 127.0.0.1) as "secured" and then allows plaintext auth regardless of
# disable_plaintext_auth; there is no setting to turn that off.  The "deny" passdb below
# closes the gap: it refuses every user unless the connection really uses TLS
# (%{secured} is "TLS" only for IMAPS and after STARTTLS).
disable_plaintext_auth = yes
login_trusted_networks =
auth_mechanisms = plain login
auth_master_user_separator = *
auth_verbose = yes
auth_failure_delay = 0

passdb {
  driver = passwd-file
  args = $idir/auth/deny.%{secured}
  deny = yes
}
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT $idir/auth/master-users
  master = yes
  result_success = continue
}
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT $idir/auth/users
}
userdb {
  driver = passwd-file
  args = $idir/auth/users
}

service imap-login {
  inet_listener imap {
    address = $HOST
    port = $pimap
  }
  inet_listener imaps {
    address = $HOST
    port = $pimaps
    ssl = yes
  }
}
service imap {
  process_limit = 1024
}
EOF
		if [ -n "$plmtp" ]; then
			# LMTP (RFC 2033) for the relay's delivery into this server's
			# mailboxes: recipients are looked up without their domain.
			cat <<EOF

service lmtp {
  inet_listener lmtp {
    address = $HOST
    port = $plmtp
  }
}
protocol lmtp {
  auth_username_format = %Ln
}
EOF
		fi
		if [ "$AS_ROOT" -eq 0 ]; then
			# Only root may chroot(): these services chroot by default.
			echo
			echo "# Not root: no chroot for the services that chroot by default."
			for svc in anvil ipc old-stats aggregator director imap-login imap-urlauth-login; do
				printf 'service %s {\n  chroot =\n}\n' "$svc"
			done
		fi
		if [ "$name" = old ]; then
			cat <<'EOF'

# Courier / rental-server style: Maildir++, '.' separator, everything under "INBOX.",
# and no SPECIAL-USE flags on any folder.
mail_location = maildir:~/Maildir
namespace inbox {
  type = private
  separator = .
  prefix = INBOX.
  inbox = yes
}
EOF
		else
			cat <<'EOF'

# Modern layout: Maildir with one directory per folder, '/' separator, no prefix,
# special-use folders created and subscribed on first login.
mail_location = maildir:~/Maildir:LAYOUT=fs
namespace inbox {
  type = private
  separator = /
  prefix =
  inbox = yes
  mailbox Sent {
    special_use = \Sent
    auto = subscribe
  }
  mailbox Drafts {
    special_use = \Drafts
    auto = subscribe
  }
  mailbox Trash {
    special_use = \Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \Junk
    auto = subscribe
  }
}
EOF
		fi
	} >"$conf"
}

# write_auth NAME : passwd-files for instance NAME (users, master, deny lists)
write_auth() {
	local name=$1 a=$DIR/$1/auth u h extra
	mkdir -m 0750 "$a"
	: >"$a/users"
	for u in $LAB_USERS_LIST; do
		h=$(hash_password "$PW_DIR/$u.pass")
		extra=""
		if [ "$name" = new ] && [ "$u" = limited ]; then
			# Only this user loads the quota plugin (benchmarks on other users are not
			# affected).  quota_max_mail_size makes APPEND of a bigger message fail with
			# "NO [LIMIT]".  Dovecot 2.3 does not implement RFC 7889 (no APPENDLIMIT
			# capability, no STATUS APPENDLIMIT), so the capability is added by hand
			# for this user; set LAB_ADVERTISE_APPENDLIMIT=no to see stock behaviour.
			extra="userdb_mail_plugins=quota,imap_quota userdb_quota=count:limited userdb_quota_vsizes=yes userdb_quota_max_mail_size=1M"
			if [ "${LAB_ADVERTISE_APPENDLIMIT:-yes}" = yes ]; then
				extra="$extra userdb_imap_capability=+APPENDLIMIT=1048576"
			fi
		fi
		printf '%s:{SHA512-CRYPT}%s:%s:%s::%s::%s\n' "$u" "$h" "$MAIL_UID" "$MAIL_GID" \
			"$DIR/$name/home/$u" "$extra" >>"$a/users"
	done
	h=$(hash_password "$PW_DIR/$MASTER_USER.pass")
	printf '%s:{SHA512-CRYPT}%s\n' "$MASTER_USER" "$h" >"$a/master-users"
	# deny.TLS is empty: over TLS nobody is denied.  Every other value of %{secured}
	# ("secured" for loopback, "" for none) denies every user and the master user.
	: >"$a/deny.TLS"
	: >"$a/deny.secured"
	for u in $LAB_USERS_LIST $MASTER_USER; do
		printf '%s::\n' "$u" >>"$a/deny.secured"
	done
	cp "$a/deny.secured" "$a/deny."
	chmod 0640 "$a"/*
	if [ "$AS_ROOT" -eq 1 ]; then
		# The auth process runs as the internal user and reads these files.
		chgrp -R "$INTERNAL_GROUP" "$a"
	fi
}

# ---------------------------------------------------------------- start

instance_log_tail() {
	local name=$1
	echo "---- last lines of $DIR/$name/dovecot.log ----" >&2
	tail -n 30 "$DIR/$name/dovecot.log" 2>/dev/null >&2 || echo "(no log)" >&2
	if [ -s "$DIR/$name/start.err" ]; then
		echo "---- dovecot's own output ----" >&2
		cat "$DIR/$name/start.err" >&2
	fi
}

# Wait until the IMAP greeting comes on the plain port and the TLS port accepts.
wait_ready() {
	local name=$1 pimap=$2 pimaps=$3 pidfile=$4 conf=$5 deadline
	deadline=$((SECONDS + START_TIMEOUT))
	while [ $SECONDS -lt $deadline ]; do
		if live_master_pid "$pidfile" "$conf" >/dev/null && port_open "$pimap" && port_open "$pimaps"; then
			if python3 - "$pimap" <<'EOF' 2>/dev/null; then
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
sys.exit(0 if s.makefile("rb").readline().startswith(b"* OK") else 1)
EOF
				return 0
			fi
		fi
		sleep 0.1
	done
	return 1
}

# start_instance NAME: start one server and set <NAME>_IMAP_PORT / <NAME>_IMAPS_PORT.
# With ports from the environment it tries once; otherwise it retries with other free
# ports when a bind fails (another program may take a port between pick and bind).
start_instance() {
	local name=$1 conf=$DIR/$1/dovecot.conf pidfile=$BASE_DIR/$1/master.pid
	local upper pimap pimaps plmtp= fixed=0 rc
	upper=$(echo "$name" | tr "[:lower:]" "[:upper:]")
	eval "pimap=\${${upper}_IMAP_PORT:-}"
	eval "pimaps=\${${upper}_IMAPS_PORT:-}"
	if [ -n "$pimap" ] || [ -n "$pimaps" ]; then
		fixed=1
		if [ -z "$pimap" ] || [ -z "$pimaps" ]; then
			die "set both ${upper}_IMAP_PORT and ${upper}_IMAPS_PORT, or neither"
		fi
	fi
	for _ in 1 2 3 4 5 6; do
		if [ $fixed -eq 0 ]; then
			# shellcheck disable=SC2086 # a list of ports, split on purpose
			pimap=$(pick_port $USED_PORTS)
			# shellcheck disable=SC2086
			pimaps=$(pick_port $USED_PORTS "$pimap")
		fi
		if [ -x /usr/lib/dovecot/lmtp ]; then
			# shellcheck disable=SC2086
			plmtp=$(pick_port $USED_PORTS "$pimap" "$pimaps")
		fi
		write_conf "$name" "$conf" "$pimap" "$pimaps" "$plmtp"
		if ! "$DOVECONF" -c "$conf" -n >/dev/null 2>"$DIR/$name/start.err"; then
			instance_log_tail "$name"
			die "the generated configuration $conf is invalid (see above)"
		fi
		rc=0
		"$DOVECOT" -c "$conf" >"$DIR/$name/start.err" 2>&1 || rc=$?
		# Dovecot's auth penalty delays every login from an IP (up to 15 s) after failed
		# ones; tests fail logins on purpose, and all clients share 127.0.0.1.  The auth
		# process disables the penalty silently when this socket is missing at its start
		# (it starts on the first connection, after this).  LAB_AUTH_PENALTY=yes keeps it.
		if [ $rc -eq 0 ] && [ "${LAB_AUTH_PENALTY:-no}" != yes ]; then
			rm -f -- "$BASE_DIR/$name/anvil-auth-penalty"
		fi
		if [ $rc -eq 0 ] && wait_ready "$name" "$pimap" "$pimaps" "$pidfile" "$conf"; then
			USED_PORTS="$USED_PORTS $pimap $pimaps $plmtp"
			eval "${upper}_IMAP_PORT=$pimap"
			eval "${upper}_IMAPS_PORT=$pimaps"
			eval "${upper}_LMTP_PORT=$plmtp"
			live_master_pid "$pidfile" "$conf" >"$DIR/$name/master.pid"
			return 0
		fi
		stop_instance "$name" quiet
		if [ $fixed -eq 0 ] && grep -qs 'Address already in use' "$DIR/$name/start.err" "$DIR/$name/dovecot.log"; then
			note "$name: port $pimap or $pimaps was taken meanwhile; trying other ports"
			: >"$DIR/$name/dovecot.log"
			continue
		fi
		instance_log_tail "$name"
		if [ $fixed -eq 1 ]; then
			die "the $name server did not start on ports $pimap/$pimaps, which came from ${upper}_IMAP_PORT/${upper}_IMAPS_PORT in the environment (unset them to let the lab pick free ports)"
		fi
		die "the $name server did not start (ports $pimap/$pimaps)"
	done
	instance_log_tail "$name"
	die "the $name server did not start: no free ports after several tries"
}

q() { printf '%q' "$1"; }

write_env() {
	local f=$DIR/lab.env
	{
		echo "# mailshift test lab, written by lab/lab.sh start; source it from sh/bash."
		echo "LAB_DIR=$(q "$DIR")"
		echo "LAB_ID=$(q "$LAB_ID")"
		echo "LAB_HOST=$HOST"
		echo "LAB_BASE_DIR=$(q "$BASE_DIR")"
		echo "OLD_IMAP_PORT=$OLD_IMAP_PORT"
		echo "OLD_IMAPS_PORT=$OLD_IMAPS_PORT"
		echo "NEW_IMAP_PORT=$NEW_IMAP_PORT"
		echo "NEW_IMAPS_PORT=$NEW_IMAPS_PORT"
		echo "OLD_LMTP_PORT=${OLD_LMTP_PORT:-}"
		echo "NEW_LMTP_PORT=${NEW_LMTP_PORT:-}"
		echo "LAB_CA=$(q "$DIR/tls/ca.pem")"
		echo "LAB_OTHER_CA=$(q "$DIR/tls/other-ca.pem")"
		echo "LAB_USERS=$(q "$LAB_USERS_LIST")"
		echo "LAB_PASSWORD_DIR=$(q "$PW_DIR")"
		echo "LAB_MASTER_USER=$MASTER_USER"
		echo "LAB_MASTER_PASSWORD_FILE=$(q "$PW_DIR/$MASTER_USER.pass")"
		echo "LAB_LIMITED_USER=limited"
		echo "LAB_LIMITED_MAX_SIZE=1048576"
		echo "LAB_MAIL_UID=$MAIL_UID"
		echo "LAB_MAIL_GID=$MAIL_GID"
		echo "OLD_CONF=$(q "$DIR/old/dovecot.conf")"
		echo "NEW_CONF=$(q "$DIR/new/dovecot.conf")"
		echo "OLD_LOG=$(q "$DIR/old/dovecot.log")"
		echo "NEW_LOG=$(q "$DIR/new/dovecot.log")"
		echo "OLD_HOME_ROOT=$(q "$DIR/old/home")"
		echo "NEW_HOME_ROOT=$(q "$DIR/new/home")"
		echo "OLD_PID=$(cat "$DIR/old/master.pid")"
		echo "NEW_PID=$(cat "$DIR/new/master.pid")"
		echo "export LAB_DIR LAB_ID LAB_HOST LAB_BASE_DIR OLD_IMAP_PORT OLD_IMAPS_PORT NEW_IMAP_PORT NEW_IMAPS_PORT"
		echo "export OLD_LMTP_PORT NEW_LMTP_PORT"
		echo "export LAB_CA LAB_OTHER_CA LAB_USERS LAB_PASSWORD_DIR LAB_MASTER_USER LAB_MASTER_PASSWORD_FILE"
		echo "export LAB_LIMITED_USER LAB_LIMITED_MAX_SIZE LAB_MAIL_UID LAB_MAIL_GID"
		echo "export OLD_CONF NEW_CONF OLD_LOG NEW_LOG OLD_HOME_ROOT NEW_HOME_ROOT OLD_PID NEW_PID"
	} >"$f.tmp"
	chmod 0644 "$f.tmp"
	mv "$f.tmp" "$f"
}

# Make sure the mail uid can reach $1 (DIR must not be under /root or another 0700 dir).
check_reachable() {
	local d=$1
	[ "$AS_ROOT" -eq 1 ] || return 0
	if ! setpriv --reuid="$MAIL_UID" --regid="$MAIL_GID" --clear-groups test -w "$d" 2>/dev/null; then
		die "uid $MAIL_UID cannot write $d: put the lab under a directory every user can enter (e.g. /tmp), not under /root"
	fi
}

cmd_start() {
	local u
	[ -x "$DOVECOT" ] || die "dovecot not found (apt-get install dovecot-imapd)"
	command -v openssl >/dev/null || die "openssl not found"
	command -v python3 >/dev/null || die "python3 not found"
	case $DIR in
	*[[:space:]%\"\'\#\\]*) die "$DIR: the lab path must not contain blanks or any of % \" ' # \\ (they end up in Dovecot's config)" ;;
	esac
	if [ -e "$DIR" ]; then
		[ -d "$DIR" ] || die "$DIR exists and is not a directory"
		[ -z "$(ls -A -- "$DIR")" ] || die "$DIR is not empty: give a new or empty directory (or stop and remove the old lab)"
	else
		mkdir -- "$DIR"
	fi
	setup_identity
	chmod 0711 "$DIR"
	LAB_ID=$(basename -- "$DIR" | tr -c 'A-Za-z0-9\n' '_' | cut -c1-24)-$$
	# Unix socket paths are limited to ~100 bytes: keep base_dir short, outside DIR.
	BASE_DIR=$(mktemp -d /tmp/msl.XXXXXX)
	chmod 0755 "$BASE_DIR"
	echo "$BASE_DIR" >"$DIR/.base_dir"

	# From here on, a failure leaves a half-started lab: clean it up.
	trap 'rc=$?; if [ $rc -ne 0 ]; then note "start failed; stopping what was started"; cmd_stop quiet || true; fi' EXIT

	make_tls "$DIR/tls"
	PW_DIR=$DIR/passwords
	mkdir -m 0700 "$PW_DIR"
	(
		umask 077
		for u in $LAB_USERS_LIST $MASTER_USER; do
			random_password >"$PW_DIR/$u.pass"
		done
	)
	chmod 0600 "$PW_DIR"/*.pass

	USED_PORTS=""
	for name in old new; do
		mkdir -m 0711 "$DIR/$name"
		mkdir -m 0750 "$DIR/$name/state"
		mkdir -m 0711 "$DIR/$name/home"
		: >"$DIR/$name/dovecot.log"
		write_auth "$name"
		for u in $LAB_USERS_LIST; do
			mkdir -m 0700 "$DIR/$name/home/$u"
		done
		if [ "$AS_ROOT" -eq 1 ]; then
			chown -R "$MAIL_UID:$MAIL_GID" "$DIR/$name/home"
			chmod 0711 "$DIR/$name/home"
		fi
		check_reachable "$DIR/$name/home/alice"
	done
	# Fixed ports from the environment must not be picked for the other server.
	USED_PORTS="${OLD_IMAP_PORT:-} ${OLD_IMAPS_PORT:-} ${NEW_IMAP_PORT:-} ${NEW_IMAPS_PORT:-}"
	start_instance old
	start_instance new
	write_env
	trap - EXIT
	echo "lab started in $DIR"
	echo "  old: imap 127.0.0.1:$OLD_IMAP_PORT (STARTTLS)  imaps 127.0.0.1:$OLD_IMAPS_PORT  pid $(cat "$DIR/old/master.pid")"
	echo "  new: imap 127.0.0.1:$NEW_IMAP_PORT (STARTTLS)  imaps 127.0.0.1:$NEW_IMAPS_PORT  pid $(cat "$DIR/new/master.pid")"
	echo "  users: $LAB_USERS_LIST (passwords in $PW_DIR), master user $MASTER_USER"
	echo "  source $DIR/lab.env for the rest"
}

# ---------------------------------------------------------------- stop

# master_pid_of NAME: the live master pid of instance NAME, or nothing.
master_pid_of() {
	local name=$1 conf=$DIR/$1/dovecot.conf pid=""
	if [ -n "${BASE_DIR:-}" ]; then
		pid=$(live_master_pid "$BASE_DIR/$name/master.pid" "$conf") || pid=""
	fi
	[ -n "$pid" ] || pid=$(live_master_pid "$DIR/$name/master.pid" "$conf") || pid=""
	echo "$pid"
}

# stop_instances [quiet] NAME...: SIGTERM every named server at once (Dovecot's master takes
# about 2 s to exit), then wait until every process each had is gone; SIGKILL after
# STOP_TIMEOUT seconds.
# shellcheck disable=SC2086 # $masters and $kids are pid lists, split on purpose
stop_instances() {
	local quiet="" name pid masters="" kids="" deadline
	if [ "${1:-}" = quiet ]; then quiet=1; shift; fi
	for name in "$@"; do
		pid=$(master_pid_of "$name")
		if [ -z "$pid" ]; then
			[ -n "$quiet" ] || echo "$name: not running"
			continue
		fi
		# Note the children first: once the master is gone they are nobody's children.
		kids="$kids $(descendants "$pid")"
		masters="$masters $pid"
		eval "stopped_$name=$pid"
		kill -TERM "$pid" 2>/dev/null || true
	done
	[ -n "$masters" ] || return 0
	deadline=$((SECONDS + STOP_TIMEOUT))
	while pids_alive $masters $kids; do
		if [ $SECONDS -ge $deadline ]; then
			note "processes still alive after ${STOP_TIMEOUT}s, sending SIGKILL"
			kill -KILL $masters $kids 2>/dev/null || true
			sleep 0.5
			break
		fi
		sleep 0.1
	done
	if pids_alive $masters $kids; then
		note "could not stop every process of the lab (pids:$masters$kids)"
		return 1
	fi
	if [ -z "$quiet" ]; then
		for name in "$@"; do
			eval "pid=\${stopped_$name:-}"
			[ -z "$pid" ] || echo "$name: stopped (master pid $pid and all its processes)"
		done
	fi
	return 0
}

stop_instance() {
	stop_instances ${2:+quiet} "$1"
}

# shellcheck disable=SC2120 # "quiet" is passed from start's EXIT trap
cmd_stop() {
	local quiet=${1:-}
	if [ ! -d "$DIR" ]; then
		[ -n "$quiet" ] || echo "$DIR: no lab there (nothing to stop)"
		return 0
	fi
	BASE_DIR=""
	[ -s "$DIR/.base_dir" ] && BASE_DIR=$(cat "$DIR/.base_dir")
	stop_instances ${quiet:+quiet} old new || return 1
	if [ -n "$BASE_DIR" ]; then
		case $BASE_DIR in
		/tmp/msl.*) rm -rf -- "$BASE_DIR" ;;
		esac
	fi
	return 0
}

# ---------------------------------------------------------------- status

cmd_status() {
	local name pid rc=0 pimap pimaps upper
	[ -s "$DIR/lab.env" ] || { echo "$DIR: no lab.env (not started, or start failed)"; return 1; }
	# shellcheck disable=SC1091
	. "$DIR/lab.env"
	for name in old new; do
		upper=$(echo "$name" | tr "[:lower:]" "[:upper:]")
		eval "pimap=\$${upper}_IMAP_PORT pimaps=\$${upper}_IMAPS_PORT"
		pid=$(live_master_pid "$LAB_BASE_DIR/$name/master.pid" "$DIR/$name/dovecot.conf") || pid=""
		if [ -z "$pid" ]; then
			echo "$name: not running"
			rc=1
		elif port_open "$pimap" && port_open "$pimaps"; then
			echo "$name: running (master pid $pid, $(descendants "$pid" | wc -w) children), imap $pimap, imaps $pimaps"
		else
			echo "$name: master pid $pid alive but ports $pimap/$pimaps do not answer"
			rc=1
		fi
	done
	return $rc
}

# ---------------------------------------------------------------- main

[ $# -eq 2 ] || usage
case $2 in '') usage ;; esac
CMD=$1
DIR=$(abspath "$2")
case $1 in
start) cmd_start ;;
stop) cmd_stop "" ;;
status) cmd_status ;;
*) usage ;;
esac
