"""Automations: enrolment under the events API, and the lag from a due wait to its send.

    python bench/automations_bench.py [--batches 100] [--clients 2] [--workers 2] [--runs 1000] [--rounds 2]
                                      [--only enrolment|lag]

1. Enrolment throughput. Starts gunicorn (config.wsgi, --workers gthread processes) on the contacts benchmarks'
   database and POSTs --batches batches of 1,000 events (known contacts, 1 in 10 adding a tag; the same payloads
   as bench/contacts_events.py): for an account with no automation (what every account without one pays, while
   another account has some), and for an account whose two active automations match about one event in six (an
   `added_to_wishlist` event trigger with a property condition, and a `tag_added` trigger on one of the tags),
   alternating --rounds times.
   Reports events/s, batch p50/p95 and the runs enrolled.
2. Lag from a due wait to its send. --runs contacts are enrolled into `wait 2 s, then send an email`; a real
   Celery worker (queues default and dispatch) and celery-beat (the schedule from config/settings/celery.py, which
   releases due runs every second) do the rest through the local SES simulator. Reports, from each run's wait end:
   the email queued (the send step's commit) and the email sent (the simulator took it), p50/p95/max.

The 1-minute load average is printed before each timed phase (the machine is shared by other work).
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.contacts_common import ENV, PYTHON, ROOT, django_setup, manage, new_account, prepare_database, wait_for_quiet
from bench.contacts_events import ingest, payloads, start_server


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f}"


def percentiles(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return f"p50 {statistics.median(values) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {values[-1] * 1000:.0f} ms"


def activate(account_id: str, data: dict[str, object]) -> str:
    from accounts.models import Account
    from events.automations.services import automation_activate, automation_create

    automation = automation_create(account=Account.objects.get(pk=account_id), data=data)
    return str(automation_activate(automation=automation).pk)


def enrolment(args: argparse.Namespace) -> None:
    quiet_id, quiet_token = new_account(f"automations bench quiet {time.time():.0f}")
    busy_id, busy_token = new_account(f"automations bench busy {time.time():.0f}")
    django_setup()
    from events.automations.models import AutomationRun

    wishlist = {"type": "event", "event": "added_to_wishlist", "conditions": [{"property": "path", "op": "exists"}]}
    for name, trigger in (("Wishlist", wishlist), ("Interest 3", {"type": "tag_added", "tag": "interest-3"})):
        activate(
            busy_id,
            {
                "name": name,
                "trigger": trigger,
                "steps": [{"type": "wait", "seconds": 86400}],
                "reentry": {"mode": "every_trigger"},
            },
        )
    # Contacts first (first sight is another benchmark), so each phase below names known contacts.
    fresh = payloads(args.batches, new=True, seed=3)
    known = payloads(args.batches, new=False, pool=args.batches * 1000, seed=11)
    server = start_server("gunicorn", args.workers)
    try:
        for token in (quiet_token, busy_token):
            ingest(token, fresh, args.clients)
        phases = [
            ("account without automations (the other has 2)", quiet_token, quiet_id),
            ("account with 2 active automations", busy_token, busy_id),
        ]
        # Interleaved rounds: on a shared machine the load drifts, and alternating shows it in both.
        for label, token, account_id in phases * args.rounds:
            before = AutomationRun.objects.filter(account_id=account_id).count()
            print(f"{load()} (waited for < 1: {wait_for_quiet():.2f})")
            elapsed, latencies = ingest(token, known, args.clients)
            events = 1000 * len(known)
            enrolled = AutomationRun.objects.filter(account_id=account_id).count() - before
            print(
                f"POST /v1/events, {label}: {events:,} events in {elapsed:.1f} s = {events / elapsed:,.0f} events/s "
                f"({percentiles(latencies).replace('p50', 'batch p50')}); {enrolled:,} runs enrolled"
            )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    # Their runs (each due to start its day-long wait) would share the release with the lag phase's.
    from events.automations.models import Automation
    from events.automations.services import automation_delete

    for automation in Automation.objects.filter(account_id=busy_id):
        automation_delete(automation=automation)


def lag(args: argparse.Namespace) -> None:
    account_id, _ = new_account(f"automations bench lag {time.time():.0f}")
    manage("add_identity", account_id, "example.com")
    django_setup()
    from django.utils import timezone

    from accounts.models import Account, AwsConnection
    from contacts.services import contacts_tags_change
    from emails.models import Email
    from emails.templating.services import template_create
    from events.automations.models import AutomationRun

    account = Account.objects.get(pk=account_id)
    AwsConnection.objects.filter(account=account).update(send_rate_override=1000)
    template_create(
        account=account,
        channel="email",
        name="Nudge",
        content={"subject": "Hi {{ first_name | default: 'there' }}", "html": "<p>Still yours.</p>"},
    )
    automation_id = activate(
        account_id,
        {
            "name": "Lag",
            "trigger": {"type": "tag_added", "tag": "lag"},
            "steps": [
                {"type": "wait", "seconds": 2},
                {"type": "send", "channel": "email", "template": "Nudge", "from": "hello@example.com"},
            ],
        },
    )
    from contacts.models import Contact

    Contact.objects.bulk_create(
        [Contact(account=account, email=f"lag{i}@example.com") for i in range(args.runs)], ignore_conflicts=True
    )
    env = {**ENV, "SESAME_AWS_MODE": "simulator", "SESAME_SIMULATOR_SEND_RATE": "1000"}
    logs = Path("/tmp")
    worker = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "default,dispatch",
            "-c",
            str(args.workers),
            "-l",
            "warning",
            "-n",
            f"bench-{time.time_ns()}@localhost",
        ],
        env=env,
        cwd=ROOT,
        stdout=(logs / "sesame-bench-automations-worker.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    beat = subprocess.Popen(
        [PYTHON, "-m", "celery", "-A", "config", "beat", "-l", "warning", "--pidfile", ""],
        env=env,
        cwd=ROOT,
        stdout=(logs / "sesame-bench-automations-beat.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        time.sleep(8)  # worker and beat up, the first ticks sent
        print(f"{load()} (waited for < 1: {wait_for_quiet():.2f})")
        ids = list(Contact.objects.filter(account=account).values_list("pk", flat=True))
        started = time.perf_counter()
        contacts_tags_change(account_id=account.pk, contact_ids=ids, add=["lag"])
        took = time.perf_counter() - started
        print(f"tagged {len(ids):,} contacts (each enrolled in the same transaction as its tag) in {took:.2f} s")
        runs = AutomationRun.objects.filter(automation_id=automation_id)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and Email.objects.filter(
            account=account, sent_at__isnull=False
        ).count() < len(ids):
            time.sleep(0.5)
        sent = Email.objects.filter(account=account, sent_at__isnull=False).count()
        queued_lag, sent_lag = [], []
        for run in runs.prefetch_related("steps"):
            waited = next((s for s in run.steps.all() if s.outcome == "waiting"), None)
            if waited is None:
                continue
            due = waited.occurred_at.timestamp() + 2
            email = Email.objects.filter(client_email_id=f"automation-{run.pk}-s2").first()
            if email is not None:
                queued_lag.append(email.created_at.timestamp() - due)
                if email.sent_at:
                    sent_lag.append(email.sent_at.timestamp() - due)
        print(f"{sent:,} of {len(ids):,} emails sent at {timezone.now():%H:%M:%S} UTC; {load()}")
        print(f"due wait -> email queued by the send step: {percentiles(queued_lag)}")
        print(f"due wait -> email sent (simulator took it): {percentiles(sent_lag)}")
        if queued_lag:
            # All waits end within the tagging's fraction of a second: the spread of the queued lag is the release's
            # pace through the send step.
            spread = max(queued_lag) - min(queued_lag)
            print(
                f"the release took {len(queued_lag):,} runs through their send step in {spread:.1f} s "
                f"({len(queued_lag) / max(spread, 0.001):,.0f} runs/s)"
            )
    finally:
        for process in (beat, worker):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", choices=["enrolment", "lag"])
    args = parser.parse_args()
    prepare_database()
    if args.only != "lag":
        enrolment(args)
    if args.only != "enrolment":
        lag(args)


if __name__ == "__main__":
    main()
