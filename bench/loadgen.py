"""A closed-loop HTTP/1.1 load generator on asyncio (keep-alive connections, one request in flight each).

It runs in its own process so its CPU is visible: on a 2-core machine the generator competes with the server,
which the figures include rather than hide.
"""

import asyncio
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000 if ordered else 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


async def _worker(url: str, headers: dict[str, str], bodies, deadline: float, result: Result) -> None:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    try:
        while time.monotonic() < deadline:
            body = next(bodies)
            request = (
                f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{head}"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            started = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            result.latencies.append(time.perf_counter() - started)
            status = int(status_line.split()[1])
            result.statuses[status] = result.statuses.get(status, 0) + 1
    finally:
        writer.close()


def run(url: str, *, token: str, make_body, concurrency: int, seconds: float) -> Result:
    """POST bodies from make_body() to url from `concurrency` connections for `seconds`."""

    def bodies():
        while True:
            yield json.dumps(make_body()).encode()

    async def main() -> Result:
        result = Result()
        deadline = time.monotonic() + seconds
        started = time.monotonic()
        generator = bodies()
        headers = {"Authorization": f"Bearer {token}"}
        await asyncio.gather(*(_worker(url, headers, generator, deadline, result) for _ in range(concurrency)))
        result.elapsed = time.monotonic() - started
        return result

    return asyncio.run(main())
