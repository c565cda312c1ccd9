"""Reads of the team inbox, always scoped to one account."""

from django.db.models import Count, Q, QuerySet

from accounts.models import Account
from emails.inbox.models import Conversation, InboxMessage


def conversation_list(*, account: Account) -> QuerySet[Conversation]:
    return (
        Conversation.objects.filter(account=account)
        .select_related("assignee")
        .annotate(message_count=Count("messages"))
    )


def conversations_search(queryset: QuerySet[Conversation], text: str) -> QuerySet[Conversation]:
    """By address (the correspondent's or any sender's), subject, or the text of any message of the conversation.
    `queryset` is already scoped to an account; the message subquery only narrows it."""
    text = text.strip()
    in_messages = InboxMessage.objects.filter(
        Q(from_email__icontains=text) | Q(subject__icontains=text) | Q(text_body__icontains=text)
    ).values("conversation_id")
    return queryset.filter(Q(correspondent_email__icontains=text) | Q(subject__icontains=text) | Q(pk__in=in_messages))
