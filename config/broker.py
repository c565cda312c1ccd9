"""What /healthz says about the Celery broker, without ever printing its credentials."""

import time
from pathlib import Path
from typing import Any

from django.conf import settings

from config.env import redact_url


def broker_status() -> dict[str, Any]:
    started = time.perf_counter()
    if not settings.REDIS_URL:
        spool = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])  # type: ignore[arg-type]
        ok = spool.is_dir()
        status: dict[str, Any] = {"ok": ok, "transport": "filesystem", "path": str(spool)}
        if not ok:
            status["error"] = "spool directory missing; `python manage.py up` creates it"
        return status
    from accounts.ratelimit import redis_client

    try:
        redis_client(settings.REDIS_URL).ping()
    except Exception as exc:  # connection refused, timeout, auth: all mean "down"
        return {"ok": False, "transport": "redis", "url": redact_url(settings.REDIS_URL), "error": type(exc).__name__}
    return {
        "ok": True,
        "transport": "redis",
        "url": redact_url(settings.REDIS_URL),
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }
