"""Shared by the contacts benchmarks: one database of their own, an account, a manage.py runner."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sesame_bench_contacts")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
DATA_DIR = Path(os.environ.get("BENCH_DATA_DIR", "/tmp/sesame-bench-contacts"))
ENV = {
    **os.environ,
    "SESAME_NO_BOOTSTRAP": "1",
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "DJANGO_SETTINGS_MODULE": "config.settings.base",
    "SESAME_DEBUG": "false",
    "SESAME_ALLOWED_HOSTS": "*",
    "SESAME_LOG_LEVEL": "WARNING",
}


def manage(*args: str, capture: bool = True) -> str:
    result = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args], env=ENV, cwd=ROOT, check=True, capture_output=capture, text=True
    )
    return result.stdout if capture else ""


def prepare_database() -> None:
    """Create the benchmark database when missing, and migrate it."""
    import psycopg

    admin_dsn, _, name = DATABASE_URL.rpartition("/")
    with psycopg.connect(f"{admin_dsn}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    manage("migrate", "--verbosity", "0")


def new_account(name: str) -> tuple[str, str]:
    """(account id, full-scope token)."""
    created = json.loads(manage("create_account", name, "--plan", "enterprise"))
    return created["account_id"], created["token"]


def django_setup() -> None:
    os.environ.update({key: value for key, value in ENV.items() if key not in os.environ or key != "PATH"})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def wait_for_quiet(max_wait: float = 180, threshold: float = 1.0) -> float:
    """Benchmarks on a shared 2-core machine: wait until the 1-minute load settles, return the load we start at."""
    import time

    deadline = time.monotonic() + max_wait
    load = os.getloadavg()[0]
    while load > threshold and time.monotonic() < deadline:
        time.sleep(10)
        load = os.getloadavg()[0]
    return load


def truncate_contacts() -> None:
    """Start from empty contact tables (this database belongs to the benchmarks)."""
    import psycopg

    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE contacts_contactevent, contacts_contactimportblob, contacts_contactimport, contacts_segment, "
            "contacts_tag, contacts_contact"
        )
        conn.execute("VACUUM ANALYZE contacts_contact")
