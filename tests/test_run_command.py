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


def _fetch(url: str, token: str | None = None, body: dict | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    try:
        request = urllib.request.Request(url, headers=headers, data=data)
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def running_sesame(tmp_path_factory: pytest.TempPathFactory):
    tmp_path = tmp_path_factory.mktemp("up")
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

    assert process.poll() is None, "a child (web, worker or beat) died and `up` stopped"


def test_up_sends_through_the_simulator_and_a_bounce_suppresses(running_sesame):
    base, var_dir, _ = running_sesame
    token = json.loads((var_dir / "demo-credentials.json").read_text())["token"]
    message = {"from": "Acme <hello@example.com>", "to": "bounce@simulator.amazonses.com", "subject": "Hi",
               "html_body": "<p>Hello</p>"}
    status, body = _fetch(f"{base}/v1/emails", token, message)
    assert status == 200, body
    email_id = json.loads(body)["id"]

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        detail = json.loads(_fetch(f"{base}/v1/emails/{email_id}", token)[1])
        if detail["status"] == "bounced":
            break
        time.sleep(0.5)
    assert detail["status"] == "bounced", detail
    kinds = [entry["type"] for entry in detail["timeline"]]
    assert kinds[0] == "accepted" and {"sent", "send", "bounce"} <= set(kinds)

    status, body = _fetch(f"{base}/v1/emails", token, message)
    assert json.loads(body)["status"] == "suppressed"


def test_the_readmes_first_sms_is_delivered_by_the_simulator(running_sesame):
    base, var_dir, _ = running_sesame
    token = json.loads((var_dir / "demo-credentials.json").read_text())["token"]
    status, body = _fetch(f"{base}/v1/sms", token, {"to": "+14254147755", "body": "Hello from Sesame"})
    assert status == 200, body
    accepted = json.loads(body)
    assert (accepted["status"], accepted["encoding"], accepted["segments"]) == ("queued", "GSM-7", 1)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        detail = json.loads(_fetch(f"{base}/v1/sms/{accepted['id']}", token)[1])
        if detail["status"] == "delivered":
            break
        time.sleep(0.5)
    assert detail["status"] == "delivered", detail
    assert detail["price_usd"] == "0.00645"
    assert [entry["type"] for entry in detail["timeline"]] == ["accepted", "sent", "delivered"]


def test_links_sesame_writes_point_where_up_serves(running_sesame):
    """A sign-up form's script (like unsubscribe and confirmation links) is addressed at the port `up` was given."""
    base, var_dir, _ = running_sesame
    token = json.loads((var_dir / "demo-credentials.json").read_text())["token"]
    status, body = _fetch(
        f"{base}/v1/forms",
        token=token,
        body={"name": "Popup", "sender": "Acme <news@example.com>", "allowed_origins": ["https://www.acme.test"]},
    )
    assert status == 201, body
    form = json.loads(body)
    assert f'src="{base}/f/{form["key"]}.js"' in form["embed_snippet"]
    assert _fetch(f"{base}/f/{form['key']}.js")[0] == 200
