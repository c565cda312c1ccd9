"""Broadcast fixtures shared by the broadcast tests."""

from typing import Any

from accounts.models import Account
from contacts.models import Contact
from emails.templating import Template, template_create
from events.broadcasts.models import Broadcast
from events.broadcasts.services import broadcast_create

NEWSLETTER_HTML = (
    "<p>Hi {{ first_name | default: 'there' }}, here is our news.</p>"
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
)


def newsletter_template(account: Account, **content: Any) -> Template:
    content.setdefault("subject", "News for {{ first_name | default: 'you' }}")
    content.setdefault("html", NEWSLETTER_HTML)
    return template_create(account=account, channel="email", name=content.pop("name", "newsletter"), content=content)


def broadcast_for(account: Account, **data: Any) -> Broadcast:
    data.setdefault("name", "November news")
    if "template" not in data:
        data["template"] = str(newsletter_template(account).pk)
    data.setdefault("from_address", "Acme <news@example.com>")
    data.setdefault("filters", {})
    return broadcast_create(account=account, data=data)


def contacts_bulk(account: Account, count: int, *, prefix: str = "person", **fields: Any) -> list[Contact]:
    """Many contacts in one insert (no tags), for audiences of thousands."""
    return Contact.objects.bulk_create(
        Contact(account=account, email=f"{prefix}{i}@example.net", full_name=f"Person {i}", **fields)
        for i in range(count)
    )
