"""Unsubscribe by mail: the `mailto:` path of a List-Unsubscribe header (RFC 2369, completing RFC 8058's
one-click POST). Mail to `unsubscribe+<token>@` (contacts.unsubscribe.unsubscribe_mailto) is the request; the
token alone says which contact and topic, so it is honoured whichever connection's rule received it."""

from contacts.models import Contact, Topic
from contacts.subscriptions import Source, contact_unsubscribe
from contacts.unsubscribe import InvalidUnsubscribeToken, unsubscribe_token_read


def unsubscribe_by_mail(*, tokens: list[str]) -> tuple[bool, str]:
    """Unsubscribe the contact of the first valid token from its topic (or from all bulk mail). Returns whether a
    token was valid, and what happened in words (for the notification's result)."""
    for token in tokens:
        try:
            account_id, contact_id, topic_id = unsubscribe_token_read(token)
        except InvalidUnsubscribeToken:
            continue
        contact = Contact.objects.filter(pk=contact_id, account_id=account_id).first()
        if contact is None:
            continue
        topic = Topic.objects.filter(pk=topic_id, account_id=account_id).first() if topic_id else None
        if topic_id and topic is None:
            return True, f"Unsubscribe by mail for contact {contact_id}: its topic {topic_id} was deleted since."
        changed = contact_unsubscribe(contact=contact, topic=topic, source=Source.MAILTO)
        what = f"topic {topic.key!r}" if topic else "all bulk mail"
        verb = "Unsubscribed" if changed else "Already unsubscribed:"
        return True, f"{verb} contact {contact_id} of account {account_id} from {what}, by mail."
    return False, "An unsubscribe address with no valid token: kept as a flagged unsubscribe request."
