"""Segment speed: `tag A and tag B and not tag C` over 1M contacts carrying 5M tags.

    python bench/contacts_segments.py [--rows 1000000] [--reuse]

Loads 1M contacts with 5 tags each (a Zipf-like tag law: the top tag is on ~70% of contacts, the last of 40 on a
few percent) through the importer, then times three segment shapes: popular, middling and rare tags. For each:
the count and the first page of 50 (newest first) as the ORM runs them for GET /v1/contacts, and the whole API
request in-process (token check, rate limit in Redis, filters, serialization; no network). Median of 7 warm runs.
--reuse keeps the contacts of a previous run.
"""

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.contacts_common import DATA_DIR, django_setup, prepare_database, truncate_contacts, wait_for_quiet
from bench.contacts_data import write


def median_ms(run: Callable[[], object], runs: int = 7) -> float:
    for _ in range(3):
        run()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    prepare_database()
    django_setup()
    from django.db import connection
    from django.db.models import QuerySet
    from django.http import QueryDict
    from django.test import Client

    from accounts import services
    from accounts.models import Account
    from billing import services as billing_services
    from contacts.csv_import import contacts_import
    from contacts.filters import ContactFilter
    from contacts.models import Contact, Tag

    account = Account.objects.filter(name="segments bench").first()
    if account is None or not args.reuse:
        truncate_contacts()
        account = account or billing_services.account_create_subscribed(name="segments bench", plan_slug="enterprise")
        path = DATA_DIR / f"segments-{args.rows}.csv"
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            write(path, rows=args.rows, tags_per_row=5, mobile_share=0.0, skew=True)
        started = time.perf_counter()
        with path.open("rb") as source:
            report = contacts_import(account_id=account.pk, source=source, errors=io.StringIO())
        print(f"loaded {report.created:,} contacts in {time.perf_counter() - started:.1f} s")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE contacts_contact")
    contacts = Contact.objects.filter(account=account)
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(cardinality(tag_ids)) FROM contacts_contact WHERE account_id = %s", [account.pk])
        links = cursor.fetchone()[0]
    print(f"{contacts.count():,} contacts, {links:,} tag links")
    tags = list(Tag.objects.filter(account=account).order_by("-contact_count"))
    shapes = {
        "popular": (tags[0], tags[1], tags[2]),
        "middling": (tags[10], tags[15], tags[20]),
        "rare": (tags[35], tags[38], tags[0]),
    }
    _, token = services.api_token_create(account=account, name="bench", scopes=["contacts"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    print(f"1-minute load before timing: {wait_for_quiet():.2f}")
    worst = 0.0
    for label, (a, b, c) in shapes.items():
        query = f"tags={a.name},{b.name}&tags_none={c.name}"

        def segment(q: str = query) -> QuerySet[Contact]:
            return ContactFilter(QueryDict(q), contacts, account=account).qs

        def count_query() -> int:
            return segment().count()

        def page_query() -> list[Contact]:
            return list(segment().order_by("-created_at", "-id")[:50])

        def count_api(q: str = query) -> object:
            return client.get(f"/v1/contacts?{q}&count=1")

        def page_api(q: str = query) -> object:
            return client.get(f"/v1/contacts?{q}&limit=50")

        count = count_query()
        count_ms, page_ms = median_ms(count_query), median_ms(page_query)
        api_count, api_page = median_ms(count_api), median_ms(page_api)
        assert client.get(f"/v1/contacts?{query}&count=1").json() == {"count": count}
        worst = max(worst, count_ms, page_ms, api_count, api_page)
        sizes = f"{a.contact_count:,} & {b.contact_count:,} & not {c.contact_count:,}"
        print(f"{label:9} ({sizes}) -> {count:,} contacts")
        print(f"    query: count {count_ms:6.1f} ms, page of 50 {page_ms:6.1f} ms")
        print(f"    API:   count {api_count:6.1f} ms, page of 50 {api_page:6.1f} ms")
    print(f"target (every figure <= 100 ms): {'met' if worst <= 100 else 'NOT met'} (worst {worst:.1f} ms)")


if __name__ == "__main__":
    main()
