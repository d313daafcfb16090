# A throwaway Postgres cluster on 127.0.0.1, for tests/run (the Postgres store's tests) and for
# `bench all` (tests/bench/postgres/run.sh). Source it, then call `start_postgres`: it installs
# nothing (the caller makes sure Debian's `postgresql` is there), creates the cluster in a new
# temporary directory (as the `postgres` user when run as root: initdb refuses root), starts
# it on a free port, sets PG_URL, and arranges `stop_postgres` (stop, then delete) on exit.
# PG_SERVER_OPTIONS are extra `-c name=value` server options (tests/run turns fsync off).

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

start_postgres() {
  local bin dir port as_pg=()
  bin=$(pg_bin)
  [ -n "$bin" ] || { echo "no Postgres: apt-get install postgresql" >&2; return 1; }
  dir=$(mktemp -d /tmp/hookflow-pg.XXXXXX)
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$dir"
    as_pg=(runuser -u postgres --)
  fi
  "${as_pg[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log"; rm -rf "$dir"; return 1; }
  for _ in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 30000))
    if "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -s -o "-p $port -k $dir \
        -c listen_addresses=127.0.0.1 -c max_connections=400 ${PG_SERVER_OPTIONS:-}" start; then
      PG_DIR=$dir PG_BIN=$bin
      trap 'stop_postgres' EXIT
      PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
      return 0
    fi
  done
  cat "$dir/log"
  rm -rf "$dir"
  return 1
}

stop_postgres() {
  local as_pg=()
  [ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
  "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -s stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
