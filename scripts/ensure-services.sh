#!/usr/bin/env bash
# Make sure the services the test suites use are running here: PostgreSQL, Redis and Debian's
# Chromium (for the end-to-end journeys). Starts what is installed but stopped; installs from
# the OS packages what is missing. Idempotent; prints what it did.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
apt_updated=0
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "ensure-services: cannot install $* (no apt-get); install it and re-run" >&2
    return 1
  fi
  if [ "$apt_updated" = 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# PostgreSQL
if ! command -v pg_ctlcluster >/dev/null && ! command -v pg_ctl >/dev/null; then
  echo "ensure-services: installing PostgreSQL"
  apt_install postgresql
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "ensure-services: starting PostgreSQL"
  if command -v pg_ctlcluster >/dev/null; then
    for version in $(ls /etc/postgresql); do
      $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432
# Tests connect as postgres without a password (trust on loopback, as on the dev machines).
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
  echo "ensure-services: PostgreSQL refuses postgres@127.0.0.1 without password; enabling trust on loopback"
  hba=$(su postgres -c "psql -Atc 'show hba_file'" 2>/dev/null || true)
  if [ -n "$hba" ]; then
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    su postgres -c "psql -c 'select pg_reload_conf()'" >/dev/null
  fi
fi

# Redis (the shared one on 6379; tests that stop Redis start their own on a spare port)
if ! command -v redis-server >/dev/null; then
  echo "ensure-services: installing Redis"
  apt_install redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "ensure-services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 20); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping

# Chromium for the end-to-end journeys (Playwright drives Debian's build; no browser download)
if [ ! -x /usr/bin/chromium ]; then
  echo "ensure-services: installing Chromium"
  apt_install chromium fonts-dejavu-core
fi
/usr/bin/chromium --version

# Pango for WeasyPrint's PDFs (reconciliation acts, documents, receipts, exports)
if ! ldconfig -p | grep -q "libpangoft2-1.0.so.0"; then
  echo "ensure-services: installing Pango for PDF rendering"
  apt_install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
fi
