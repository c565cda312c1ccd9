"""Broadcast fixtures shared by the broadcast tests."""

import uuid
from typing import Any

from django.utils import timezone

from accounts.models import Account, AwsConnection
from contacts.models import Contact
from emails.templating import Template, template_create
from events.broadcasts import services
from events.broadcasts.models import Broadcast, BroadcastRecipient
from events.broadcasts.services import broadcast_create
from push.models import PushApp, PushDevice, token_hash

NEWSLETTER_HTML = (
    "<p>Hi {{ first_name | default: 'there' }}, here is our news.</p>"
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
)


def newsletter_template(account: Account, **content: Any) -> Template:
    content.setdefault("subject", "News for {{ first_name | default: 'you' }}")
    content.setdefault("html", NEWSLETTER_HTML)
    return template_create(account=account, channel="email", name=content.pop("name", "newsletter"), content=content)


SALE_SMS = "Hi {{ first_name | default: 'there' }}, {{ discount }} off this weekend."


def sms_template(account: Account, *, name: str = "sale", body: str = SALE_SMS) -> Template:
    return template_create(account=account, channel="sms", name=name, content={"body": body})


def push_template(account: Account, **content: Any) -> Template:
    content.setdefault("title", "Hi {{ first_name | default: 'there' }}")
    content.setdefault("body", "The {{ season }} collection is here.")
    content.setdefault("data", {"screen": "{{ season }}"})
    return template_create(account=account, channel="push", name="season", content=content)


def broadcast_for(account: Account, **data: Any) -> Broadcast:
    data.setdefault("name", "November news")
    if "template" not in data:
        data["template"] = str(newsletter_template(account).pk)
    if data.get("channel", "email") == "email":
        data.setdefault("from_address", "Acme <news@example.com>")
    data.setdefault("filters", {})
    return broadcast_create(account=account, data=data)


def contacts_bulk(account: Account, count: int, *, prefix: str = "person", **fields: Any) -> list[Contact]:
    """Many contacts in one insert (no tags), for audiences of thousands."""
    return Contact.objects.bulk_create(
        Contact(account=account, email=f"{prefix}{i}@example.net", full_name=f"Person {i}", **fields)
        for i in range(count)
    )


def push_app_for(account: Account, connection: AwsConnection, *, name: str = "Acme Android") -> PushApp:
    return PushApp.objects.create(
        account=account,
        connection=connection,
        name=name,
        platform=PushApp.Platform.GCM,
        platform_application_arn=f"arn:aws:sns:us-east-1:123456789012:app/GCM/{name.replace(' ', '-')}",
        credential_kind=PushApp.Credential.ADOPTED,
    )


def device_for(contact: Contact, app: PushApp, *, enabled: bool = True) -> PushDevice:
    token = uuid.uuid4().hex
    return PushDevice.objects.create(
        account_id=contact.account_id,
        app=app,
        contact=contact,
        token_hash=token_hash(token),
        token_prefix=token[:8],
        endpoint_arn=f"{app.platform_application_arn.replace(':app/', ':endpoint/')}/{token}",
        enabled=enabled,
        registered_at=timezone.now(),
    )


def run(broadcast: Broadcast) -> None:
    """Start it and feed it until the outbox window is full or the audience is done."""
    services.broadcast_start(broadcast_id=broadcast.pk, now=timezone.now())
    while services.broadcast_feed_step(broadcast_id=broadcast.pk, now=timezone.now()):
        pass


def ledger(broadcast: Broadcast, by: str = "contact__email") -> dict[Any, str]:
    """The broadcast's ledger as {contact field: status, or status:reason}."""
    rows = BroadcastRecipient.objects.filter(broadcast=broadcast).values_list(by, "status", "reason")
    return {key: f"{status}:{reason}" if reason else status for key, status, reason in rows}
