#!/usr/bin/env bash
# Starts the PostgreSQL the tests use, idempotently: Debian's server, a cluster of its own listening only on
# 127.0.0.1:$LIFTOFF_POSTGRES_PORT (55432), a role and a database named liftoff. One cluster per port, shared by every
# checkout on the machine; tests isolate themselves with a schema each. Prints one line on success.
set -euo pipefail

port="${LIFTOFF_POSTGRES_PORT:-55432}"
data="${LIFTOFF_POSTGRES_DIR:-/tmp/liftoff-postgres-$port}"
role=liftoff
password=liftoff
database=liftoff

find_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

if ! bin="$(find_bin)"; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/setup/postgres.sh: PostgreSQL is not installed; run as root or apt-get install postgresql" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  bin="$(find_bin)" || { echo "scripts/setup/postgres.sh: installed postgresql but found no initdb under /usr/lib/postgresql" >&2; exit 1; }
fi

# The server refuses to run as root: as root, the cluster belongs to the postgres user Debian's package creates.
if [ "$(id -u)" -eq 0 ]; then
  owner=postgres
  as_owner() { runuser -u postgres -- "$@"; }
else
  owner="$(id -un)"
  as_owner() { "$@"; }
fi

if [ ! -s "$data/PG_VERSION" ]; then
  mkdir -p "$data"
  chown "$owner" "$data"
  chmod 700 "$data"
  # Local (socket) connections are trusted: the socket lives in the cluster's own 0700 directory.
  as_owner "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$data.initdb.log" 2>&1 \
    || { cat "$data.initdb.log" >&2; exit 1; }
  rm -f "$data.initdb.log"
  cat >>"$data/postgresql.conf" <<EOF

# scripts/setup/postgres.sh: loopback only, its own port and socket directory.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$data'
max_connections = 300
EOF
fi

if ! as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  if ! as_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start >/dev/null 2>&1; then
    echo "scripts/setup/postgres.sh: PostgreSQL in $data did not start (is port $port taken?); its log:" >&2
    tail -n 20 "$data/server.log" >&2 || true
    exit 1
  fi
fi

psql_admin() { as_owner psql -X -q -v ON_ERROR_STOP=1 -h "$data" -p "$port" -U postgres -d postgres "$@"; }
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$role'")" != 1 ]; then
  psql_admin -c "CREATE ROLE $role LOGIN CREATEDB PASSWORD '$password'"
fi
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'")" != 1 ]; then
  psql_admin -c "CREATE DATABASE $database OWNER $role"
fi
# A test cluster need not survive an OS crash: commits that wait for the disk would make this VM's fsync, not
# Liftoff, the bottleneck of the tests. Benchmarks that want durable commits ask for synchronous_commit=on per connection.
if [ "$(psql_admin -tAc "SHOW synchronous_commit")" != off ]; then
  psql_admin -c "ALTER SYSTEM SET synchronous_commit = off" -c "SELECT pg_reload_conf()" >/dev/null
fi

echo "postgres: 127.0.0.1:$port ready (data $data, role and database $database)"
