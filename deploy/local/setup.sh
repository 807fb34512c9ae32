#!/usr/bin/env bash
# Installs what the local platform and its tests need on Debian/Ubuntu, then the npm dependencies
# and the generated Prisma client. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
have_pg_bin() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
have_pg_bin || missing+=(postgresql)
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
command -v radosgw >/dev/null 2>&1 || missing+=(radosgw)
command -v ceph-mon >/dev/null 2>&1 || missing+=(ceph-mon)
command -v ceph-osd >/dev/null 2>&1 || missing+=(ceph-osd)
{ command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; } && [ -e /usr/lib/dovecot/imap ] || missing+=(dovecot-core dovecot-imapd)
# Parsers that did not write MLR's iCalendar, vCard and RFC 5322 files read them back in the tests
# (Debian's python3, not whichever python3 comes first in PATH).
/usr/bin/python3 -c 'import icalendar, vobject' >/dev/null 2>&1 || missing+=(python3 python3-icalendar python3-vobject)

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: root is needed to install packages (run: sudo $0)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Packages must not start their system services: the project runs its own instances.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies"
  # Not `npm ci`: the lock file records only the platform packages the registry served when it was
  # written (e.g. @swc/core's Linux builds), and `npm ci` refuses a lock without the others.
  npm install --no-audit --no-fund
fi

bash prisma/generate.sh
echo "setup: done"
