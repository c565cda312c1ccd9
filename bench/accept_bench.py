"""Accept against its yardstick (issue 10): Sesame's POST /v1/emails and /v1/emails/batch beside a minimal Django
view doing the least the same work needs (bench/minimal_accept.py), in one gunicorn, one run.

    .venv/bin/python bench/accept_bench.py            # 3 rounds of single and batch, about 2.5 minutes
    BENCH_ROUNDS=5 BENCH_SECONDS=10 .venv/bin/python bench/accept_bench.py

Each round measures Sesame then the minimal view (single: 32 keep-alive connections, one request in flight each;
batch: 4 connections, 500 emails per call), back to back, so slow drift of the machine hits both alike. Reports
per round requests/s, client-side p50/p99 and the CPU each request cost (`cpu_ms`, milliseconds) in gunicorn,
PostgreSQL (all its processes, but one that exits mid-round, an autovacuum worker, takes its time with it), Redis
and this process (the load generator), then the ratios of the medians (Sesame / minimal) and the load average. gunicorn:
BENCH_WEB_WORKERS (2) gthread workers of BENCH_WEB_THREADS (16) threads. The generator, gunicorn, PostgreSQL and
Redis share this machine's cores: the figures include that contention rather than hide it.
Database sesame_bench_accept, Redis db 13.
"""

import json
import os
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PYTHON, bench_environment, cpu_by_process, free_port, prepare_database, start, stop, wait_http

ENV = bench_environment("sesame_bench_accept", 13, SESAME_AWS_MODE="simulator")
WEB = f"http://127.0.0.1:{(PORT := free_port())}"
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
BATCH = 500
# BENCH_ONLY=single or batch measures one pair only.
PAIRS = [
    pair
    for pair in (
        ("sesame", "/v1/emails", False),
        ("minimal", "/bench/minimal", False),
        ("sesame_batch", "/v1/emails/batch", True),
        ("minimal_batch", "/bench/minimal-batch", True),
    )
    if os.environ.get("BENCH_ONLY", "") in ("", "batch" if pair[2] else "single")
]


def _setup() -> str:
    prepare_database(ENV)
    from accounts import services as account_services
    from accounts.models import Account
    from accounts.ratelimit import redis_client
    from billing import services as billing_services
    from config.onboarding import simulator_connection_ensure
    from emails.models import Email, EmailEvent, Identity

    redis_client(ENV["REDIS_URL"]).flushdb()
    EmailEvent.objects.all().delete()
    Email.objects.all().delete()
    Account.objects.filter(name="Bench").delete()
    account = billing_services.account_create_subscribed(name="Bench", plan_slug="enterprise")
    connection = simulator_connection_ensure(account=account)
    assert connection is not None, "the bench runs in simulator mode"
    Identity.objects.create(
        account=account, connection=connection, name="example.com", kind="domain", status=Identity.Status.VERIFIED
    )
    _, token = account_services.api_token_create(account=account, name="bench")
    return token


def _body() -> dict:
    return {
        "from": "Bench <bench@example.com>",
        "to": f"user{random.randrange(10**9)}@example.net",
        "subject": "Benchmark message",
        "text_body": "Hello from the benchmark. " * 8,
        "priority": random.randint(1, 100),
        "tags": ["bench"],
    }


def _cpu(web_group: int) -> dict[str, dict[int, float]]:
    return {
        "gunicorn": cpu_by_process(group=web_group),
        "postgres": cpu_by_process(command="postgres"),
        "redis": cpu_by_process(command="redis-server"),
        "loadgen": cpu_by_process(group=os.getpgrp()),
    }


def _cpu_used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
    """Seconds each part used between two readings: processes alive at the second, from 0 if born in between."""
    return {part: sum(t - before[part].get(pid, 0.0) for pid, t in after[part].items()) for part in after}


def _measure(path: str, token: str, *, batch: bool, web_group: int) -> dict:
    from bench.loadgen import run

    before = _cpu(web_group)
    if batch:
        result = run(f"{WEB}{path}", token=token, make_body=lambda: {"emails": [_body() for _ in range(BATCH)]},
                     concurrency=4, seconds=SECONDS)  # fmt: skip
    else:
        result = run(f"{WEB}{path}", token=token, make_body=_body, concurrency=32, seconds=SECONDS)
    used, requests = _cpu_used(before, _cpu(web_group)), max(1, sum(result.statuses.values()))
    return {
        "per_s": round(result.rate * (BATCH if batch else 1)),
        "p50_ms": round(result.percentile(0.5), 1),
        "p99_ms": round(result.percentile(0.99), 1),
        "statuses": result.statuses,
        "cpu_ms": {part: round(1000 * seconds / requests, 3) for part, seconds in used.items()},
    }


def _clear() -> None:
    from emails.models import Email

    Email.objects.all().delete()  # so every round inserts into a table of the same size


def main() -> None:
    token = _setup()
    # Enterprise's 60,000 requests a minute would cap single accepts at 1,000/s: the bench measures the path.
    from billing.models import Plan

    Plan.objects.filter(slug="enterprise").update(api_requests_per_minute=10_000_000)
    gunicorn = [
        PYTHON, "-m", "gunicorn", "bench.accept_wsgi", "-w", os.environ.get("BENCH_WEB_WORKERS", "2"),
        "-k", "gthread", "--threads", os.environ.get("BENCH_WEB_THREADS", "16"), "-b", f"127.0.0.1:{PORT}",
        "--keep-alive", "30", "--log-level", "warning",
    ]  # fmt: skip
    web = start(gunicorn, "accept-web", ENV)
    rounds: list[dict] = []
    try:
        wait_http(f"{WEB}/healthz")
        for path in ("/v1/emails", "/bench/minimal"):  # warm both up
            _measure(path, token, batch=False, web_group=web.pid)
        for _ in range(ROUNDS):
            row = {}
            for name, path, batch in PAIRS:
                _clear()
                row[name] = _measure(path, token, batch=batch, web_group=web.pid)
            rounds.append(row)
            print(json.dumps(row), flush=True)
    finally:
        stop(web)
        _clear()

    def median(name: str, key: str) -> float:
        return statistics.median(r[name][key] for r in rounds)

    summary: dict = {}
    if "sesame" in rounds[0]:
        summary["single_ratio"] = round(median("sesame", "per_s") / median("minimal", "per_s"), 2)
        summary["single_p99_ratio"] = round(median("sesame", "p99_ms") / median("minimal", "p99_ms"), 2)
        summary["sesame_per_s"], summary["minimal_per_s"] = median("sesame", "per_s"), median("minimal", "per_s")
        for name in ("sesame", "minimal"):
            summary[f"{name}_cpu_ms"] = {
                part: round(statistics.median(r[name]["cpu_ms"][part] for r in rounds), 3)
                for part in rounds[0][name]["cpu_ms"]
            }
    if "sesame_batch" in rounds[0]:
        summary["batch_ratio"] = round(median("sesame_batch", "per_s") / median("minimal_batch", "per_s"), 2)
        summary["sesame_batch_emails_per_s"] = median("sesame_batch", "per_s")
        summary["minimal_batch_emails_per_s"] = median("minimal_batch", "per_s")
    summary["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
