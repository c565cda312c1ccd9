"""The test command: make sure PostgreSQL and Redis answer (starting them if installed) and the browser test's
Chromium is installed, run pytest on PostgreSQL, then (a whole-suite run) the `sqlite` tests again on SQLite."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
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
# The console's browser test (tests/events/test_console_browser.py) drives these, from Debian's archive.
BROWSER_PACKAGES = {"chromium": "chromium", "chromedriver": "chromium-driver"}


def _answers(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


class Command(BaseCommand):
    help = (
        "Run the test suite against real PostgreSQL and Redis, then the `sqlite` tests on SQLite (extra arguments "
        "go to pytest, and then only the PostgreSQL run happens)."
    )

    def run_from_argv(self, argv: list[str]) -> None:
        # Every argument after `runtests` belongs to pytest (-x, -k ..., paths), not to Django's parser.
        for name, (address, start) in SERVICES.items():
            self._ensure(name, address, start)
        self._ensure_browser()
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
        pytest = [sys.executable, "-m", "pytest"]
        if argv[2:]:
            os.execve(sys.executable, [*pytest, *argv[2:]], env)  # noqa: S606
        code = subprocess.call(pytest, env=env)  # noqa: S603
        if code == 0:
            # The embedded default's database: the API and admin smoke tests once more, on a throwaway SQLite file.
            with tempfile.TemporaryDirectory() as folder:
                sqlite = {**env, "DATABASE_URL": f"sqlite:///{folder}/sesame-test.sqlite3"}
                self.stdout.write("Running the `sqlite` tests on SQLite ...")
                code = subprocess.call([*pytest, "-m", "sqlite"], env=sqlite)  # noqa: S603
        sys.exit(code)

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

    def _ensure_browser(self) -> None:
        """Install Debian's chromium and chromium-driver when missing (a clean CI machine); instant otherwise."""
        missing = [package for binary, package in BROWSER_PACKAGES.items() if not shutil.which(binary)]
        if not missing:
            return
        apt = shutil.which("apt-get")
        if apt is None or os.geteuid() != 0:
            raise CommandError(f"Install {' '.join(missing)} (Debian packages) for the browser test.")
        self.stdout.write(f"Installing {' '.join(missing)} for the browser test ...")
        install = [apt, "install", "-y", "-qq", *missing]
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.call(install, env=environment) != 0:  # noqa: S603 (a stale package index: refresh, retry)
            subprocess.check_call([apt, "update", "-qq"], env=environment)  # noqa: S603
            subprocess.check_call(install, env=environment)  # noqa: S603
