"""What the benchmarks share: an environment of their own (database, Redis db, production settings), a
migrated database, and child processes (gunicorn, Celery, fake SES) that are always stopped."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def bench_environment(database: str, redis_db: int, **overrides: str) -> dict[str, str]:
    """Production settings on a database and Redis db of the benchmark's own, applied to this process too."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "SESAME_ENV": "production",
        "SESAME_DEBUG": "false",
        "SESAME_NO_BOOTSTRAP": "1",
        "SESAME_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SESAME_SECRET_KEY": "bench-secret-key-bench-secret-key-bench-secret-key",
        "SESAME_ENCRYPTION_KEY": "5OSQ8dzdJyd7KHTPEAIJWeu-alsfE4_kCaVCloxypAQ=",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "SESAME_LOG_LEVEL": "WARNING",
        **overrides,
    }
    os.environ.update(env)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return env


def prepare_database(env: dict[str, str]) -> None:
    """Create the benchmark's database when missing, migrate it, and set Django up in this process."""
    import psycopg

    admin_dsn, _, name = env["DATABASE_URL"].rpartition("/")
    with psycopg.connect(f"{admin_dsn}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    import django

    django.setup()


def start(args: list[str], log: str, env: dict[str, str]) -> subprocess.Popen:
    """A child in its own process group, its output in a temp file named after `log`."""
    out = open(Path(tempfile.gettempdir()) / f"sesame-bench-{log}.log", "w")  # noqa: SIM115 (the child's)
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def free_port() -> int:
    """A port nothing listens on, so two benchmarks never measure each other's server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def cpu_seconds(*, group: int | None = None, command: str | None = None) -> float:
    """CPU (user + system) used so far by the live processes of a process group, or by those named `command`
    (e.g. "postgres": every backend and helper of the server), read from /proc. Processes that exit between two
    readings take their time with them: sample ones that live through the measurement."""
    return sum(cpu_by_process(group=group, command=command).values())


def cpu_by_process(*, group: int | None = None, command: str | None = None) -> dict[int, float]:
    """`cpu_seconds` per process id: subtract two readings pid by pid, and a process that exits in between (an
    autovacuum worker) cannot make the difference negative."""
    seconds: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        if (group is not None and int(fields[2]) == group) or (command is not None and name == command):
            seconds[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds
