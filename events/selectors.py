"""Reads of the events app; every one that serves the API is scoped by account."""

from django.db.models import QuerySet

from accounts.models import Account
from events.models import WebhookDelivery, WebhookEndpoint


def webhook_endpoints(*, account: Account) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(account=account)


def webhook_deliveries(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(endpoint=endpoint, account_id=endpoint.account_id).prefetch_related(
        "attempt_log"
    )
