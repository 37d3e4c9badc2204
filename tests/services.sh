#!/usr/bin/env bash
# Installs and starts what the test suite needs outside Python: Debian's Chromium (+ driver) for
# the browser tests and a PostgreSQL server on 127.0.0.1 for the database tests. Idempotent.
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# PostgreSQL: start the Debian cluster on 127.0.0.1 and make the test role and database.
ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | grep -q "^$ver main"; then
  $SUDO pg_createcluster "$ver" main >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main" {print $4}' | grep -q online; then
  $SUDO pg_ctlcluster "$ver" main start
fi
PGURL_USER=${STUDY_PG_USER:-study}
PGURL_PASS=${STUDY_PG_PASSWORD:-study}
PGURL_DB=${STUDY_PG_DB:-study_test}
as_pg() { if [ "$(id -u)" -eq 0 ]; then su postgres -c "$1"; else sudo -u postgres sh -c "$1"; fi; }
as_pg "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='$PGURL_USER'\"" | grep -q 1 \
  || as_pg "psql -qc \"CREATE ROLE $PGURL_USER LOGIN PASSWORD '$PGURL_PASS' CREATEDB\""
as_pg "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='$PGURL_DB'\"" | grep -q 1 \
  || as_pg "psql -qc \"CREATE DATABASE $PGURL_DB OWNER $PGURL_USER\""
echo "postgresql $ver online: postgresql+psycopg://$PGURL_USER:***@127.0.0.1:5432/$PGURL_DB" >&2
