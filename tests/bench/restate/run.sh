#!/usr/bin/env bash
# The `bench all` fan-out workload on Restate: starts restate-server (its binary comes inside the
# npm package) on a fresh data directory, the FanA/FanB services, registers them, drives EVENTS
# events through the ingress with CONCURRENCY calls in flight and then LATENCY_EVENTS one at a
# time, prints the driver's RESULT and FIRST_STEP_MS lines, and stops what it started.
#
#   npm ci --prefix tests/bench/restate
#   bash tests/bench/restate/run.sh EVENTS CONCURRENCY FIXTURE DATA_DIR [LATENCY_EVENTS]
#
# The services are the TypeScript SDK's (`node service.js`) unless SERVICE names another
# command serving FanA/FanB on port 9080 (`bench all` passes the Rust SDK's). Restate's default
# ports are used: 8080 (ingress), 9070 (admin), 5122 (node), and 9080 for the service.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
events="${1:-500}" concurrency="${2:-64}" fixture="$3" data="$4" latency="${5:-0}"
[ -d "$here/node_modules" ] || { echo "run: npm ci --prefix $here" >&2; exit 2; }
rm -rf "$data"
"$here/node_modules/.bin/restate-server" --base-dir "$data" > "$data.server.log" 2>&1 &
server=$!
RESTATE_LOGGING=WARN ${SERVICE:-node "$here/service.js"} > "$data.service.log" 2>&1 &
service=$!
trap 'kill $service $server 2>/dev/null; wait $server 2>/dev/null || true; rm -rf "$data" "$data.server.log" "$data.service.log"' EXIT
for _ in $(seq 1 100); do
  curl -sf localhost:9070/health > /dev/null && break
  sleep 0.2
done
for _ in $(seq 1 50); do
  curl -sf -X POST localhost:9070/deployments -H 'content-type: application/json' \
    -d '{"uri": "http://127.0.0.1:9080"}' > /dev/null && break
  sleep 0.2
done
# The ingress learns about a new deployment shortly after it is registered.
for _ in $(seq 1 100); do
  curl -sf -X POST localhost:8080/FanA/run -H 'content-type: application/json' -d '{"id": "warm-up"}' > /dev/null && break
  sleep 0.2
done
node "$here/driver.js" "$fixture" "$events" "$concurrency" http://127.0.0.1:8080 "$latency"
