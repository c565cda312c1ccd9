"""moto's server as a real process on loopback, for tests whose boto3 calls must cross a real HTTP connection (the
delivery engine's lean SendEmail path, workers in other processes). boto3 reaches it through
SESAME_AWS_ENDPOINT_URL."""

import socket
import subprocess
import sys
from typing import Any

import boto3
import pytest

from tests.waiting import wait_for

# moto's server, with its list of service modules read once (it lists and stats its package's folders twice per
# request under one lock: moto/moto_server/werkzeug_app.py) and no line logged per request: the two held the whole
# test to about 190 sends a second.
_MOTO_SERVER = """
import logging, sys
from moto import backends, server
logging.getLogger("werkzeug").setLevel(logging.WARNING)
modules = tuple(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: modules
server.main(sys.argv[1:])
"""


@pytest.fixture
def moto_ses(tmp_path: Any) -> Any:
    """A moto server process; yields its endpoint URL, with example.com verified in its SES."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "moto.log").open("ab")
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", _MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    endpoint = f"http://127.0.0.1:{port}"
    ses = boto3.client(
        "ses",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )

    def up() -> bool:
        try:
            ses.verify_domain_identity(Domain="example.com")
            return True
        except Exception:
            return False

    assert wait_for(up, timeout=20), "moto server did not start"
    yield endpoint, ses
    server.terminate()
    server.wait(timeout=10)
