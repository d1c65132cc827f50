"""procrastinate, the Python peer of timehook's PostgreSQL figures (bench/postgres.sh runs it).
Prints ``result NAME VALUE UNIT`` lines like core/benches/postgres.rs.

    python procrastinate_bench.py deliver URL N RECEIVER

defers N jobs, then one worker (64 at a time) posts each to RECEIVER with an httpx keep-alive
client; timed from the worker's start until every job succeeded."""

import asyncio
import os
import sys
import time

import httpx
import procrastinate
import psycopg


async def main(mode: str, url: str, n: int, receiver: str) -> None:
    schema = f"procrastinate_{os.getpid()}_{int(time.time())}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    conninfo = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
    client = httpx.AsyncClient(limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))

    @app.task(queue="bench", name="deliver")
    async def deliver(n: int) -> None:
        r = await client.post(f"{receiver}/d", json={"n": n})
        r.raise_for_status()

    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        for i in range(0, n, 5000):
            await deliver.batch_defer_async(*({"n": j} for j in range(i, min(n, i + 5000))))
        start = time.perf_counter()
        await app.run_worker_async(queues=["bench"], concurrency=64, wait=False)
        elapsed = time.perf_counter() - start
    await client.aclose()
    with psycopg.connect(conninfo) as conn:
        done = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
        ).fetchone()[0]
    assert done == n, f"{done} of {n} succeeded"
    rate = n / elapsed
    print(f"result deliver1 {rate:.0f} deliveries/s")
    print(f"procrastinate worker (concurrency 64) posting with httpx, {n} jobs: {rate:.0f}/s")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
