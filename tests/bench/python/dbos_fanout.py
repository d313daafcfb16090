"""The `bench fanout` workload on DBOS Transact for Python, for comparison.

For each event (the Clerk `user.created` fixture's `data` with a unique id), two workflows of
two steps each are started, as hookflow fans one event out to two functions. The system
database is DBOS's SQLite file, as DBOS configures it (rollback journal, synchronous=FULL).
Prints one line: `RESULT events=N runs=M seconds=S runs_per_s=R`.

    python -m venv /tmp/dbos-venv && /tmp/dbos-venv/bin/pip install -r tests/bench/python/requirements.txt
    /tmp/dbos-venv/bin/python tests/bench/python/dbos_fanout.py --events 500 --db /tmp/dbos-bench.sqlite \
        --fixture runtime/fixtures/clerk/user.created.json
"""

import argparse
import copy
import json
import os
import time

from dbos import DBOS, DBOSConfig


@DBOS.step()
def load_user(user: dict) -> int:
    return len(user["id"])


@DBOS.step()
def record(n: int) -> int:
    return n + 1


@DBOS.workflow()
def fan_a(user: dict) -> int:
    return record(load_user(user))


@DBOS.workflow()
def fan_b(user: dict) -> int:
    return record(load_user(user))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--db", required=True, help="SQLite system database file (created)")
    parser.add_argument("--fixture", required=True, help="Clerk user.created envelope (JSON)")
    args = parser.parse_args()

    with open(args.fixture, encoding="utf-8") as f:
        template = json.load(f)["data"]
    users = []
    for i in range(args.events):
        user = copy.deepcopy(template)
        user["id"] = f"user_dbos_{i:07d}"
        users.append(user)

    if os.path.exists(args.db):
        os.remove(args.db)
    config: DBOSConfig = {"name": "bench-fanout", "system_database_url": f"sqlite:///{args.db}"}
    DBOS(config=config)
    DBOS.launch()
    try:
        start = time.perf_counter()
        handles = []
        for user in users:
            handles.append(DBOS.start_workflow(fan_a, user))
            handles.append(DBOS.start_workflow(fan_b, user))
        for handle in handles:
            handle.get_result()
        seconds = time.perf_counter() - start
    finally:
        DBOS.destroy()
    runs = len(handles)
    print(f"RESULT events={args.events} runs={runs} seconds={seconds:.3f} runs_per_s={runs / seconds:.1f}", flush=True)


if __name__ == "__main__":
    main()
