from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone

from accounts.models import Account
from contacts import services
from contacts.models import Contact, ContactEvent, Segment


def contact_for(account: Account, *, tags: Iterable[str] = (), **fields: Any) -> Contact:
    if "email" not in fields and "mobile" not in fields:
        fields["email"] = f"person{Contact.objects.count() + 1}@example.com"
    return services.contact_create(account=account, fields=fields, tags=tags)  # type: ignore[arg-type]


def event_for(contact: Contact, name: str, *, at: datetime | None = None, **properties: Any) -> ContactEvent:
    return ContactEvent.objects.create(
        account_id=contact.account_id,
        contact=contact,
        name=name,
        properties=properties,
        occurred_at=at or timezone.now(),
    )


def segment_for(account: Account, *, name: str = "VIPs", **filters: Any) -> Segment:
    return services.segment_create(account=account, name=name, filters=filters or {"tags": ["vip"]})
