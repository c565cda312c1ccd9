"""Start-up checks for the events settings: a misconfiguration fails loudly and names the variable."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.compatibility)
def check_events_settings(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[Error | Warning]:
    problems: list[Error | Warning] = []
    for low, high, name in (
        ("SESAME_REPUTATION_BOUNCE_WARNING", "SESAME_REPUTATION_BOUNCE_REVIEW", "bounce"),
        ("SESAME_REPUTATION_COMPLAINT_WARNING", "SESAME_REPUTATION_COMPLAINT_REVIEW", "complaint"),
    ):
        if not 0 < getattr(settings, low) <= getattr(settings, high) <= 1:
            problems.append(
                Error(f"{low} must be above 0 and at most {high} (a {name} rate between 0 and 1).", id="sesame.E020")
            )
    if not 0 < settings.SESAME_REPUTATION_THROTTLE_FACTOR < 1:
        problems.append(Error("SESAME_REPUTATION_THROTTLE_FACTOR must be between 0 and 1.", id="sesame.E021"))
    if not 0 < settings.SESAME_REPUTATION_RESUME_STEP <= 1:
        problems.append(Error("SESAME_REPUTATION_RESUME_STEP must be above 0 and at most 1.", id="sesame.E022"))
    for name in (
        "SESAME_WEBHOOK_MAX_ENDPOINTS",
        "SESAME_WEBHOOK_MAX_PENDING",
        "SESAME_WEBHOOK_CONCURRENCY",
        "SESAME_WEBHOOK_ACCOUNT_CONCURRENCY",
        "SESAME_WEBHOOK_BACKOFF_BASE_SECONDS",
        "SESAME_WEBHOOK_DISABLE_AFTER_HOURS",
        "SESAME_WEBHOOK_RETRY_HOURS",
    ):
        if getattr(settings, name) < 1:
            problems.append(Error(f"{name} must be at least 1.", id="sesame.E024"))
    if settings.SESAME_WEBHOOK_BACKOFF_MAX_SECONDS < settings.SESAME_WEBHOOK_BACKOFF_BASE_SECONDS:
        problems.append(
            Error(
                "SESAME_WEBHOOK_BACKOFF_MAX_SECONDS must be at least SESAME_WEBHOOK_BACKOFF_BASE_SECONDS.",
                id="sesame.E025",
            )
        )
    if not 0 < settings.SESAME_WEBHOOK_TIMEOUT_SECONDS <= 60:
        # An attempt holds its delivery for a two-minute lease; a longer timeout could see it taken twice.
        problems.append(Error("SESAME_WEBHOOK_TIMEOUT_SECONDS must be above 0 and at most 60.", id="sesame.E026"))
    if settings.SESAME_NOTIFY_ACCOUNT_ID and not settings.SESAME_NOTIFY_FROM:
        problems.append(Error("SESAME_NOTIFY_ACCOUNT_ID is set but SESAME_NOTIFY_FROM is not.", id="sesame.E023"))
    if settings.SESAME_ENV == "production" and not (settings.SESAME_NOTIFY_ACCOUNT_ID and settings.SESAME_NOTIFY_FROM):
        problems.append(
            Warning(
                "Account owners are not emailed about reputation spikes and recoveries.",
                hint="Set SESAME_NOTIFY_ACCOUNT_ID (an operator account) and SESAME_NOTIFY_FROM (its verified sender).",
                id="sesame.W020",
            )
        )
    return problems
