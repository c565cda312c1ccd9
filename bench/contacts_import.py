"""Import speed: `manage.py import_contacts` on a million-row CSV, against a plain COPY of the same file.

    python bench/contacts_import.py [--rows 1000000] [--tags-per-row 3] [--mobile-share 0]

Generates the CSV (email, mobile, full_name, city, country, plan, tags; see bench/contacts_data.py) unless it is
already in BENCH_DATA_DIR, imports it into a fresh account as an operator would (the management command, in its own
process, so its peak RSS is measured), imports it a second time (nothing changes: every row is matched), and times
`COPY ... FROM STDIN (FORMAT csv)` of the same bytes into a bare seven-column text table for the ratio. Starts from
empty contact tables (--keep to import on top of what is there) and waits for the machine to be idle first.
"""

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench.contacts_common import (
    DATA_DIR,
    DATABASE_URL,
    ENV,
    PYTHON,
    ROOT,
    new_account,
    prepare_database,
    truncate_contacts,
    wait_for_quiet,
)
from bench.contacts_data import write


def run_import(account_id: str, path: Path) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in MB, the command's summary line)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [PYTHON, str(ROOT / "manage.py"), "import_contacts", account_id, str(path), "--no-progress"],
        env=ENV,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"import_contacts failed:\n{output}")
    return elapsed, usage.ru_maxrss // 1024, output.strip().splitlines()[0]


def plain_copy(path: Path) -> float:
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_bare_copy")
        conn.execute(
            "CREATE TABLE bench_bare_copy (email text, mobile text, full_name text, city text, country text, "
            "plan text, tags text)"
        )
        started = time.perf_counter()
        copy_sql = "COPY bench_bare_copy FROM STDIN (FORMAT csv, HEADER)"
        with conn.cursor() as cursor, cursor.copy(copy_sql) as copy, path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_bare_copy")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--tags-per-row", type=int, default=3)
    parser.add_argument("--mobile-share", type=float, default=0.0)
    parser.add_argument("--keep", action="store_true", help="Keep existing contacts (default: empty tables first).")
    args = parser.parse_args()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / f"import-{args.rows}-{args.tags_per_row}-{args.mobile_share}.csv"
    if not path.exists():
        write(path, rows=args.rows, tags_per_row=args.tags_per_row, mobile_share=args.mobile_share)
    prepare_database()
    if not args.keep:
        truncate_contacts()
    account_id, _ = new_account(f"import bench {time.time():.0f}")
    print(f"1-minute load before starting: {wait_for_quiet():.2f}")
    size_mb = path.stat().st_size / 1e6
    print(f"file: {path} ({args.rows:,} rows, {size_mb:.0f} MB, {args.tags_per_row} tags per row)")

    seconds, rss, summary = run_import(account_id, path)
    print(
        f"import_contacts (first run):   {seconds:6.1f} s wall, {args.rows / seconds:8,.0f} rows/s, peak RSS {rss} MB"
    )
    print(f"  command says: {summary}")
    again, rss_again, summary_again = run_import(account_id, path)
    print(f"import_contacts (same file again): {again:6.1f} s wall, peak RSS {rss_again} MB")
    print(f"  command says: {summary_again}")
    copy_seconds = plain_copy(path)
    print(f"plain COPY into a bare table:  {copy_seconds:6.1f} s")
    print(f"ratio import / COPY:           {seconds / copy_seconds:6.1f}x")
    match = re.search(r"(\d[\d,]*) created", summary)
    created = int(match.group(1).replace(",", "")) if match else 0
    ok = seconds <= 30 and rss <= 300 and created == args.rows
    print(f"target (<= 30 s, <= 300 MB, every row created): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
