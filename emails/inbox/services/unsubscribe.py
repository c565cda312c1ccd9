"""Unsubscribe by mail: the `mailto:` path of a List-Unsubscribe header (RFC 2369, beside RFC 8058's one-click
POST). Mail to `unsubscribe+<token>@` is the request."""

from emails.inbox.models import Conversation, InboxMessage


def unsubscribe_by_mail(*, message: InboxMessage, tokens: list[str]) -> str:
    """Record the request. Topics and unsubscribe tokens are not in Sesame yet (they come with broadcasts), so the
    request is kept as a flagged message of kind "unsubscribe" for the team to act on. Returns what was done."""
    InboxMessage.objects.filter(pk=message.pk).update(flagged=True, flags=[*message.flags, "unsubscribe request"])
    Conversation.objects.filter(pk=message.conversation_id).update(flagged=True)
    return f"Unsubscribe request by mail (token {tokens[0][:40]}) stored for the team: topics are not built yet."
