"""Tag names to ids, tag sets on contacts, and the per-tag contact counts kept exact alongside them.

Every change to a contact's tag_ids goes through `contacts_retag` (or the import's set-based SQL), which locks the
contact rows first: the old set is then known, so each tag's count moves by exactly what changed.
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import F
from django.utils import timezone

from contacts.hooks import notify_tags_changed
from contacts.models import Contact, Tag
from contacts.normalize import clean_tag_names, tag_key


def tags_resolve(*, account_id: Any, names: Iterable[str], create: bool) -> dict[str, Tag]:
    """Tags by key for these names; with create=True the missing ones are made (concurrent makers are fine)."""
    wanted = {tag_key(name): name for name in clean_tag_names(list(names))}
    if not wanted:
        return {}
    found = {tag.key: tag for tag in Tag.objects.filter(account_id=account_id, key__in=wanted)}
    missing = [key for key in wanted if key not in found]
    if create and missing:
        Tag.objects.bulk_create(
            [Tag(account_id=account_id, name=wanted[key], key=key) for key in missing], ignore_conflicts=True
        )
        found.update({tag.key: tag for tag in Tag.objects.filter(account_id=account_id, key__in=missing)})
    return found


def tag_ids_for(*, account_id: Any, names: Iterable[str], create: bool) -> set[int]:
    return {tag.pk for tag in tags_resolve(account_id=account_id, names=names, create=create).values()}


def tag_counts_apply(deltas: Mapping[int, int]) -> None:
    # In id order, so two transactions touching the same tags never wait on each other in a cycle.
    ids = sorted(tag_id for tag_id, delta in deltas.items() if delta)
    if not ids:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE contacts_tag t SET contact_count = t.contact_count + d.delta"
                " FROM (SELECT * FROM unnest(%s::integer[], %s::integer[]) AS u(id, delta) ORDER BY id) d"
                " WHERE t.id = d.id",
                [ids, [deltas[i] for i in ids]],
            )
        return
    for tag_id in ids:
        Tag.objects.filter(pk=tag_id).update(contact_count=F("contact_count") + deltas[tag_id])


@dataclass
class TagChange:
    """Tags to add and remove on one contact, in the order the caller asked for them."""

    add: set[int] = field(default_factory=set)
    remove: set[int] = field(default_factory=set)

    def adding(self, ids: Iterable[int]) -> None:
        for tag_id in ids:
            self.add.add(tag_id)
            self.remove.discard(tag_id)

    def removing(self, ids: Iterable[int]) -> None:
        for tag_id in ids:
            self.remove.add(tag_id)
            self.add.discard(tag_id)

    def apply(self, current: Iterable[int]) -> list[int]:
        return sorted((set(current) | self.add) - self.remove)


def contacts_retag(*, account_id: Any, changes: Mapping[int, TagChange], notify: bool = True) -> int:
    """Apply tag changes to many contacts in one UPDATE; returns how many contacts changed. Call inside a
    transaction: listeners (contacts/hooks.py) hear of each tag really added or removed within it, unless `notify`
    is False (imports)."""
    if not changes:
        return 0
    now = timezone.now()
    deltas: Counter[int] = Counter()
    changed: dict[int, list[int]] = {}
    added: dict[int, set[int]] = {}
    removed: dict[int, set[int]] = {}
    for pk, current in _lock_tag_sets(account_id=account_id, ids=sorted(changes)):
        old = set(current)
        new = changes[pk].apply(old)
        if set(new) == old:
            continue
        if gained := set(new) - old:
            added[pk] = gained
        if lost := old - set(new):
            removed[pk] = lost
        deltas.update(dict.fromkeys(gained, 1))
        deltas.update(dict.fromkeys(lost, -1))
        changed[pk] = new
    if not changed:
        return 0
    if connection.vendor == "postgresql":
        # Sets travel as '{1,2}' literals: unnest() would flatten an array of arrays.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE contacts_contact c SET tag_ids = v.tags::integer[], updated_at = %s"
                " FROM unnest(string_to_array(%s, ';')::bigint[], string_to_array(%s, ';')) AS v(id, tags)"
                " WHERE c.id = v.id",
                [
                    now,
                    ";".join(map(str, changed)),
                    ";".join("{" + ",".join(map(str, tags)) + "}" for tags in changed.values()),
                ],
            )
    else:
        rows = [Contact(pk=pk, tag_ids=tags, updated_at=now) for pk, tags in changed.items()]
        Contact.objects.bulk_update(rows, ["tag_ids", "updated_at"], batch_size=1000)
    tag_counts_apply(deltas)
    if notify:
        notify_tags_changed(account_id=account_id, added=added, removed=removed)
    return len(changed)


def _lock_tag_sets(*, account_id: Any, ids: list[int]) -> list[tuple[int, list[int]]]:
    """(id, tag_ids) of these contacts, row-locked in id order (so concurrent writers never deadlock)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, tag_ids FROM contacts_contact"
                " WHERE account_id = %s AND id = ANY(string_to_array(%s, ',')::bigint[]) ORDER BY id FOR UPDATE",
                [account_id, ",".join(map(str, ids))],
            )
            return [(pk, list(tags)) for pk, tags in cursor.fetchall()]
    locked = Contact.objects.select_for_update().filter(account_id=account_id, pk__in=ids).order_by("pk")
    return list(locked.values_list("pk", "tag_ids"))


def tag_names_by_id(*, account_id: Any, contacts: Iterable[Contact]) -> dict[int, str]:
    """One query for the names of every tag on these contacts (a page of a list, say)."""
    ids = {tag_id for contact in contacts for tag_id in contact.tag_ids}
    if not ids:
        return {}
    return dict(Tag.objects.filter(account_id=account_id, pk__in=ids).values_list("pk", "name"))


def tags_recount(*, account_id: Any) -> int:
    """Recompute every tag's count from the contacts (a repair tool; services keep counts exact)."""
    counts: Counter[int] = Counter()
    for tag_ids in Contact.objects.filter(account_id=account_id).values_list("tag_ids", flat=True).iterator(5000):
        counts.update(tag_ids)
    tags = list(Tag.objects.filter(account_id=account_id))
    for tag in tags:
        tag.contact_count = counts.get(tag.pk, 0)
    Tag.objects.bulk_update(tags, ["contact_count"], batch_size=1000)
    return len(tags)
