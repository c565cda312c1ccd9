"""Event ingestion over real HTTP, and timeline reads with 10M events in the table.

    python bench/contacts_events.py [--new-batches 100] [--batches 300] [--clients 2] [--workers 2]
                                    [--server gunicorn|runserver] [--timeline-events 10000000]

1. Starts a real web server on 127.0.0.1:8766 against the benchmark database: gunicorn (config.wsgi, --workers
   sync-threaded processes) or Django's threaded `runserver` (what `manage.py up` runs). DEBUG is off.
2. POSTs batches of 1,000 events to /v1/events from --clients keep-alive HTTP connections (payloads serialised
   beforehand; 1 event in 10 also adds a tag), in two phases: "first sight", --new-batches batches whose every
   event names a new address (so each event also creates a contact), then "known contacts", --batches batches
   naming addresses the first phase created. Reports events/s and batch latency for each.
3. Tops the contact-event table up to --timeline-events rows with INSERT ... SELECT (spread over those contacts,
   plus one contact with 200,000 events), then times one contact's newest 50 events: the query, and GET
   /v1/contacts/{id}/timeline?limit=50 over HTTP. Median of 7 warm runs.
"""

import argparse
import http.client
import json
import os
import queue
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.contacts_common import ENV, PYTHON, ROOT, django_setup, new_account, prepare_database, wait_for_quiet

HOST, PORT = "127.0.0.1", 8766
NAMES = ["page_view", "added_to_cart", "purchase", "login", "search", "added_to_wishlist"]


