"""Email pipeline benchmark: accept (single and batch), dispatch rate, and priority ordering.

    .venv/bin/python bench/emails_bench.py            # all phases (about 3 minutes)
    .venv/bin/python bench/emails_bench.py accept     # or: batch, dispatch, ordering

What it measures, on this machine, against real PostgreSQL and Redis (database sesame_bench_emails, Redis db 11):
- accept: single POST /v1/emails for 10 s from 32 keep-alive connections to gunicorn (2 gthread workers),
  generator in this process. Reports requests/s and client-side p50/p99 latency.
- batch: POST /v1/emails/batch with 500 emails per call from 4 connections for 10 s. Reports emails/s.
- dispatch: a backlog larger than the run, a fake SES on loopback (bench/fake_ses.py) answering after 20 ms,
  max send rate 500/s, one Celery worker (2 processes) and beat. Reports, from the fake SES's own arrival
  times over 60 s: mean rate, the busiest calendar second and the busiest sliding one-second window.
- ordering: a 20,000-email backlog of random priorities, 10 new emails every 100 ms and 500 scheduled ones that
  fall due mid-run. An inversion is an email claimed while an email of higher priority (lower number) was due
  and not yet claimed. Reports the count over every email claimed after the backlog formed.
"""

import heapq
import json
import os
import random
import statistics
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PYTHON,
    bench_environment,
    cpu_seconds,
    free_port,
    prepare_database,
    start,
    stop,
    wait_http,
)

SES_PORT = free_port()
ENV = bench_environment(
    "sesame_bench_emails",
    11,
    SESAME_AWS_MODE="aws",
    SESAME_AWS_ENDPOINT_URL=f"http://127.0.0.1:{SES_PORT}",
    AWS_EC2_METADATA_DISABLED="true",
)
WEB_PORT = free_port()
WEB = f"http://127.0.0.1:{WEB_PORT}"


def _setup() -> tuple[str, str]:
    prepare_database(ENV)
    from accounts import services as account_services
    from accounts.models import Account, AwsConnection
    from accounts.ratelimit import redis_client
    from billing import services as billing_services
    from emails.models import Email, EmailEvent, Identity

    redis_client(ENV["REDIS_URL"]).flushdb()
    EmailEvent.objects.all().delete()
    Email.objects.all().delete()
    AwsConnection.objects.filter(account__name="Bench").delete()
    Account.objects.filter(name="Bench").delete()
    account = billing_services.account_create_subscribed(name="Bench", plan_slug="enterprise")
    connection = account_services.aws_connection_create(
        account=account,
        identifier="bench",
        region="us-east-1",
        access_key_id="AKIABENCH",
        secret_access_key="bench-secret",
        is_default=True,
    )
    AwsConnection.objects.filter(pk=connection.pk).update(max_send_rate=500, configuration_set_name="bench")
    Identity.objects.create(
        account=account, connection=connection, name="example.com", kind="domain", status=Identity.Status.VERIFIED
    )
    _, token = account_services.api_token_create(account=account, name="bench")
    return token, str(connection.pk)


def _body(i: int | None = None) -> dict:
    return {
        "from": "Bench <bench@example.com>",
        "to": f"user{random.randrange(10**9)}@example.net",
        "subject": "Benchmark message",
        "text_body": "Hello from the benchmark. " * 8,
        "priority": random.randint(1, 100),
        "tags": ["bench"],
    }


def _reset_emails() -> None:
    from accounts.ratelimit import redis_client
    from emails.models import Email

    Email.objects.all().delete()
    redis_client(ENV["REDIS_URL"]).flushdb()


