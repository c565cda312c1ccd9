"""manage.py replay_notifications --connection ID --since T [--until T] [--type bounce,...] [--dry-run]"""

from collections.abc import Iterable
from typing import Any

from django.core.management.base import CommandError, CommandParser

from accounts.models import AwsConnection
from config.management.replay import ReplayCommand, moment, object_id
from events import parsing, services
from events.models import SnsNotification


class Command(ReplayCommand):
    help = (
        "Process a connection's stored SNS notifications (SES events) again: timeline rows, suppressions, contact "
        "events, webhooks and rollups they should have produced and did not are added; nothing is doubled."
    )
    noun = "notifications"

    def add_filters(self, parser: CommandParser) -> None:
        parser.add_argument("--connection", required=True, type=object_id, help="The AWS connection's id.")
        parser.add_argument("--since", required=True, type=moment, help="ISO 8601, or 90m / 6h / 7d ago.")
        parser.add_argument("--until", type=moment, help="ISO 8601, or 90m / 6h / 7d ago (default: now).")
        parser.add_argument(
            "--type",
            type=lambda text: [item.strip() for item in text.split(",") if item.strip()],
            help=f"Comma-separated SES event types ({', '.join(parsing.KNOWN_TYPES)}); default all.",
        )

    def select(self, options: dict[str, Any]) -> Iterable[Any]:
        connection = AwsConnection.objects.filter(pk=options["connection"]).first()
        if connection is None:
            raise CommandError(f"No AWS connection with id {options['connection']!r}.")
        unknown = sorted(set(options["type"] or []) - set(parsing.KNOWN_TYPES))
        if unknown:
            raise CommandError(f"Unknown event type(s) {', '.join(unknown)}; use {', '.join(parsing.KNOWN_TYPES)}.")
        notifications = SnsNotification.objects.filter(
            connection=connection, received_at__gte=options["since"]
        ).exclude(kind__in=[SnsNotification.Kind.ALARM, SnsNotification.Kind.SUBSCRIPTION])
        if options["until"]:
            notifications = notifications.filter(received_at__lt=options["until"])
        return notifications.order_by("received_at", "id").values_list("pk", flat=True)

    def handle(self, *args: Any, **options: Any) -> None:
        self.event_types = set(options["type"] or [])
        super().handle(*args, **options)

    def replay_one(self, pk: Any) -> bool:
        return services.notification_replay(notification_id=pk, event_types=self.event_types)
