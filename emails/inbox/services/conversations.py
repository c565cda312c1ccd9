"""Conversation housekeeping: status (open / snoozed until / closed), assignee, notes, and waking snoozes."""

from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership
from config.api.errors import UnprocessableEntity, error_entry
from emails.inbox.models import Conversation, ConversationNote

UNSET: Any = object()


def member_by_email(*, account_id: Any, email: str) -> User:
    """A member of the account, by login email. Raises UnprocessableEntity (422) naming the members."""
    user = User.objects.filter(memberships__account_id=account_id, email__iexact=email.strip()).first()
    if user is None:
        members = Membership.objects.filter(account_id=account_id).values_list("user__email", flat=True)[:20]
        known = ", ".join(sorted(m for m in members if m)) or "none yet"
        raise UnprocessableEntity(
            [
                error_entry(
                    ["body", "assignee"],
                    f"{email!r} is not a member of this account; members: {known}",
                    "value_error.not_a_member",
                )
            ]
        )
    return user


@transaction.atomic
def conversation_update(
    *,
    conversation: Conversation,
    status: str = UNSET,
    snoozed_until: datetime | None = UNSET,
    assignee: User | None = UNSET,
) -> Conversation:
    """Change status and/or assignee. Snoozing needs a future `snoozed_until`; any other status clears it.
    Raises UnprocessableEntity (422) with every problem."""
    errors = []
    if status is not UNSET:
        if status not in Conversation.Status.values:
            errors.append(
                error_entry(["body", "status"], f"one of {', '.join(Conversation.Status.values)}", "value_error.choice")
            )
        elif status == Conversation.Status.SNOOZED:
            until = conversation.snoozed_until if snoozed_until is UNSET else snoozed_until
            if until is None or until <= timezone.now():
                errors.append(
                    error_entry(["body", "snoozed_until"], "snoozing needs a time in the future", "value_error.snooze")
                )
            else:
                conversation.snoozed_until = until
        else:
            conversation.snoozed_until = None
        if not errors:
            conversation.status = status
    elif snoozed_until is not UNSET:
        errors.append(
            error_entry(["body", "snoozed_until"], 'only with "status": "snoozed"', "value_error.snooze_without_status")
        )
    if assignee is not UNSET:
        if (
            assignee is not None
            and not Membership.objects.filter(account_id=conversation.account_id, user_id=assignee.pk).exists()
        ):
            errors.append(error_entry(["body", "assignee"], "not a member of this account", "value_error.not_a_member"))
        else:
            conversation.assignee = assignee
    if errors:
        raise UnprocessableEntity(errors)
    conversation.save(update_fields=["status", "snoozed_until", "assignee", "updated_at"])
    return conversation


def conversation_note_add(
    *, conversation: Conversation, body: str, author: User | None = None, author_name: str = ""
) -> ConversationNote:
    if not body.strip():
        raise UnprocessableEntity([error_entry(["body", "body"], "write the note", "value_error.missing")])
    return ConversationNote.objects.create(
        account_id=conversation.account_id,
        conversation=conversation,
        author=author,
        author_name=author_name[:200] or (str(author) if author is not None else ""),
        body=body,
    )


def conversations_wake(*, now: datetime | None = None) -> int:
    """Snoozed conversations whose time has come are open again (beat, every minute). Returns how many."""
    now = now or timezone.now()
    return Conversation.objects.filter(status=Conversation.Status.SNOOZED, snoozed_until__lte=now).update(
        status=Conversation.Status.OPEN, snoozed_until=None, updated_at=now
    )
