"""manage.py requeue_emails --status failed [--since T] [--account ID] [--reason TEXT] [--dry-run]"""

from collections.abc import Iterable
from typing import Any

from django.core.management.base import CommandParser

from config.management.replay import ReplayCommand, moment, object_id
from emails import services
from emails.models import Email


class Command(ReplayCommand):
    help = "Put failed emails back in the queue (attempts reset, priority and due time kept)."
    noun = "emails"

    def add_filters(self, parser: CommandParser) -> None:
        parser.add_argument("--status", required=True, choices=[Email.Status.FAILED], help="Which emails: failed.")
        parser.add_argument("--since", type=moment, help="Accepted at or after (ISO 8601, or 90m / 6h / 7d ago).")
        parser.add_argument("--account", type=object_id, help="Only this account's emails (its id).")
        parser.add_argument("--reason", help="Only failures whose reason contains this text (case-insensitive).")

    def select(self, options: dict[str, Any]) -> Iterable[Any]:
        emails = Email.objects.filter(status=options["status"])
        if options["since"]:
            emails = emails.filter(created_at__gte=options["since"])
        if options["account"]:
            emails = emails.filter(account_id=options["account"])
        if options["reason"]:
            emails = emails.filter(failure_reason__icontains=options["reason"])
        return emails.order_by("created_at", "id").values_list("pk", flat=True)

    def replay_one(self, pk: Any) -> bool:
        return services.email_requeue(email_id=pk, by="requeue_emails")
