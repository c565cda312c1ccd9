"""Which tag representation makes segment queries fast? Measures both candidates on the same data.

    python bench/contacts_tag_layout.py [--contacts 1000000] [--dsn postgres://postgres@127.0.0.1:5432/sesame_bench_contacts]

Builds two bare schemas side by side (no Django involved) holding the same 1M contacts and ~5M tag links:

- link:  contact rows + tag(id) + contact_tag(tag_id, contact_id) with PK (tag_id, contact_id) and an index
         (contact_id, tag_id); segment queries are EXISTS / NOT EXISTS semi-joins, as the ORM writes them.
- array: contact rows with tag_ids int[] and a GIN index; segment queries are `@>` and `&&`.

Tag popularity is skewed (tag 0 is on ~45% of contacts, tag 40 on ~5%, tag 95 on ~2%), and the three segment
shapes cover popular, middling and rare tags. Prints the median of 7 warm runs per query, and the time to add 3M
links (what an import of 1M contacts with 3 tags does) to each layout.
"""

import argparse
import statistics
import time
from typing import Any

import psycopg

SCHEMA = """
DROP SCHEMA IF EXISTS taglayout CASCADE;
CREATE SCHEMA taglayout;
SET search_path TO taglayout;
CREATE TABLE contact (
    id bigint PRIMARY KEY, account_id int NOT NULL, email text NOT NULL, status text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE contact_tag (tag_id int NOT NULL, contact_id bigint NOT NULL, PRIMARY KEY (tag_id, contact_id));
CREATE TABLE contact_arr (
    id bigint PRIMARY KEY, account_id int NOT NULL, email text NOT NULL, status text NOT NULL,
    created_at timestamptz NOT NULL, tag_ids int[] NOT NULL DEFAULT '{}'
);
"""

LOAD = """
SET search_path TO taglayout;
INSERT INTO contact
SELECT g, CASE WHEN g %% 20 = 0 THEN 2 ELSE 1 END, 'user' || g || '@example.com', 'subscribed',
       now() - (g || ' seconds')::interval
FROM generate_series(1, %(n)s) g;
INSERT INTO contact_tag
SELECT DISTINCT floor(100 * power(random(), 2))::int, c.id FROM contact c, generate_series(1, 6);
CREATE INDEX ON contact (account_id, created_at DESC, id DESC);
CREATE INDEX ON contact_tag (contact_id, tag_id);
INSERT INTO contact_arr
SELECT c.id, c.account_id, c.email, c.status, c.created_at,
       coalesce((SELECT array_agg(t.tag_id ORDER BY t.tag_id) FROM contact_tag t WHERE t.contact_id = c.id), '{}')
FROM contact c;
CREATE INDEX ON contact_arr (account_id, created_at DESC, id DESC);
CREATE INDEX ON contact_arr USING gin (tag_ids);
VACUUM ANALYZE contact;
VACUUM ANALYZE contact_tag;
VACUUM ANALYZE contact_arr;
"""

LINK_WHERE = """c.account_id = 1
  AND EXISTS (SELECT 1 FROM contact_tag t WHERE t.contact_id = c.id AND t.tag_id = %(a)s)
  AND EXISTS (SELECT 1 FROM contact_tag t WHERE t.contact_id = c.id AND t.tag_id = %(b)s)
  AND NOT EXISTS (SELECT 1 FROM contact_tag t WHERE t.contact_id = c.id AND t.tag_id = %(c)s)"""
ARRAY_WHERE = "c.account_id = 1 AND c.tag_ids @> ARRAY[%(a)s, %(b)s]::int[] AND NOT c.tag_ids && ARRAY[%(c)s]::int[]"

QUERIES = {
    "count": "SELECT count(*) FROM {table} c WHERE {where}",
    "page of 50": "SELECT c.id, c.email FROM {table} c WHERE {where} ORDER BY c.created_at DESC, c.id DESC LIMIT 50",
}
SEGMENTS = {
    "popular (0, 1, not 2)": (0, 1, 2),
    "middling (10, 20, not 30)": (10, 20, 30),
    "rare (90, 95, not 0)": (90, 95, 0),
}


def timed(cursor: psycopg.Cursor, sql: str, params: dict[str, int], runs: int = 7) -> tuple[float, list[Any]]:
    samples = []
    result: list[Any] = []
    for _ in range(runs):
        started = time.perf_counter()
        cursor.execute(sql, params)
        result = cursor.fetchall()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--dsn", default="postgres://postgres@127.0.0.1:5432/sesame_bench_contacts")
    args = parser.parse_args()
    with psycopg.connect(args.dsn, autocommit=True) as conn, conn.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(SCHEMA)
        for statement in LOAD.split(";\n"):
            if statement.strip():
                cursor.execute(statement, {"n": args.contacts})
        cursor.execute("SELECT count(*) FROM taglayout.contact_tag")
        links = cursor.fetchone()[0]  # type: ignore[index]
        print(f"built {args.contacts:,} contacts, {links:,} links in {time.perf_counter() - started:.0f} s")
        cursor.execute("SET search_path TO taglayout")
        for segment, (a, b, c) in SEGMENTS.items():
            for label, template in QUERIES.items():
                link_ms, link_rows = timed(
                    cursor, template.format(table="contact", where=LINK_WHERE), {"a": a, "b": b, "c": c}
                )
                arr_ms, arr_rows = timed(
                    cursor, template.format(table="contact_arr", where=ARRAY_WHERE), {"a": a, "b": b, "c": c}
                )
                assert link_rows == arr_rows, (segment, label)
                size = link_rows[0][0] if label == "count" else len(link_rows)
                print(f"{segment:28} {label:11} rows={size:>8,}  link {link_ms:7.1f} ms   array {arr_ms:7.1f} ms")
        # Write cost of an import's 3 tags per contact on top of the existing data (rolled back).
        for label, sql in {
            "link: +3M links": "INSERT INTO contact_tag SELECT 100 + k, id FROM contact, generate_series(0, 2) k",
            "array: +3 tags on 1M rows": "UPDATE contact_arr SET tag_ids = tag_ids || ARRAY[100, 101, 102]",
        }.items():
            cursor.execute("BEGIN")
            started = time.perf_counter()
            cursor.execute(sql)
            print(f"{label:28} {time.perf_counter() - started:6.1f} s")
            cursor.execute("ROLLBACK")


if __name__ == "__main__":
    main()
