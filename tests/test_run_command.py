"""The README's run command on the embedded default: SQLite, no Redis, the local SES simulator."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fetch(url: str, token: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def running_sesame(tmp_path: Path):
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        SESAME_ENV="development",
        SESAME_VAR_DIR=str(tmp_path),
        SESAME_NO_BOOTSTRAP="1",
        SESAME_SECRET_KEY="",
        SESAME_ENCRYPTION_KEY="",
    )
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "up", "--bind", f"127.0.0.1:{port}"],
        env=env,
        stdout=(tmp_path / "up.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if _fetch(f"{base}/healthz")[0] == 200:
                break
        except OSError:
            pass
        assert process.poll() is None, (tmp_path / "up.log").read_text()
        time.sleep(0.5)
    else:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("`manage.py up` did not answer /healthz within 90 s")
    yield base, tmp_path, process
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def test_up_serves_admin_docs_and_a_working_demo_token(running_sesame):
    base, var_dir, process = running_sesame
    credentials = json.loads((var_dir / "demo-credentials.json").read_text())

    status, body = _fetch(f"{base}/healthz")
    health = json.loads(body)
    assert health["database"]["vendor"] == "sqlite"
    assert health["broker"]["transport"] == "filesystem"
    assert health["aws_mode"] == "simulator"

    assert _fetch(f"{base}/v1/docs")[0] == 200
    status, body = _fetch(f"{base}/admin/login/")
    assert status == 200 and b"Sesame" in body

    status, body = _fetch(f"{base}/v1/account", token=credentials["token"])
    assert status == 200
    assert json.loads(body)["id"] == credentials["account_id"]

    time.sleep(2)
    assert process.poll() is None, "a child (web, worker or beat) died and `up` stopped"
