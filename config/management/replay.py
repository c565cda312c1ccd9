"""What every replay command shares: `--dry-run`, a progress bar with rate and ETA, and one transaction per item.

A replay takes a snapshot of the ids its filters match, then replays them one at a time through the same service
the admin action calls. Each service changes only what is still undone (a failed email, a missing timeline row, a
delivery that gave up), so a second run changes nothing, and workers running meanwhile are never raced: each item
is one short transaction. A dry run does the same work and rolls each item back, so its report is exact.
"""

import argparse
import re
import sys
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from config.api.datetimes import InvalidDateTime, parse_iso_datetime

_RELATIVE = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def moment(text: str) -> datetime:
    """A command-line time: ISO 8601 (UTC when no offset is given) or a span back from now (`90m`, `6h`, `7d`)."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        return timezone.now() - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        parsed = parse_iso_datetime(text.strip())
    except InvalidDateTime as exc:
        raise CommandError(f"{text!r} is not a time: give ISO 8601 (2026-11-22T10:00:00Z) or 90m, 6h, 7d.") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def object_id(text: str) -> uuid.UUID:
    """An argparse type for ids of connections, accounts, endpoints: a malformed one is a usage error."""
    try:
        return uuid.UUID(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an id (a UUID such as 0bcb2124-...).") from exc


class ProgressBar:
    """`[#####.....]  45%  4,500/10,000  1,203/s  ETA 0:00:04` on one line, redrawn at most ten times a second."""

    def __init__(self, total: int, *, label: str, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total, self.label, self.done = total, label, 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.started = self._drawn = time.monotonic()

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and (now - self._drawn >= 0.1 or self.done >= self.total):
            self._drawn = now
            self.stream.write("\r" + self.line(now))
            self.stream.flush()

    def line(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-6)
        share = self.done / self.total if self.total else 1.0
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate else 0.0
        filled = int(share * 30)
        return (
            f"{self.label} [{'#' * filled}{'.' * (30 - filled)}] {share:4.0%}  {self.done:,}/{self.total:,}  "
            f"{rate:,.0f}/s  ETA {timedelta(seconds=round(left))}"
        )

    def finish(self) -> None:
        if self.enabled and self.total:
            self.stream.write("\n")


class _DryRun(Exception):
    """Raised to roll back one item's work in a dry run."""


class ReplayCommand(BaseCommand):
    """Subclasses say what they replay (`noun`), which ids (`select`) and how (`replay_one`)."""

    noun = "items"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Report what would change, and change nothing.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (logs, CI).")
        self.add_filters(parser)

    def add_filters(self, parser: CommandParser) -> None:
        raise NotImplementedError

    def select(self, options: dict[str, Any]) -> Iterable[Any]:
        """The ids to replay, oldest first."""
        raise NotImplementedError

    def replay_one(self, pk: Any) -> bool:
        """Replay one item through its service; True when something changed (or would, in a dry run)."""
        raise NotImplementedError

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = options["dry_run"]
        ids = list(self.select(options))
        bar = ProgressBar(
            len(ids), label="dry run" if dry_run else "replaying", enabled=not options["no_progress"] and bool(ids)
        )
        changed = 0
        for pk in ids:
            changed += self._replay(pk, dry_run=dry_run)
            bar.advance()
        bar.finish()
        verb = "would change" if dry_run else "changed"
        self.stdout.write(
            f"{len(ids)} {self.noun} matched; {verb} {changed}, {len(ids) - changed} already done or skipped."
            + (" Dry run: nothing was changed." if dry_run else "")
        )

    def _replay(self, pk: Any, *, dry_run: bool) -> bool:
        if not dry_run:
            return self.replay_one(pk)
        result = False
        try:
            with transaction.atomic():
                result = self.replay_one(pk)
                raise _DryRun
        except _DryRun:
            pass
        return result
