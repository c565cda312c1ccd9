"""Many outbox rows of one account at once, for every channel: storing a batch (batch APIs, broadcasts) and taking
back the rows of a bulk send that are still waiting (a broadcast paused or cancelled).

Storing is safe to repeat: each row carries a client id unique in its account, so a batch stored twice stores
nothing twice (the database skips a taken id, and says which message holds it). Quota units reserved for the rows
it skipped are given back, the rows stored `suppressed` or `failed` get their timeline line, and the engine is told
which connections have new work, all in the caller's transaction.
"""

import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from django.db import transaction
from django.db.models import CharField, F, Model, Value
from django.db.models.functions import Cast, Concat

from billing.quota import usage_release
from config.delivery.channels import Channel
from config.delivery.outbox import OutboxStatus
from config.delivery.rows import outbox_store_new
from config.delivery.services import delivery_announce

# Appended to a withdrawn row's client id, so the same item can be stored again later (a broadcast resumed).
WITHDRAWN_MARK = "~withdrawn~"


def withdrawn_client_id(client_id_field: str) -> Concat:
    """The UPDATE value that frees a withdrawn row's client id: the id, the mark and the row's own id."""
    return Concat(F(client_id_field), Value(WITHDRAWN_MARK), Cast(F("id"), CharField()))


def outbox_store_batch(
    rows: Sequence[Any],
    *,
    channel: Channel,
    account_id: Any,
    client_id_field: str,
    timeline: Callable[[Sequence[Any]], Iterable[Model]],
    reserved: Collection[uuid.UUID] = (),
) -> tuple[list[Any], dict[Any, Any]]:
    """Store these new rows of one account (queued, or already `suppressed` / `failed` by policy): returns the rows
    inserted and, for each client id some other message already held, that message's id. `timeline` gives the
    accept-time events of the rows inserted (one model); `reserved` are the ids holding a quota unit (email's:
    SMS and push reserve none, they are counted once sent)."""
    if not rows:
        return [], {}
    with transaction.atomic():
        kept, holders = outbox_store_new(rows, account_id=account_id, client_id_field=client_id_field)
        kept_ids = {row.pk for row in kept}
        unused = [pk for pk in reserved if pk not in kept_ids]
        if unused:
            usage_release(channel=channel.name, message_ids=unused)
        events = list(timeline(kept))
        if events:
            type(events[0])._default_manager.bulk_create(events)
        delivery_announce(
            channel=channel.name,
            connection_ids={row.connection_id for row in kept if row.status == OutboxStatus.QUEUED},
        )
    return kept, holders


def outbox_withdraw(*, channel: Channel, ids: Sequence[Any], client_id_field: str, reason: str) -> set[uuid.UUID]:
    """Cancel those of these rows that are still waiting (never handed to a sender), in the caller's transaction;
    returns their ids. Their client id gets a suffix, so the same item can be stored again later, and their quota
    units go back. A row a sender claimed meanwhile is `sending` and stays: the lock below waits for the claim, and
    then the row no longer matches. So a withdrawn message was never sent and never will be."""
    if not ids:
        return set()
    with transaction.atomic():
        found = list(
            channel.rows.select_for_update()
            .filter(pk__in=list(ids), status__in=OutboxStatus.WAITING)
            .only("pk", "account_id", "connection_id")
        )
        channel.rows.filter(pk__in=[row.pk for row in found]).update(
            status=OutboxStatus.CANCELLED,
            **{client_id_field: withdrawn_client_id(client_id_field)},
        )
        channel.record(found, "cancelled", reason)
        channel.release_quota(found)
    return {row.pk for row in found}
