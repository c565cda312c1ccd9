"""A tiny SES endpoint on loopback for benchmarks: answers SES v2's SendEmail with raw content (JSON, what Sesame
sends with) and the Query API's GetSendQuota after a configurable latency, and records when each message arrived
and how many recipients it had. Like SES, it refuses a message with `TooManyRequestsException: Maximum sending rate
exceeded.` when accepting it would put more than the max send rate's recipients into the last second; refusals
are recorded with recipients 0 and counted apart.

    python bench/fake_ses.py --port 9325 --latency-ms 20 --max-send-rate 500 [--key-rate AKSMALL=1 ...]

GET /stats answers the recorded arrivals as JSON: [[unix_time, recipients, x_sesame_email_id], ...].
"""

import argparse
import base64
import collections
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

_EMAIL_ID = re.compile(rb"X-Sesame-Email-Id: ([0-9a-f-]{36})")
_CREDENTIAL = re.compile(r"Credential=([^/]+)/")


class FakeSes(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512

    def __init__(
        self, address: tuple[str, int], latency: float, max_send_rate: float, key_rates: dict[str, float]
    ) -> None:
        super().__init__(address, Handler)
        self.latency = latency
        self.max_send_rate = max_send_rate
        self.key_rates = key_rates  # access key id prefix -> its own max send rate (one SES account each)
        self.lock = threading.Lock()
        self.arrivals: list[tuple[float, int, str]] = []
        self.windows: dict[str, collections.deque[tuple[float, int]]] = {}
        self.throttled = 0

    def rate_for(self, key: str) -> float:
        return next((rate for prefix, rate in self.key_rates.items() if key.startswith(prefix)), self.max_send_rate)

    def admit(self, key: str, arrived: float, recipients: int) -> bool:
        """SES's max send rate, per account (access key): at most that many recipients in any one second."""
        with self.lock:
            window = self.windows.setdefault(key, collections.deque())
            while window and window[0][0] <= arrived - 1.0:
                window.popleft()
            if sum(n for _, n in window) + recipients > self.rate_for(key):
                self.throttled += 1
                return False
            window.append((arrived, recipients))
            return True


class Handler(BaseHTTPRequestHandler):
    server: FakeSes
    protocol_version = "HTTP/1.1"
    # Buffer each response into one write: headers and body in separate packets meet delayed ACKs (~40 ms).
    wbufsize = 65536

    def log_message(self, format: str, *args: object) -> None:
        return

    def _reply(
        self, status: int, body: bytes, content_type: str = "text/xml", headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/stats":
            with self.server.lock:
                body = json.dumps(self.server.arrivals).encode()
            self._reply(200, body, "application/json")
        elif self.path == "/throttled":
            with self.server.lock:
                body = json.dumps({"throttled": self.server.throttled}).encode()
            self._reply(200, body, "application/json")
        else:
            self._reply(404, b"")

    def do_DELETE(self) -> None:
        with self.server.lock:
            self.server.arrivals.clear()
            self.server.throttled = 0
        self._reply(204, b"")

    def do_POST(self) -> None:
        arrived = time.time()
        length = int(self.headers.get("Content-Length", "0"))
        payload = self.rfile.read(length)
        if self.path == "/v2/email/outbound-emails":
            self._send_email(arrived, json.loads(payload))
            return
        form = parse_qs(payload.decode())
        action = form.get("Action", [""])[0]
        if action == "GetSendQuota":
            body = (
                "<GetSendQuotaResponse><GetSendQuotaResult>"
                f"<Max24HourSend>10000000</Max24HourSend><MaxSendRate>{self.server.max_send_rate}</MaxSendRate>"
                "<SentLast24Hours>0</SentLast24Hours></GetSendQuotaResult></GetSendQuotaResponse>"
            )
            self._reply(200, body.encode())
        else:
            self._reply(400, f"<Error><Code>InvalidAction</Code><Message>{action}</Message></Error>".encode())

    def _send_email(self, arrived: float, request: dict[str, Any]) -> None:
        recipients = len(request.get("Destination", {}).get("ToAddresses", []))
        raw = base64.b64decode(request["Content"]["Raw"]["Data"])
        match = _EMAIL_ID.search(raw)
        key = _CREDENTIAL.search(self.headers.get("Authorization", ""))
        admitted = self.server.admit(key.group(1) if key else "", arrived, recipients)
        with self.server.lock:
            self.server.arrivals.append(
                (arrived, recipients if admitted else 0, match.group(1).decode() if match else "")
            )
        time.sleep(self.server.latency)
        if not admitted:
            error = b'{"message": "Maximum sending rate exceeded."}'
            self._reply(429, error, "application/json", {"x-amzn-ErrorType": "TooManyRequestsException"})
            return
        self._reply(200, json.dumps({"MessageId": f"{uuid.uuid4()}-000000"}).encode(), "application/json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9325)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--max-send-rate", type=float, default=500.0)
    parser.add_argument(
        "--key-rate", action="append", default=[], help="PREFIX=RATE: accounts whose access key starts so"
    )
    args = parser.parse_args()
    key_rates = {prefix: float(rate) for prefix, _, rate in (item.partition("=") for item in args.key_rate)}
    server = FakeSes(("127.0.0.1", args.port), args.latency_ms / 1000, args.max_send_rate, key_rates)
    server.serve_forever()


if __name__ == "__main__":
    main()
