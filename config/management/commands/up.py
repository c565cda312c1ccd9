"""Run the whole of Sesame in the foreground: migrations, demo login, API + admin, a Celery worker and beat."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from config.demo import demo_ensure
from config.env import redact_url


class Command(BaseCommand):
    help = "Start Sesame (web, worker, beat) on this machine and print the demo login and API token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--bind",
            default=os.environ.get("SESAME_BIND", "127.0.0.1:8000"),
            help="host:port for the web server (default 127.0.0.1:8000, or SESAME_BIND).",
        )
        parser.add_argument("--no-worker", action="store_true", help="Start only the web server.")

    def handle(self, *args: Any, **options: Any) -> None:
        self._prepare_directories()
        call_command("migrate", interactive=False, verbosity=0)
        credentials = demo_ensure()
        processes = self._start(options["bind"], with_worker=not options["no_worker"])
        base = f"http://{options['bind']}"
        self.stdout.write(self.style.SUCCESS("\nSesame is running.\n"))
        self.stdout.write(
            f"  API docs   {base}/v1/docs\n  Admin      {base}/admin/  "
            f"(user {credentials.username}, password {credentials.password})\n"
            f"  Health     {base}/healthz\n  Account    {credentials.account_id}\n"
            f"  API token  {credentials.token}\n"
        )
        self.stdout.write(
            f"  Database   {redact_url(settings.DATABASE_URL)}\n"
            f"  Broker     {redact_url(settings.REDIS_URL) or 'filesystem (var/broker)'}\n"
            f"  AWS mode   {settings.SESAME_AWS_MODE}\n"
        )
        self.stdout.write(
            "\nTry it:\n"
            f"  curl -s {base}/v1/account -H 'Authorization: Bearer {credentials.token}'\n\n"
            "Ctrl-C stops everything.\n"
        )
        self._supervise(processes)

    def _prepare_directories(self) -> None:
        Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
        for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
            folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(key)
            if folder:
                Path(str(folder)).mkdir(parents=True, exist_ok=True)

    def _start(self, bind: str, *, with_worker: bool) -> dict[str, subprocess.Popen[bytes]]:
        python = sys.executable
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        commands = {"web": [python, manage, "runserver", bind, "--noreload", "--insecure"]}
        if with_worker:
            commands["worker"] = [
                python,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-l",
                "warning",
                "-Q",
                settings.SESAME_WORKER_QUEUES,
                *self._pool_options(),
            ]
            commands["beat"] = [python, "-m", "celery", "-A", "config", "beat", "-l", "warning"]
        env = {**os.environ, "SESAME_NO_BOOTSTRAP": "1"}
        # Links Sesame writes into messages (unsubscribe, preferences, double opt-in) point where it is served,
        # unless the operator says otherwise.
        env.setdefault("SESAME_PUBLIC_URL", "http://" + bind.replace("0.0.0.0:", "127.0.0.1:"))
        return {
            name: subprocess.Popen(command, cwd=settings.BASE_DIR, env=env)  # noqa: S603
            for name, command in commands.items()
        }

    def _pool_options(self) -> list[str]:
        if settings.REDIS_URL:
            return ["--concurrency", str(settings.CELERY_WORKER_CONCURRENCY)]
        # Without Redis, send buckets and rate counters live in process memory: one process, many threads.
        return ["--pool", "threads", "--concurrency", str(max(4, settings.CELERY_WORKER_CONCURRENCY * 4))]

    def _supervise(self, processes: dict[str, subprocess.Popen[bytes]]) -> None:
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    self.stderr.write(f"{name} exited with code {process.returncode}; stopping the rest.")
                    exit_code = process.returncode or 1
                    stopping = True
            time.sleep(0.5)
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        sys.exit(exit_code)