def phase_accept(token: str, connection_id: str) -> dict:
    from bench.loadgen import run

    gunicorn = [
        PYTHON,
        "-m",
        "gunicorn",
        "config.wsgi",
        "-w",
        os.environ.get("BENCH_WEB_WORKERS", "2"),
        "-k",
        "gthread",
        "--threads",
        os.environ.get("BENCH_WEB_THREADS", "16"),
        "-b",
        f"127.0.0.1:{WEB_PORT}",
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
    ]
    web = start(gunicorn, "web", ENV)
    try:
        wait_http(f"{WEB}/healthz")
        run(f"{WEB}/v1/emails", token=token, make_body=_body, concurrency=32, seconds=2)  # warm-up
        single = run(f"{WEB}/v1/emails", token=token, make_body=_body, concurrency=32, seconds=10)
        batch = run(
            f"{WEB}/v1/emails/batch",
            token=token,
            make_body=lambda: {"emails": [_body() for _ in range(500)]},
            concurrency=4,
            seconds=10,
        )
    finally:
        stop(web)
    _reset_emails()
    return {
        "single": {
            "requests_per_s": round(single.rate),
            "p50_ms": round(single.percentile(0.5), 1),
            "p99_ms": round(single.percentile(0.99), 1),
            "statuses": single.statuses,
        },
        "batch": {
            "emails_per_s": round(batch.rate * 500),
            "calls": len(batch.latencies),
            "p99_ms": round(batch.percentile(0.99), 1),
            "statuses": batch.statuses,
        },
    }


def _bulk_queue(connection_id: str, count: int, *, delay: float = 0.0) -> dict[str, float]:
    """Insert `count` emails (due now, or `delay` seconds ahead); returns {id: when it became visible}."""
    from django.utils import timezone

    from accounts.models import AwsConnection
    from emails.models import Email

    connection = AwsConnection.objects.get(pk=connection_id)
    now = timezone.now()
    rows = []
    for _ in range(count):
        body = _body()
        send_at = now + timedelta(seconds=delay)
        rows.append(
            Email(
                account_id=connection.account_id,
                connection=connection,
                from_address=body["from"],
                to_address=body["to"],
                to_email=body["to"],
                subject=body["subject"],
                text_body=body["text_body"],
                priority=body["priority"],
                send_at=send_at,
                scheduled_for=send_at if delay else None,
                status=Email.Status.SCHEDULED if delay else Email.Status.QUEUED,
            )
        )
    Email.objects.bulk_create(rows, batch_size=2000)
    visible = time.time()  # committed (autocommit): from here on the dispatchers can see these rows
    return {str(row.pk): visible for row in rows}


