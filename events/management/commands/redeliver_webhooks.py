"""manage.py redeliver_webhooks --endpoint ID --since T [--dry-run]"""

from collections.abc import Iterable
from typing import Any

from django.core.management.base import CommandError, CommandParser

from config.management.replay import ReplayCommand, moment, object_id
from events import services
from events.models import WebhookDelivery, WebhookEndpoint


class Command(ReplayCommand):
    help = (
        "Send an endpoint's deliveries that failed (gave up) or were dropped since a time once more; they go out as "
        "soon as the endpoint is active (a paused or disabled endpoint keeps them until it is enabled)."
    )
    noun = "deliveries"

    def add_filters(self, parser: CommandParser) -> None:
        parser.add_argument("--endpoint", required=True, type=object_id, help="The webhook endpoint's id.")
        parser.add_argument("--since", required=True, type=moment, help="ISO 8601, or 90m / 6h / 7d ago.")

    def select(self, options: dict[str, Any]) -> Iterable[Any]:
        endpoint = WebhookEndpoint.objects.filter(pk=options["endpoint"]).first()
        if endpoint is None:
            raise CommandError(f"No webhook endpoint with id {options['endpoint']!r}.")
        if not endpoint.is_active:
            self.stderr.write(f"Endpoint {endpoint.url} is {endpoint.status}: deliveries wait until it is enabled.")
        return (
            WebhookDelivery.objects.filter(
                endpoint=endpoint,
                created_at__gte=options["since"],
                status__in=[WebhookDelivery.Status.FAILED, WebhookDelivery.Status.DROPPED],
            )
            .order_by("created_at", "id")
            .values_list("pk", flat=True)
        )

    def replay_one(self, pk: Any) -> bool:
        return services.webhook_delivery_redeliver(delivery_id=pk)
