"""SNS webhook benchmark: latency of POST /webhooks/sns/<connection> at a fixed arrival rate.

    .venv/bin/python bench/webhook_bench.py                      # 500 notifications/s for 20 s
    .venv/bin/python bench/webhook_bench.py --rate 800 --seconds 30 --drain

Against real PostgreSQL (database sesame_bench_events) and Redis (db 12): gunicorn serves Sesame (2 gthread
workers, 16 threads each) with the SNS certificate fetch answered from a test certificate (bench/webhook_wsgi.py);
every message is a real SES Delivery event in an SNS envelope signed with SignatureVersion 2, each with its own
MessageId. The generator is open-loop: request i is due at t0 + i/rate whether or not earlier ones were answered,
and its latency runs from that due time to the last byte of the answer, so queueing shows up in the figures
(no coordinated omission). It runs in this process, on the same 2 cores as the server, PostgreSQL and Redis.

The request verifies the signature, inserts the raw notification and enqueues its processing; no Celery worker
runs during the measurement, so the figures are the webhook's alone. --drain then starts one worker (2 processes)
and reports how fast it works through the backlog.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import PYTHON, bench_environment, cpu_seconds, free_port, prepare_database, start, stop, wait_http  # noqa: E402

ENV = bench_environment("sesame_bench_events", 12, SESAME_AWS_MODE="simulator")
BIND = f"127.0.0.1:{free_port()}"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:sesame-events-bench"


def _setup() -> str:
    prepare_database(ENV)
    from accounts import services
    from accounts.models import Account, AwsConnection
    from accounts.ratelimit import redis_client
    from billing import services as billing_services
    from emails.models import EmailEvent
    from events.models import SnsNotification

    redis_client(ENV["REDIS_URL"]).flushdb()
    EmailEvent.objects.all().delete()
    SnsNotification.objects.all().delete()
    Account.objects.filter(name="Webhook bench").delete()
    account = billing_services.account_create_subscribed(name="Webhook bench", plan_slug="enterprise")
    connection = services.aws_connection_create(
        account=account,
        identifier="bench",
        region="us-east-1",
        access_key_id="AKIABENCH",
        secret_access_key="bench-secret",
        is_default=True,
    )
    AwsConnection.objects.filter(pk=connection.pk).update(sns_topic_arn=TOPIC_ARN)
    return str(connection.pk)


def _envelopes(count: int) -> list[bytes]:
    """Signed SNS envelopes around AWS's own Delivery sample, each a distinct message."""
    from tests.events import signing

    sample = json.loads((ROOT / "tests/fixtures/ses-events/delivery.json").read_text())
    bodies = []
    for _ in range(count):
        sample["mail"]["messageId"] = f"bench-{uuid.uuid4()}"
        bodies.append(json.dumps(signing.notification(TOPIC_ARN, sample, version="2")).encode())
    return bodies


async def _send(pool: asyncio.Queue, host: str, port: int, request: bytes) -> int:
    try:
        reader, writer = pool.get_nowait()
    except asyncio.QueueEmpty:
        reader, writer = await asyncio.open_connection(host, port)
    writer.write(request)
    status_line = await reader.readline()
    if not status_line:
        writer.close()
        raise ConnectionResetError("the server closed the connection")
    length, keep = 0, True
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "connection" and value.strip().lower() == "close":
            keep = False
    await reader.readexactly(length)
    if keep:
        pool.put_nowait((reader, writer))
    else:
        writer.close()
    return int(status_line.split()[1])