def start_server(kind: str, workers: int) -> subprocess.Popen[bytes]:
    if kind == "gunicorn":
        command = [
            PYTHON,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "-w",
            str(workers),
            "-k",
            "gthread",
            "--threads",
            "4",
            "-b",
            f"{HOST}:{PORT}",
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ]
    else:
        command = [PYTHON, str(ROOT / "manage.py"), "runserver", f"{HOST}:{PORT}", "--noreload"]
    log = (Path("/tmp") / f"sesame-bench-events-{kind}.log").open("wb")
    process = subprocess.Popen(command, env=ENV, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(HOST, PORT, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status in (200, 503):
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"{kind} did not start; see /tmp/sesame-bench-events-{kind}.log")


def payloads(batches: int, *, new: bool, pool: int = 200_000, seed: int = 7) -> list[bytes]:
    """Batches of 1,000 events. new=True: every event names an address never seen (each creates a contact);
    new=False: addresses drawn from the first `pool` ones, which the new batches created."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    bodies = []
    for batch in range(batches):
        events = []
        for n in range(1000):
            address = batch * 1000 + n if new else rng.randrange(pool)
            event = {
                "email": f"ev{address}@example.com",
                "name": rng.choice(NAMES),
                "properties": {"path": f"/p/{rng.randrange(5000)}", "batch": batch},
                "occurred_at": (now - timedelta(seconds=rng.randrange(86_400 * 30))).isoformat(),
            }
            if n % 10 == 0:
                event["add_tags"] = [f"interest-{rng.randrange(20)}"]
            events.append(event)
        bodies.append(json.dumps({"events": events}).encode())
    return bodies


def ingest(token: str, bodies: list[bytes], clients: int) -> tuple[float, list[float]]:
    work: queue.Queue[bytes] = queue.Queue()
    for body in bodies:
        work.put(body)
    latencies: list[float] = []
    failures: list[str] = []

    def client() -> None:
        conn = http.client.HTTPConnection(HOST, PORT, timeout=60)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                return
            started = time.perf_counter()
            conn.request("POST", "/v1/events", body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            latencies.append(time.perf_counter() - started)
            if response.status != 200 or json.loads(answer)["accepted"] != 1000:
                failures.append(f"{response.status} {answer[:200]!r}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} batches failed, e.g. {failures[0]}")
    return elapsed, latencies


def top_up_events(account_id: str, target: int) -> tuple[int, int]:
    """Fill the table to `target` events; returns (a typical contact id, the heavy contact id)."""
    from django.db import connection

    from contacts.models import Contact, ContactEvent

    ids = list(Contact.objects.filter(account_id=account_id).order_by("pk").values_list("pk", flat=True))
    heavy = ids[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM contacts_contactevent")
        have = cursor.fetchone()[0]
        if ContactEvent.objects.filter(contact_id=heavy).count() < 200_000:
            cursor.execute(
                "INSERT INTO contacts_contactevent (account_id, contact_id, name, properties, occurred_at, source) "
                "SELECT %s, %s, 'page_view', '{}'::jsonb, now() - g * interval '13 seconds', 'api' "
                "FROM generate_series(1, 200000) g",
                [account_id, heavy],
            )
            have += 200_000
        step = 1_000_000
        while have < target:
            rows = min(step, target - have)
            started = time.perf_counter()
            cursor.execute(
                "INSERT INTO contacts_contactevent (account_id, contact_id, name, properties, occurred_at, source) "
                "SELECT %s, (string_to_array(%s, ',')::bigint[])[1 + (g::bigint * 7919) %% %s], "
                "(ARRAY['page_view','added_to_cart','purchase','login','search'])[1 + g %% 5], "
                "jsonb_build_object('n', g), now() - (g %% 2592000) * interval '1 second', 'api' "
                "FROM generate_series(1, %s) g",
                [account_id, ",".join(map(str, ids)), len(ids), rows],
            )
            have += rows
            print(f"  events in table: {have:,} (+{rows:,} in {time.perf_counter() - started:.0f} s)", flush=True)
        cursor.execute("VACUUM ANALYZE contacts_contactevent")
    return ids[len(ids) // 2], heavy


def timed_ms(run: object, runs: int = 7) -> tuple[float, float]:
    """(first run, median of the warm runs) in ms."""
    assert callable(run)
    started = time.perf_counter()
    run()
    first = (time.perf_counter() - started) * 1000
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return first, statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new-batches", type=int, default=100)
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--server", choices=["gunicorn", "runserver"], default="gunicorn")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeline-events", type=int, default=10_000_000)
    args = parser.parse_args()
    prepare_database()
    account_id, token = new_account(f"events bench {time.time():.0f}")
    fresh = payloads(args.new_batches, new=True)
    known = payloads(args.batches, new=False, pool=args.new_batches * 1000)
    server = start_server(args.server, args.workers)
    processes = args.workers if args.server == "gunicorn" else 1
    try:
        ingest(token, payloads(3, new=False, pool=1000, seed=1), 1)  # warm-up: imports, connections
        for phase, bodies in (("first sight", fresh), ("known contacts", known)):
            print(f"1-minute load before timing: {wait_for_quiet():.2f}")
            elapsed, latencies = ingest(token, bodies, args.clients)
            events = 1000 * len(bodies)
            latencies.sort()
            p50, p95 = latencies[len(latencies) // 2] * 1000, latencies[int(len(latencies) * 0.95)] * 1000
            print(
                f"POST /v1/events, {phase}, via {args.server} ({processes} process(es)), {args.clients} clients: "
                f"{events:,} events in {elapsed:.1f} s = {events / elapsed:,.0f} events/s "
                f"(batch p50 {p50:.0f} ms, p95 {p95:.0f} ms); target >= 10,000/s "
                f"{'met' if events / elapsed >= 10_000 else 'NOT met'}"
            )

        django_setup()
        from contacts.models import Contact, ContactEvent
        from contacts.selectors import contact_timeline

        typical, heavy = top_up_events(account_id, args.timeline_events)
        total = ContactEvent.objects.count()
        print(f"1-minute load before timing: {wait_for_quiet():.2f}")
        conn = http.client.HTTPConnection(HOST, PORT, timeout=30)

        def over_http(contact_id: int) -> None:
            conn.request(
                "GET", f"/v1/contacts/{contact_id}/timeline?limit=50", headers={"Authorization": f"Bearer {token}"}
            )
            response = conn.getresponse()
            body = json.loads(response.read())
            assert response.status == 200 and len(body["results"]) == 50, body

        worst = 0.0
        for label, contact_id in (("typical contact", typical), ("contact with 200k events", heavy)):
            count = ContactEvent.objects.filter(contact_id=contact_id).count()
            contact = Contact.objects.get(pk=contact_id)
            query = timed_ms(lambda c=contact: list(contact_timeline(contact=c).order_by("-occurred_at", "-id")[:51]))
            http_ms = timed_ms(lambda c=contact_id: over_http(c))
            worst = max(worst, query[1], http_ms[1])
            print(
                f"timeline, {label} ({count:,} events; {total:,} in the table): query first {query[0]:.1f} ms, "
                f"warm {query[1]:.1f} ms; GET over HTTP first {http_ms[0]:.1f} ms, warm {http_ms[1]:.1f} ms"
            )
        print(f"target (newest 50 <= 20 ms): {'met' if worst <= 20 else 'NOT met'} (worst warm {worst:.1f} ms)")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
