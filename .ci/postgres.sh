#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the warehouse tests.
#
#   bash .ci/postgres.sh start ENV_FILE   # install if missing (as root), init, start, create a database;
#                                         # writes `export FANLIB_TEST_PG_URL=…` to ENV_FILE
#   source ENV_FILE                       # then run the tests
#   bash .ci/postgres.sh stop ENV_FILE    # stop the server and delete its data
#
# The cluster lives in a fresh temporary folder, listens only on loopback at a
# free port, and uses a random password, so several runs can share a machine.
set -euo pipefail

cmd=${1:-}
env_file=${2:-}
if [[ -z "$cmd" || -z "$env_file" ]]; then
  echo "usage: $0 start|stop ENV_FILE" >&2
  exit 64
fi

is_root() { [[ "$(id -u)" == 0 ]]; }

pg_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -z "$dir" ]] && command -v pg_ctl >/dev/null 2>&1; then
    dir=$(dirname "$(command -v pg_ctl)")
  fi
  echo "$dir"
}

# Run a server command as the cluster's owner: PostgreSQL refuses to run as root.
as_owner() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
  else
    echo $((20000 + RANDOM % 20000))
  fi
}

start() {
  local bindir
  bindir=$(pg_bindir)
  if [[ -z "$bindir" ]]; then
    if is_root; then
      echo "installing Debian's postgresql package" >&2
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
      bindir=$(pg_bindir)
    else
      echo "PostgreSQL is not installed; as root run: apt-get install -y postgresql" >&2
      exit 1
    fi
  fi
  if is_root && ! id -u postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
  fi

  local dir password port url
  dir=$(mktemp -d "${TMPDIR:-/tmp}/fanlib-pg.XXXXXX")
  chmod 700 "$dir"
  password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
  printf '%s\n' "$password" >"$dir/pwfile"
  is_root && chown -R postgres: "$dir"

  as_owner "$bindir/initdb" -D "$dir/data" -U fanlib --pwfile="$dir/pwfile" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$dir/pwfile"

  # A free port can be taken between the check and the start: retry with another.
  local started=""
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off" start >/dev/null; then
      started=yes
      break
    fi
  done
  if [[ -z "$started" ]]; then
    echo "PostgreSQL did not start; its log:" >&2
    cat "$dir/server.log" >&2
    exit 1
  fi

  PGPASSWORD=$password "$bindir/createdb" -h 127.0.0.1 -p "$port" -U fanlib fanlib_test
  url="postgresql://fanlib:${password}@127.0.0.1:${port}/fanlib_test"
  {
    echo "export FANLIB_TEST_PG_URL=$url"
    echo "export FANLIB_TEST_PG_DIR=$dir"
    echo "export FANLIB_TEST_PG_BINDIR=$bindir"
  } >"$env_file"
  echo "PostgreSQL test server on 127.0.0.1:$port (database fanlib_test); source $env_file for FANLIB_TEST_PG_URL"
}

stop() {
  [[ -f "$env_file" ]] || { echo "no such env file: $env_file" >&2; exit 1; }
  # shellcheck disable=SC1090
  source "$env_file"
  local dir=${FANLIB_TEST_PG_DIR:-}
  if [[ -n "$dir" && -d "$dir/data" ]]; then
    as_owner "$FANLIB_TEST_PG_BINDIR/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    rm -rf "$dir"
  fi
  : >"$env_file"
  echo "PostgreSQL test server stopped"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop ENV_FILE" >&2; exit 64 ;;
esac
