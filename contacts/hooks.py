"""Writes of contacts that the floors above (automations) react to, inside the writing transaction.

contacts sits below events, so it never imports them: an upper app registers a listener here (in its
AppConfig.ready) and contacts calls every listener from the services that write tags, events and new contacts,
before their transaction commits. A listener's own writes (enrolment rows, say) then commit or roll back with the
change that caused them. Listeners must be cheap when they have nothing to do: they run on every write.

CSV imports do not call listeners: a million-row import is not a million triggers.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class WrittenEvent:
    contact_id: int
    name: str
    properties: Mapping[str, Any]
    occurred_at: datetime


class ContactListener(Protocol):
    def contacts_created(self, *, account_id: Any, contact_ids: Sequence[int]) -> None: ...

    def tags_changed(
        self, *, account_id: Any, added: Mapping[int, set[int]], removed: Mapping[int, set[int]]
    ) -> None: ...

    def events_recorded(self, *, account_id: Any, events: Sequence[WrittenEvent]) -> None: ...


_listeners: list[ContactListener] = []


def contact_listener_register(listener: ContactListener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def notify_contacts_created(*, account_id: Any, contact_ids: Sequence[int]) -> None:
    if contact_ids:
        for listener in _listeners:
            listener.contacts_created(account_id=account_id, contact_ids=contact_ids)


def notify_tags_changed(*, account_id: Any, added: Mapping[int, set[int]], removed: Mapping[int, set[int]]) -> None:
    """`added` and `removed` map contact ids to the tag ids that really changed (not those already so)."""
    if added or removed:
        for listener in _listeners:
            listener.tags_changed(account_id=account_id, added=added, removed=removed)


def notify_events_recorded(*, account_id: Any, events: Sequence[WrittenEvent]) -> None:
    if events:
        for listener in _listeners:
            listener.events_recorded(account_id=account_id, events=events)
