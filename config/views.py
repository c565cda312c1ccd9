import time
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from config.broker import broker_status


def _database_status() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; the type is reported, not raised
        return {"ok": False, "vendor": connection.vendor, "error": type(exc).__name__}
    return {"ok": True, "vendor": connection.vendor, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: 200 when the database and the broker answer, 503 otherwise."""
    database = _database_status()
    broker = broker_status()
    healthy = database["ok"] and broker["ok"]
    body = {
        "status": "ok" if healthy else "degraded",
        "database": database,
        "broker": broker,
        "aws_mode": settings.SESAME_AWS_MODE,
    }
    return JsonResponse(body, status=200 if healthy else 503)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The landing page at `/`: where the console, the API docs and the health check are."""
    return render(request, "home.html", {"aws_mode": settings.SESAME_AWS_MODE})


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask every site for /favicon.ico; Sesame has none, and says so without an error in the console."""
    return HttpResponse(status=204)