async def _open_loop(url: str, bodies: list[bytes], rate: float) -> tuple[list[float], dict[int, int], float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    pool: asyncio.Queue = asyncio.Queue()
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def one(body: bytes, due: float) -> None:
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        request = (
            f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: text/plain; charset=UTF-8\r\n"
            f"x-amz-sns-message-type: Notification\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        try:
            status = await _send(pool, host, port, request)
        except (OSError, asyncio.IncompleteReadError):
            status = 599
        latencies.append(time.perf_counter() - due)
        statuses[status] = statuses.get(status, 0) + 1

    start = time.perf_counter() + 0.2
    await asyncio.gather(*(one(body, start + i / rate) for i, body in enumerate(bodies)))
    return latencies, statuses, time.perf_counter() - start


def _commit_probe(seconds: float = 3.0, rate: float = 500.0) -> dict:
    """Bare autocommit INSERTs of a 3.5 KB row at the bench's rate: how long the disk makes a commit wait.
    On a shared machine its max is what the webhook's tail follows."""
    from django.db import connection

    latencies = []
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE commit_probe (id bigserial PRIMARY KEY, body text)")
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            cursor.execute("INSERT INTO commit_probe (body) VALUES (%s)", ["x" * 3500])
            latencies.append(time.perf_counter() - started)
            time.sleep(max(0.0, 1 / rate - (time.perf_counter() - started)))
        cursor.execute("DROP TABLE commit_probe")
    return {
        "p50_ms": round(_percentile(latencies, 0.5), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies) * 1000, 1),
    }


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


def _drain(expected: int) -> dict:
    from events.models import SnsNotification

    worker = start(
        [PYTHON, "-m", "celery", "-A", "config", "worker", "-l", "warning", "-Q", "default", "--concurrency", "2"],
        "webhook-worker",
        ENV,
    )
    started = time.monotonic()
    try:
        while SnsNotification.objects.filter(processed_at__isnull=True).exists():
            if time.monotonic() - started > 600:
                break
            time.sleep(0.5)
    finally:
        stop(worker)
    elapsed = time.monotonic() - started
    done = SnsNotification.objects.filter(processed_at__isnull=False).count()
    return {"processed": done, "of": expected, "seconds": round(elapsed, 1), "per_s": round(done / elapsed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=500.0, help="notifications per second (default 500)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured duration (default 20)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=16, help="threads per worker (default 16)")
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class (default gthread)")
    parser.add_argument("--drain", action="store_true", help="then time one worker processing the backlog")
    args = parser.parse_args()

    connection_id = _setup()
    from tests.events import signing

    with tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False) as pem:
        pem.write(signing.certificate().pem)
    warmup = _envelopes(int(args.rate * 2))
    bodies = _envelopes(int(args.rate * args.seconds))
    web = start(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "bench.webhook_wsgi:application",
            "-w",
            str(args.workers),
            "-k",
            args.worker_class,
            "--threads",
            str(args.threads),
            "-b",
            BIND,
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        "webhook-web",
        {**ENV, "SESAME_BENCH_SNS_CERT": pem.name},
    )
    url = f"http://{BIND}/webhooks/sns/{connection_id}"
    try:
        wait_http(f"http://{BIND}/healthz")
        asyncio.run(_open_loop(url, warmup, args.rate))  # connections, certificate cache, DB connections
        server_cpu, own_cpu = cpu_seconds(group=web.pid), time.process_time()
        latencies, statuses, elapsed = asyncio.run(_open_loop(url, bodies, args.rate))
        server_cpu, own_cpu = cpu_seconds(group=web.pid) - server_cpu, time.process_time() - own_cpu
    finally:
        stop(web)
        os.unlink(pem.name)

    from events.models import SnsNotification

    stored = SnsNotification.objects.count()
    result: dict = {
        "rate_target_per_s": args.rate,
        "server": f"gunicorn {args.worker_class}, {args.workers} workers x {args.threads} threads",
        "rate_achieved_per_s": round(len(latencies) / elapsed),
        "requests": len(latencies),
        "statuses": statuses,
        "p50_ms": round(_percentile(latencies, 0.50), 1),
        "p90_ms": round(_percentile(latencies, 0.90), 1),
        "p99_ms": round(_percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
        "stored_notifications": stored,
        "server_cpu_ms_per_request": round(server_cpu / len(latencies) * 1000, 2),
        "generator_cpu_ms_per_request": round(own_cpu / len(latencies) * 1000, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "postgres_commit_alone": _commit_probe(),
    }
    if args.drain:
        result["drain"] = _drain(stored)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
