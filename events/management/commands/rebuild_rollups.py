"""manage.py rebuild_rollups --since T [--until T]: recount the dashboards' rollups from the stored events."""

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from config.management.replay import ProgressBar, moment
from events import services
from events.services.rollups import day_of


class Command(BaseCommand):
    help = (
        "Recompute the hourly and daily rollups the dashboards read, one UTC day at a time from --since's day, "
        "from the stored events (safe while workers run: each day is swapped in one short transaction)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", required=True, type=moment, help="ISO 8601, or 90m / 6h / 7d ago.")
        parser.add_argument("--until", type=moment, help="ISO 8601, or 90m / 6h / 7d ago (default: now).")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (logs, CI).")

    def handle(self, *args: Any, **options: Any) -> None:
        since: datetime = options["since"]
        until: datetime = options["until"] or timezone.now()
        days = (day_of(until) - day_of(since)).days + 1
        bar = ProgressBar(max(days, 0), label="days", enabled=not options["no_progress"] and days > 0)
        # Waiting increments first, so none is left behind for a day this command does not touch.
        services.rollups_compact()
        written = services.rollups_rebuild(since=since, until=until, progress=lambda day: bar.advance())
        bar.finish()
        self.stdout.write(
            f"Rebuilt {days} day(s) from {day_of(since):%Y-%m-%d} to {day_of(until):%Y-%m-%d}: {written} rollup rows."
        )
