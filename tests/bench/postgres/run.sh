#!/usr/bin/env bash
# Runs a command beside a throwaway Postgres cluster with the server's default durability
# (fsync=on, synchronous_commit=on, full_page_writes=on), started the way tests/run starts its
# own (tests/postgres-cluster.sh); the command finds the server's URL in $PG_URL. The cluster
# is stopped and deleted when the command ends. PG_BENCH_SERVER_OPTIONS may add server options
# that leave durability alone (`bench postgres` loads pg_stat_statements with it).
#
#   bash tests/bench/postgres/run.sh COMMAND ARGS...
set -euo pipefail
source "$(dirname "$0")/../../postgres-cluster.sh"
PG_SERVER_OPTIONS="${PG_BENCH_SERVER_OPTIONS:-}"
start_postgres
export PG_URL
"$@"
