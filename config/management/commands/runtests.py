"""The test command: make sure PostgreSQL and Redis answer (starting them if installed), then run pytest."""

import os
import shutil
import socket
import subprocess
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

SERVICES = {
    "PostgreSQL": (("127.0.0.1", 5432), "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"),
    "Redis": (
        ("127.0.0.1", 6379),
        'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
    ),
}


def _answers(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


class Command(BaseCommand):
    help = "Run the test suite against real PostgreSQL and Redis (extra arguments go to pytest)."

    def run_from_argv(self, argv: list[str]) -> None:
        # Every argument after `runtests` belongs to pytest (-x, -k ..., paths), not to Django's parser.
        for name, (address, start) in SERVICES.items():
            self._ensure(name, address, start)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
        os.execve(sys.executable, [sys.executable, "-m", "pytest", *argv[2:]], env)  # noqa: S606

    def handle(self, *args: Any, **options: Any) -> None:
        self.run_from_argv(["manage.py", "runtests"])

    def _ensure(self, name: str, address: tuple[str, int], start: str) -> None:
        if _answers(address):
            return
        if not shutil.which(start.split()[0]):
            raise CommandError(f"{name} is not answering on {address[0]}:{address[1]} and is not installed here.")
        self.stdout.write(f"{name} is not running; starting it: {start}")
        subprocess.run(start, shell=True, check=False)  # noqa: S602
        for _ in range(30):
            if _answers(address):
                return
            time.sleep(1)
        raise CommandError(f"{name} did not come up on {address[0]}:{address[1]} after `{start}`.")