def _fetch_arrivals() -> list[tuple[float, int, str]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{SES_PORT}/stats", timeout=30) as response:
        return [tuple(row) for row in json.loads(response.read())]


def _busiest_sliding_second(arrivals: list[tuple[float, int, str]]) -> int:
    times = sorted((t, n) for t, n, _ in arrivals)
    best, total, start = 0, 0, 0
    for end in range(len(times)):
        total += times[end][1]
        while times[end][0] - times[start][0] >= 1.0:
            total -= times[start][1]
            start += 1
        best = max(best, total)
    return best


def _pipeline() -> list:
    """Fake SES, one Celery worker (2 processes) and beat."""
    fake = start(
        [PYTHON, "bench/fake_ses.py", "--port", str(SES_PORT), "--latency-ms", "20", "--max-send-rate", "500"],
        "fake-ses",
        ENV,
    )
    wait_http(f"http://127.0.0.1:{SES_PORT}/stats")
    celery = [PYTHON, "-m", "celery", "-A", "config"]
    worker = start([*celery, "worker", "-l", "warning", "-Q", "default,dispatch", "--concurrency", "2"], "worker", ENV)
    beat = start([*celery, "beat", "-l", "warning", "--pidfile", "/tmp/sesame-bench-beat.pid"], "beat", ENV)
    return [fake, worker, beat]


def phase_dispatch(token: str, connection_id: str, seconds: int = 60) -> dict:
    _bulk_queue(connection_id, 500 * (seconds + 20))
    processes = _pipeline()
    try:
        time.sleep(5)  # warm-up: workers start, dispatchers reach steady state
        worker = processes[1].pid
        cpu_before = cpu_seconds(group=worker), cpu_seconds(command="postgres")
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{SES_PORT}/stats", method="DELETE"))
        time.sleep(seconds)
        arrivals = _fetch_arrivals()
        cpu_after = cpu_seconds(group=worker), cpu_seconds(command="postgres")
        with urllib.request.urlopen(f"http://127.0.0.1:{SES_PORT}/throttled", timeout=30) as response:
            throttled = json.loads(response.read())["throttled"]
    finally:
        for process in reversed(processes):
            stop(process)
    _reset_emails()
    start = arrivals[0][0]
    window = [a for a in arrivals if a[0] - start < seconds]
    per_second: dict[int, int] = {}
    for t, n, _ in window:
        per_second[int(t)] = per_second.get(int(t), 0) + n
    full_seconds = list(per_second.values())[1:-1]  # the first and last calendar seconds are partial
    return {
        "recipients_per_s_mean": round(sum(n for _, n, _ in window) / seconds, 1),
        "busiest_calendar_second": max(full_seconds),
        "quietest_calendar_second": min(full_seconds),
        "stdev_per_second": round(statistics.pstdev(full_seconds), 1),
        "busiest_sliding_1s_window": _busiest_sliding_second(window),
        "throttled_by_fake_ses": throttled,
        # CPU per email sent in the window: the worker's processes, and every PostgreSQL process (the other
        # benches are not running; background writer and autovacuum count too).
        "worker_cpu_ms_per_email": round((cpu_after[0] - cpu_before[0]) * 1000 / max(1, len(window)), 2),
        "postgres_cpu_ms_per_email": round((cpu_after[1] - cpu_before[1]) * 1000 / max(1, len(window)), 2),
    }


def _inversions(rows: list[tuple[int, float, float]]) -> dict[str, int]:
    """rows: (priority, due_time, claimed_time). Count claims made while a higher priority was due and unclaimed,
    and how many of those the higher one followed within 10 ms (claims racing each other across threads)."""
    by_due = sorted(rows, key=lambda r: r[1])
    # One claim statement takes several emails at once, in priority order, stamped with one claimed_at: among
    # equal claim times, the statement's own order (priority) is the claim order.
    by_claim = sorted(rows, key=lambda r: (r[2], r[0]))
    waiting: list[list[float]] = [[] for _ in range(102)]  # per priority: claim times of due, unclaimed emails
    due_index = 0
    inversions = racing = 0
    for priority, _due, claimed in by_claim:
        while due_index < len(by_due) and by_due[due_index][1] <= claimed:
            heapq.heappush(waiting[by_due[due_index][0]], by_due[due_index][2])
            due_index += 1
        heapq.heappop(waiting[priority])  # this email leaves the queue now (its own claim is the smallest)
        firsts = [waiting[p][0] for p in range(1, priority) if waiting[p]]
        if firsts:
            inversions += 1
            racing += min(firsts) - claimed <= 0.010
    return {"priority_inversions": inversions, "of_which_higher_claimed_within_10ms": racing}


def phase_ordering(token: str, connection_id: str) -> dict:
    from django.utils import timezone

    from emails.models import Email

    visible = _bulk_queue(connection_id, 20_000)
    visible.update(_bulk_queue(connection_id, 500, delay=15))
    backlog_formed = timezone.now()
    processes = _pipeline()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            visible.update(_bulk_queue(connection_id, 10))
            time.sleep(0.1)
        while Email.objects.filter(status__in=[*Email.WAITING, Email.Status.SENDING]).exists():
            time.sleep(0.5)
    finally:
        for process in reversed(processes):
            stop(process)
    # Due = its send_at, or the moment its row was committed if later: an email nobody could see yet was not
    # "due and waiting".
    rows = [
        # (claimed before the clock read after the commit: it was visible by then)
        (priority, min(max(due.timestamp(), visible[str(pk)]), claimed.timestamp()), claimed.timestamp())
        for pk, priority, due, claimed in Email.objects.filter(claimed_at__gte=backlog_formed).values_list(
            "pk", "priority", "send_at", "claimed_at"
        )
        if claimed is not None
    ]
    _reset_emails()
    return {"emails_claimed": len(rows), **_inversions(rows)}


def main() -> None:
    phases = sys.argv[1:] or ["accept", "dispatch", "ordering"]
    token, connection_id = _setup()
    results = {}
    if "accept" in phases or "batch" in phases:
        results["accept"] = phase_accept(token, connection_id)
    if "dispatch" in phases:
        results["dispatch"] = phase_dispatch(token, connection_id, int(os.environ.get("BENCH_DISPATCH_SECONDS", "60")))
    if "ordering" in phases:
        results["ordering"] = phase_ordering(token, connection_id)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
