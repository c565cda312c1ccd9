"""Reads of contacts, timelines, tags and segments, always within one account."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, QuerySet

from accounts.models import Account
from contacts.filters import ContactFilter, segment_query, unknown_params
from contacts.models import Contact, ContactEvent, PreferenceSettings, Segment, Tag, Topic, TopicOptOut


def contact_list(*, account: Account) -> QuerySet[Contact]:
    return Contact.objects.filter(account=account)


def contact_by_ref(*, account: Account, ref: int | str) -> Contact | None:
    """A contact named by id, email or E.164 mobile."""
    contacts = contact_list(account=account)
    if isinstance(ref, int):
        return contacts.filter(pk=ref).first()
    if "@" in ref:
        return contacts.filter(email=ref.lower()).first()
    return contacts.filter(mobile=ref).first()


def contacts_matching(*, account: Account, filters: Mapping[str, Any]) -> QuerySet[Contact]:
    """Contacts a segment's filters select; raises ValidationError naming each bad parameter."""
    unknown = unknown_params(filters, allowed=frozenset())
    if "segment" in filters:
        unknown.append("segment")
    if unknown:
        raise ValidationError(
            {key: f"Unknown filter {key!r}; see GET /v1/contacts for the filters." for key in unknown}
        )
    filterset = ContactFilter(segment_query(filters), contact_list(account=account), account=account)
    if not filterset.is_valid():
        raise ValidationError({key: [str(m) for m in messages] for key, messages in filterset.form.errors.items()})
    return filterset.qs


def segment_contacts(*, segment: Segment) -> QuerySet[Contact]:
    return contacts_matching(account=segment.account, filters=segment.filters)


def segment_count(*, segment: Segment) -> int | None:
    """The live count, or None when the stored filters no longer validate (a tag was renamed, say)."""
    try:
        return segment_contacts(segment=segment).count()
    except ValidationError:
        return None


def contact_timeline(*, contact: Contact) -> QuerySet[ContactEvent]:
    return ContactEvent.objects.filter(contact_id=contact.pk, account_id=contact.account_id)


def tag_list(*, account: Account) -> QuerySet[Tag]:
    return Tag.objects.filter(account=account)


def contacts_reachable(*, contacts: QuerySet[Contact], topic_id: int | None) -> QuerySet[Contact]:
    """What every bulk send keeps of `contacts`: subscribed ones (not unsubscribed, bounced or complained) that
    have not opted out of the topic. An anti-join, so it stays one set-based statement."""
    reachable = contacts.filter(status=Contact.Status.SUBSCRIBED)
    if topic_id is not None:
        opted_out = TopicOptOut.objects.filter(topic_id=topic_id, contact_id=OuterRef("pk"))
        reachable = reachable.filter(~Exists(opted_out))
    return reachable


@dataclass
class ExclusionSql:
    """SQL pieces for a set-based send over contacts rows aliased `alias`: LEFT JOINs (each matching at most one
    row, so they never multiply the audience) with their params, then (condition, reason) pairs in order; a contact
    no condition matches is reachable. Joins, not EXISTS per row, so PostgreSQL can hash them."""

    joins: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    cases: list[tuple[str, str]] = field(default_factory=list)

    def join(self, sql: str, params: list[Any], condition: str, reason: str) -> None:
        self.joins.append(sql)
        self.params.extend(params)
        self.cases.append((condition, reason))


def contact_exclusions(*, alias: str, topic_id: int | None) -> ExclusionSql:
    """The rules of `contacts_reachable`, as SQL."""
    found = ExclusionSql(cases=[(f"{alias}.status <> 'subscribed'", f"{alias}.status")])
    if topic_id is not None:
        found.join(
            f"LEFT JOIN {TopicOptOut._meta.db_table} AS x_opt ON x_opt.topic_id = %s AND x_opt.contact_id = {alias}.id",
            [topic_id],
            "x_opt.id IS NOT NULL",
            "'opted_out'",
        )
    return found


def topic_list(*, account: Account) -> QuerySet[Topic]:
    return Topic.objects.filter(account=account)


def contact_opted_out_topic_ids(*, contact: Contact) -> set[int]:
    return set(TopicOptOut.objects.filter(contact_id=contact.pk).values_list("topic_id", flat=True))


def unsubscribe_stops_transactional(*, account_id: Any) -> bool:
    return PreferenceSettings.objects.filter(account_id=account_id, unsubscribe_stops_transactional=True).exists()


def opted_out_topic_keys(*, contact_ids: list[int]) -> dict[int, list[str]]:
    """One query: contact id -> sorted keys of the topics it opted out of (a page of a list, say)."""
    found: dict[int, list[str]] = {}
    if not contact_ids:
        return found
    rows = TopicOptOut.objects.filter(contact_id__in=contact_ids).order_by("topic__key")
    for contact_id, key in rows.values_list("contact_id", "topic__key"):
        found.setdefault(contact_id, []).append(key)
    return found
