"""Services for topics, topic opt-outs and unsubscribes. Stable interface for the other apps:

- `contact_unsubscribe(*, contact, topic, source) -> bool`: `topic=None` unsubscribes from all bulk mail (the
  contact's status becomes `unsubscribed`); a Topic opts the contact out of that topic only. Idempotent: returns
  whether anything changed. Each change is one `unsubscribed` event on the contact's timeline.
- `contact_topics_set(*, contact, subscribed_topic_ids, source)`: the preference centre's save (opt back in too).
- `contact_topic_subscribe(*, contact, topic, source) -> bool`: back into one topic (a confirmed sign-up form).
- `contact_resubscribe(*, contact, source)`: back to `subscribed` (a preference-centre choice or a confirmed sign-up,
  never automatic).
- `topic_create / topic_update / topic_delete`, `preference_settings_for(account_id=)`.
- `contacts.selectors.contacts_reachable(contacts=, topic_id=)`: what every bulk send keeps of an audience.

`source` is one of `Source` below; it is kept on the opt-out and the timeline event.
"""

from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import TextChoices
from django.utils import timezone

from accounts.models import Account
from contacts.models import Contact, PreferenceSettings, Topic, TopicOptOut
from contacts.services import ContactError, subscription_record


class Source(TextChoices):
    ONE_CLICK = "one_click", "One-click (RFC 8058)"
    CONFIRMATION = "confirmation", "Unsubscribe page"
    PREFERENCES = "preferences", "Preference centre"
    MAILTO = "mailto", "Email to the unsubscribe address"
    API = "api", "API"
    ADMIN = "admin", "Operator console"
    SIGNUP_FORM = "signup_form", "Sign-up form (confirmed)"


def _record(contact: Contact, name: str, source: str, topic: Topic | None) -> None:
    subscription_record(contact=contact, name=name, method=source, topic_key=topic.key if topic else None)


@transaction.atomic
def contact_unsubscribe(*, contact: Contact, topic: Topic | None, source: str) -> bool:
    if topic is not None and topic.account_id != contact.account_id:
        raise ContactError("That topic belongs to another account.", field="topic")
    if topic is None:
        changed = bool(
            Contact.objects.filter(pk=contact.pk)
            .exclude(status=Contact.Status.UNSUBSCRIBED)
            .update(status=Contact.Status.UNSUBSCRIBED, updated_at=timezone.now())
        )
        if changed:
            contact.status = Contact.Status.UNSUBSCRIBED
    else:
        try:
            with transaction.atomic():
                _, changed = TopicOptOut.objects.get_or_create(
                    topic=topic, contact=contact, defaults={"account_id": contact.account_id, "source": source}
                )
        except IntegrityError:  # a concurrent click of the same link got there first
            changed = False
    if changed:
        _record(contact, "unsubscribed", source, topic)
    return changed


@transaction.atomic
def contact_resubscribe(*, contact: Contact, source: str) -> bool:
    changed = bool(
        Contact.objects.filter(pk=contact.pk, status=Contact.Status.UNSUBSCRIBED).update(
            status=Contact.Status.SUBSCRIBED, updated_at=timezone.now()
        )
    )
    if changed:
        contact.status = Contact.Status.SUBSCRIBED
        _record(contact, "resubscribed", source, None)
    return changed


@transaction.atomic
def contact_topic_subscribe(*, contact: Contact, topic: Topic, source: str) -> bool:
    """Take back the contact's opt-out of `topic`, if it has one; returns whether it had."""
    if topic.account_id != contact.account_id:
        raise ContactError("That topic belongs to another account.", field="topic")
    changed = bool(TopicOptOut.objects.filter(contact=contact, topic=topic).delete()[0])
    if changed:
        _record(contact, "topic_subscribed", source, topic)
    return changed


@transaction.atomic
def contact_topics_set(*, contact: Contact, subscribed_topic_ids: Iterable[int], source: str) -> None:
    """Opt the contact out of every topic of its account not in `subscribed_topic_ids`, and back into those in it."""
    wanted = set(subscribed_topic_ids)
    topics = list(Topic.objects.filter(account_id=contact.account_id))
    opted_out = set(TopicOptOut.objects.filter(contact=contact).values_list("topic_id", flat=True))
    for topic in topics:
        if topic.pk in wanted and topic.pk in opted_out:
            contact_topic_subscribe(contact=contact, topic=topic, source=source)
        elif topic.pk not in wanted and topic.pk not in opted_out:
            contact_unsubscribe(contact=contact, topic=topic, source=source)


@transaction.atomic
def topic_create(*, account: Account, key: str, name: str, description: str = "") -> Topic:
    if Topic.objects.filter(account=account, key=key).exists():
        raise ContactError(f"A topic with key {key!r} already exists.", field="key", code="unique")
    return Topic.objects.create(account=account, key=key, name=name, description=description)


@transaction.atomic
def topic_update(*, topic: Topic, **changes: Any) -> Topic:
    key = changes.get("key")
    if key and Topic.objects.filter(account_id=topic.account_id, key=key).exclude(pk=topic.pk).exists():
        raise ContactError(f"A topic with key {key!r} already exists.", field="key", code="unique")
    for field, value in changes.items():
        setattr(topic, field, value)
    topic.save()
    return topic


def topic_delete(*, topic: Topic) -> None:
    """Deletes the topic and its opt-outs (the opt-outs mean nothing without it)."""
    topic.delete()


def preference_settings_for(*, account_id: Any) -> PreferenceSettings:
    """The account's settings row, created with the defaults on first use."""
    found, _ = PreferenceSettings.objects.get_or_create(account_id=account_id)
    return found


@transaction.atomic
def preference_settings_update(*, account_id: Any, **changes: Any) -> PreferenceSettings:
    found = preference_settings_for(account_id=account_id)
    for field, value in changes.items():
        setattr(found, field, value)
    found.full_clean()
    found.save()
    return found
