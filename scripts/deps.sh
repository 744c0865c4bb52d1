#!/bin/sh
# deps.sh — make sure the Debian packages a target needs are installed.
#
# Usage: scripts/deps.sh check|demo|bench
# As root it installs what is missing (non-interactive); otherwise it prints
# the one apt-get line to run and fails, so nothing half-works later.
set -eu

build="gcc make pkg-config libssl-dev libsqlite3-dev libevent-dev libpsl-dev libc-ares-dev libc6-dev openssl"
# postfix: only for its smtp-sink/smtp-source test tools (and the bench peer);
# no system mail daemon is configured or started (see below).
# nsd: the DNS lab's authoritative servers; bind9-dnsutils: dig for its self-check
lab="dovecot-imapd dovecot-lmtpd postfix swaks nsd bind9-dnsutils python3 procps"
case "${1:-check}" in
check) pkgs="$build $lab libcmocka-dev clang libclang-rt-14-dev" ;;
demo)  pkgs="$build $lab" ;;
bench) pkgs="$build $lab isync time" ;;
*) echo "usage: $0 check|demo|bench" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "mailshift: missing Debian packages:$missing" >&2
	echo "run: sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "mailshift: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Installing dovecot must not start a system-wide daemon on port 143/993:
# the lab runs its own private instances.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# Postfix's package asks how to configure the system's mail: "No
# configuration" leaves it unconfigured, which is all the lab needs.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -q >/dev/null || apt-get update
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
