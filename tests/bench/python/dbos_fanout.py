"""The `bench all` fan-out workload on DBOS Transact for Python, for comparison.

For each event (the Clerk `user.created` fixture's `data` with a unique id), two workflows of
two steps each are started, as hookflow fans one event out to two functions. The system
database is either DBOS's SQLite file as DBOS configures it (`--db`: rollback journal,
synchronous=FULL) or a Postgres server (`--postgres-env VAR`: the server's URL is in the
environment variable VAR; DBOS creates its database `dbos_bench` there).
Then `--latency-events` events are sent one at a time, 2 ms apart, and the time from
`start_workflow` to the first step's body is measured for each run.
Prints `RESULT events=N runs=M seconds=S runs_per_s=R` and `FIRST_STEP_MS v,v,...`.

    python -m venv /tmp/dbos-venv && /tmp/dbos-venv/bin/pip install -r tests/bench/python/requirements.txt
    /tmp/dbos-venv/bin/python tests/bench/python/dbos_fanout.py --events 500 --db /tmp/dbos-bench.sqlite \
        --fixture runtime/fixtures/clerk/user.created.json
"""

import argparse
import copy
import json
import os
import threading
import time
import urllib.parse

from dbos import DBOS, DBOSConfig

# Seconds from `start_workflow` to the first step's body, one per run of the latency phase.
first_step = []
first_step_lock = threading.Lock()


@DBOS.step()
def load_user(user: dict, sent: float) -> int:
    if sent > 0:
        with first_step_lock:
            first_step.append(time.perf_counter() - sent)
    return len(user["id"])


@DBOS.step()
def record(n: int) -> int:
    return n + 1


@DBOS.workflow()
def fan_a(user: dict, sent: float) -> int:
    return record(load_user(user, sent))


@DBOS.workflow()
def fan_b(user: dict, sent: float) -> int:
    return record(load_user(user, sent))


def users(template: dict, tag: str, n: int) -> list:
    out = []
    for i in range(n):
        user = copy.deepcopy(template)
        user["id"] = f"user_dbos_{tag}_{i:07d}"
        out.append(user)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--latency-events", type=int, default=0)
    parser.add_argument("--db", help="SQLite system database file (created)")
    parser.add_argument("--postgres-env", help="environment variable holding a Postgres server's URL")
    parser.add_argument("--fixture", required=True, help="Clerk user.created envelope (JSON)")
    args = parser.parse_args()
    if bool(args.db) == bool(args.postgres_env):
        parser.error("give one of --db and --postgres-env")

    with open(args.fixture, encoding="utf-8") as f:
        template = json.load(f)["data"]

    if args.db:
        if os.path.exists(args.db):
            os.remove(args.db)
        url = f"sqlite:///{args.db}"
    else:
        server = urllib.parse.urlsplit(os.environ[args.postgres_env])
        url = urllib.parse.urlunsplit(server._replace(scheme="postgresql", path="/dbos_bench"))
    config: DBOSConfig = {"name": "bench-fanout", "system_database_url": url}
    DBOS(config=config)
    DBOS.launch()
    try:
        start = time.perf_counter()
        handles = []
        for user in users(template, "t", args.events):
            handles.append(DBOS.start_workflow(fan_a, user, 0.0))
            handles.append(DBOS.start_workflow(fan_b, user, 0.0))
        for handle in handles:
            handle.get_result()
        seconds = time.perf_counter() - start
        for user in users(template, "l", args.latency_events):
            sent = time.perf_counter()
            pair = [DBOS.start_workflow(fan_a, user, sent), DBOS.start_workflow(fan_b, user, sent)]
            for handle in pair:
                handle.get_result()
            time.sleep(0.002)
    finally:
        DBOS.destroy()
    runs = len(handles)
    print(f"RESULT events={args.events} runs={runs} seconds={seconds:.3f} runs_per_s={runs / seconds:.1f}", flush=True)
    print("FIRST_STEP_MS " + ",".join(f"{s * 1000:.3f}" for s in first_step), flush=True)


if __name__ == "__main__":
    main()
