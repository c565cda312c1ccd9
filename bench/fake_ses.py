"""A tiny SES endpoint on loopback for benchmarks: answers SendRawEmail and GetSendQuota (the Query API boto3
speaks) after a configurable latency, and records when each message arrived and how many recipients it had.

    python bench/fake_ses.py --port 9325 --latency-ms 20 --max-send-rate 500

GET /stats answers the recorded arrivals as JSON: [[unix_time, recipients, x_sesame_email_id], ...].
"""

import argparse
import base64
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

_EMAIL_ID = re.compile(rb"X-Sesame-Email-Id: ([0-9a-f-]{36})")


class FakeSes(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512

    def __init__(self, address: tuple[str, int], latency: float, max_send_rate: float) -> None:
        super().__init__(address, Handler)
        self.latency = latency
        self.max_send_rate = max_send_rate
        self.lock = threading.Lock()
        self.arrivals: list[tuple[float, int, str]] = []


class Handler(BaseHTTPRequestHandler):
    server: FakeSes
    protocol_version = "HTTP/1.1"
    # Buffer each response into one write: headers and body in separate packets meet delayed ACKs (~40 ms).
    wbufsize = 65536

    def log_message(self, format: str, *args: object) -> None:
        return

    def _reply(self, status: int, body: bytes, content_type: str = "text/xml") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/stats":
            with self.server.lock:
                body = json.dumps(self.server.arrivals).encode()
            self._reply(200, body, "application/json")
        else:
            self._reply(404, b"")

    def do_DELETE(self) -> None:
        with self.server.lock:
            self.server.arrivals.clear()
        self._reply(204, b"")

    def do_POST(self) -> None:
        arrived = time.time()
        length = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(length).decode())
        action = form.get("Action", [""])[0]
        if action == "SendRawEmail":
            recipients = sum(1 for key in form if key.startswith("Destinations.member."))
            raw = base64.b64decode(form.get("RawMessage.Data", [""])[0])
            match = _EMAIL_ID.search(raw)
            with self.server.lock:
                self.server.arrivals.append((arrived, recipients, match.group(1).decode() if match else ""))
            time.sleep(self.server.latency)
            body = (
                "<SendRawEmailResponse><SendRawEmailResult>"
                f"<MessageId>{uuid.uuid4()}-000000</MessageId>"
                "</SendRawEmailResult></SendRawEmailResponse>"
            )
            self._reply(200, body.encode())
        elif action == "GetSendQuota":
            body = (
                "<GetSendQuotaResponse><GetSendQuotaResult>"
                f"<Max24HourSend>10000000</Max24HourSend><MaxSendRate>{self.server.max_send_rate}</MaxSendRate>"
                "<SentLast24Hours>0</SentLast24Hours></GetSendQuotaResult></GetSendQuotaResponse>"
            )
            self._reply(200, body.encode())
        else:
            self._reply(400, f"<Error><Code>InvalidAction</Code><Message>{action}</Message></Error>".encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9325)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--max-send-rate", type=float, default=500.0)
    args = parser.parse_args()
    server = FakeSes(("127.0.0.1", args.port), args.latency_ms / 1000, args.max_send_rate)
    server.serve_forever()


if __name__ == "__main__":
    main()
