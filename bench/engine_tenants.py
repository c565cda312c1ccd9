"""Many tenants on one delivery engine: a big backlog must not slow small tenants, and idle ones must cost nothing.

    .venv/bin/python bench/engine_tenants.py              # about 2 minutes
    .venv/bin/python bench/engine_tenants.py --idle 949 --small 50 --backlog 20000

Against real PostgreSQL (database sesame_bench_engine) and Redis (db 13), production settings, a fake SES on
loopback (bench/fake_ses.py: 20 ms latency, each connection its own SES account with its own max send rate, and
Throttling past it), one Celery worker (2 processes, each running the engine) and beat:

1. idle: 1,000 connections with nothing to send for 20 s. Reports the CPU the worker processes and beat spend
   (all of it is the once-a-second tick and the engine's idle wait; none of it is per connection).
2. load: the busy connection (500/s) gets a 20,000-email backlog; 5 s later each of 50 small tenants (1/s) accepts
   10 emails through the accept service. Reports the busy connection's rate while the small tenants send, each
   small tenant's time from accept to its last email reaching SES (its own rate's minimum is 9 s: 10 emails at
   1/s, the first at once), and the broker's queue lengths and the engine's lane count, sampled every 0.5 s.
"""

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PYTHON, bench_environment, free_port, prepare_database, start, stop, wait_http

SES_PORT = free_port()
ENV = bench_environment(
    "sesame_bench_engine",
    13,
    SESAME_AWS_MODE="aws",
    SESAME_AWS_ENDPOINT_URL=f"http://127.0.0.1:{SES_PORT}",
    AWS_EC2_METADATA_DISABLED="true",
)
BUSY_RATE, SMALL_RATE = 500.0, 1.0


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its children that are still alive (the prefork pool)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    for child in Path(f"/proc/{pid}/task").glob("*/children"):
        pids += [int(p) for p in child.read_text().split()]
    for each in pids:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _setup(idle: int, small: int) -> tuple[str, list[str], list[str]]:
    prepare_database(ENV)
    from accounts.models import Account, AwsConnection
    from accounts.ratelimit import redis_client
    from billing.models import Plan
    from emails.models import Email, EmailEvent, Identity

    redis_client(ENV["REDIS_URL"]).flushdb()
    EmailEvent.objects.all().delete()
    Email.objects.all().delete()
    Identity.objects.all().delete()
    AwsConnection.objects.all().delete()
    Account.objects.all().delete()
    plan = Plan.objects.get(slug="enterprise")
    names = ["busy"] + [f"small-{i}" for i in range(small)] + [f"idle-{i}" for i in range(idle)]
    accounts = Account.objects.bulk_create(Account(name=name, plan=plan) for name in names)
    connections = AwsConnection.objects.bulk_create(
        AwsConnection(
            account=account,
            identifier="default",
            is_default=True,
            access_key_id=("AKBUSY" if account.name == "busy" else "AKSMALL") + f"{i:014d}",
            secret_access_key="bench-secret",
            max_send_rate=BUSY_RATE,
            send_rate_override=None if account.name == "busy" else SMALL_RATE,
            configuration_set_name="bench",
        )
        for i, account in enumerate(accounts)
    )
    Identity.objects.bulk_create(
        Identity(account=c.account, connection=c, name="example.com", kind="domain", status="verified")
        for c in connections
    )
    return str(connections[0].pk), [str(a.pk) for a in accounts[1 : 1 + small]], [str(c.pk) for c in connections]


def _pipeline() -> tuple[list, int, int]:
    fake = start(
        [PYTHON, "bench/fake_ses.py", "--port", str(SES_PORT), "--latency-ms", "20",
         "--max-send-rate", str(BUSY_RATE), "--key-rate", f"AKSMALL={SMALL_RATE}"],
        "fake-ses-tenants", ENV,
    )  # fmt: skip
    wait_http(f"http://127.0.0.1:{SES_PORT}/stats")
    celery = [PYTHON, "-m", "celery", "-A", "config"]
    worker = start(
        [*celery, "worker", "-l", "warning", "-Q", "default,dispatch", "--concurrency", "2"], "worker-tenants", ENV
    )
    beat = start([*celery, "beat", "-l", "warning", "--pidfile", "/tmp/sesame-bench-tenants-beat.pid"], "beat", ENV)
    return [fake, worker, beat], worker.pid, beat.pid


def _queue_lengths() -> dict[str, int]:
    from accounts.ratelimit import redis_client

    client = redis_client(ENV["REDIS_URL"])
    lengths = {"lanes": int(client.zcard("sesame:lanes")), "default": 0, "dispatch": 0}
    for key in client.scan_iter(count=1000):
        name = key.decode()
        if client.type(key) == b"list" and not name.startswith("sesame:"):
            base = name.split("\x06")[0]
            lengths[base] = lengths.get(base, 0) + int(client.llen(key))
    return lengths


def _arrivals() -> list[tuple[float, int, str]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{SES_PORT}/stats", timeout=30) as response:
        return [tuple(row) for row in json.loads(response.read())]


def _throttled() -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{SES_PORT}/throttled", timeout=30) as response:
        return int(json.loads(response.read())["throttled"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=int, default=949)
    parser.add_argument("--small", type=int, default=50)
    parser.add_argument("--backlog", type=int, default=20_000)
    parser.add_argument("--idle-seconds", type=int, default=20)
    args = parser.parse_args()
    busy_id, small_accounts, _ = _setup(args.idle, args.small)

    from django.db.models import Max

    from accounts.models import Account
    from emails.models import Email
    from emails.services import email_accept_batch

    processes, worker_pid, beat_pid = _pipeline()
    results: dict[str, object] = {"connections": 1 + args.small + args.idle}
    try:
        time.sleep(5)  # the worker and beat start
        cpu_before = _cpu_seconds(worker_pid) + _cpu_seconds(beat_pid)
        time.sleep(args.idle_seconds)
        idle_cpu = _cpu_seconds(worker_pid) + _cpu_seconds(beat_pid) - cpu_before
        results["idle"] = {
            "seconds": args.idle_seconds,
            "worker_and_beat_cpu_seconds": round(idle_cpu, 2),
            "cpu_share_of_one_core": round(idle_cpu / args.idle_seconds, 3),
        }

        backlog = [
            {"from": "Bench <bench@example.com>", "to": f"user{i}@example.net", "subject": "Backlog",
             "text_body": "Hello", "priority": 50}
            for i in range(args.backlog)
        ]  # fmt: skip
        busy_account = Account.objects.get(name="busy")
        for start_at in range(0, len(backlog), 500):
            email_accept_batch(account=busy_account, items=backlog[start_at : start_at + 500])
        time.sleep(5)  # the busy connection reaches its rate

        samples: list[dict[str, float]] = []
        accepted_at: dict[str, float] = {}
        burst_start = time.time()
        for account_id in small_accounts:
            account = Account.objects.get(pk=account_id)
            items = [
                {"from": "Small <hello@example.com>", "to": f"friend{i}@example.org", "subject": "Hi", "text_body": "x"}
                for i in range(10)
            ]
            email_accept_batch(account=account, items=items)
            accepted_at[account_id] = time.time()
        small_ids = set(small_accounts)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            samples.append({"t": round(time.time() - burst_start, 1), **_queue_lengths()})
            waiting = Email.objects.filter(account_id__in=small_ids, sent_at__isnull=True).count()
            if waiting == 0:
                break
            time.sleep(0.5)
        burst_end = time.time()
        arrivals = _arrivals()
        throttled = _throttled()
    finally:
        for process in reversed(processes):
            stop(process)

    last_sent = dict(
        Email.objects.filter(account_id__in=small_ids).values_list("account_id").annotate(last=Max("sent_at"))
    )
    spans = sorted(last_sent[account_id].timestamp() - accepted_at[str(account_id)] for account_id in last_sent)
    by_email = {email_id: t for t, n, email_id in arrivals if n}
    sent_by_busy = Email.objects.filter(connection_id=uuid.UUID(busy_id), sent_at__isnull=False)
    busy_emails = {str(pk) for pk in sent_by_busy.values_list("pk", flat=True)}
    busy_window = [t for email_id, t in by_email.items() if email_id in busy_emails and burst_start <= t <= burst_end]
    results["load"] = {
        "busy_connection_per_s_while_small_tenants_send": round(len(busy_window) / (burst_end - burst_start), 1),
        "small_tenants": len(spans),
        "small_tenant_accept_to_last_send_s": {
            "min": round(spans[0], 2),
            "median": round(statistics.median(spans), 2),
            "worst": round(spans[-1], 2),
        },
        "small_tenants_unsent_after_60s": Email.objects.filter(account_id__in=small_ids, sent_at__isnull=True).count(),
        "throttled_by_fake_ses": throttled,
        "queue_lengths_max": {key: max(s.get(key, 0) for s in samples) for key in samples[0] if key != "t"},
        "queue_lengths_over_time": samples[:: max(1, len(samples) // 12)],
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
