"""What a broadcast needs from a channel: which contact column holds its address, which addresses it suppresses,
what its template must contain, and how a batch of rendered messages enters its outbox. Email is the first; SMS
and push plug in by registering another `BroadcastChannel`."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from accounts.models import AwsConnection
from config.api.errors import ErrorEntry, Loc, error_entry
from contacts.models import Contact
from contacts.selectors import ExclusionSql
from contacts.unsubscribe import list_unsubscribe_headers, preferences_url, unsubscribe_token, unsubscribe_url
from emails.addresses import Address, AddressError, parse_address
from emails.models import Suppression
from emails.services import BulkEmail, BulkSender, emails_enqueue_bulk
from emails.services.accept import AcceptContext
from emails.templating import TemplateRenderError, TemplateVersion, html_has_visible_link, template_render
from events.broadcasts.models import Broadcast

UNSUBSCRIBE_LINK_EXAMPLE = '<a href="{{ unsubscribe_url }}">Unsubscribe</a>'


@dataclass(frozen=True)
class Recipient:
    row_id: int
    contact: Contact


class BroadcastChannel:
    name: ClassVar[str]
    address_column: ClassVar[str]  # the contacts column a recipient must have

    def exclude_suppressed(self, exclusions: ExclusionSql, *, alias: str, account_id: Any) -> None:
        """Add to `exclusions` the channel's own: addresses of contacts rows `alias` it must not reach."""
        raise NotImplementedError

    def problems(self, broadcast: Broadcast, version: TemplateVersion, loc: Loc) -> list[ErrorEntry]:
        """Why this broadcast cannot be sent as it stands (template, sender), as 422 entries."""
        raise NotImplementedError

    def enqueue(self, broadcast: Broadcast, recipients: Sequence[Recipient]) -> tuple[dict[int, Any], dict[int, str]]:
        """Render and store one message per recipient in the caller's transaction: (row id -> message id,
        row id -> why it could not be rendered)."""
        raise NotImplementedError

    def rate(self, connection: AwsConnection) -> float:
        """Messages per second the connection sends on this channel now."""
        raise NotImplementedError


class EmailBroadcastChannel(BroadcastChannel):
    name = "email"
    address_column = "email"

    def exclude_suppressed(self, exclusions: ExclusionSql, *, alias: str, account_id: Any) -> None:
        table = Suppression._meta.db_table
        exclusions.join(
            f"LEFT JOIN {table} AS x_sup ON x_sup.account_id = %s AND x_sup.address = {alias}.email",
            [account_id],
            "x_sup.id IS NOT NULL",
            "'suppressed'",
        )

    def problems(self, broadcast: Broadcast, version: TemplateVersion, loc: Loc) -> list[ErrorEntry]:
        errors = []
        if version.html and not html_has_visible_link(version.html, variable="unsubscribe_url"):
            errors.append(
                error_entry(
                    [*loc, "template"],
                    "the template's HTML has no visible unsubscribe link; broadcasts must carry one: add "
                    f"{UNSUBSCRIBE_LINK_EXAMPLE} (link text a reader can see, not hidden)",
                    "value_error.unsubscribe_link",
                )
            )
        elif not version.html and "unsubscribe_url" not in version.text:
            errors.append(
                error_entry(
                    [*loc, "template"],
                    "the template's text has no unsubscribe link; add {{ unsubscribe_url }} to it",
                    "value_error.unsubscribe_link",
                )
            )
        try:
            sender = parse_address(broadcast.from_address)
        except AddressError as exc:
            return [*errors, error_entry([*loc, "from"], str(exc), "value_error.email")]
        ctx = AcceptContext(broadcast.account)
        if not ctx.sender_verified(broadcast.connection, sender):
            errors.append(
                error_entry(
                    [*loc, "from"],
                    f"{sender.email} is not a verified identity of the AWS connection "
                    f"{broadcast.connection.identifier!r}",
                    "value_error.unverified_sender",
                )
            )
        return errors

    def enqueue(self, broadcast: Broadcast, recipients: Sequence[Recipient]) -> tuple[dict[int, Any], dict[int, str]]:
        version = broadcast.template_version
        assert version is not None  # set when the broadcast started
        items: dict[int, BulkEmail] = {}
        failed: dict[int, str] = {}
        for recipient in recipients:
            contact = recipient.contact
            token = unsubscribe_token(
                account_id=broadcast.account_id, contact_id=contact.pk, topic_id=broadcast.topic_id
            )
            extra = {"unsubscribe_url": unsubscribe_url(token), "preferences_url": preferences_url(token)}
            try:
                rendered = template_render(version=version, variables=broadcast.variables, contact=contact, extra=extra)
                to = Address(name=contact.full_name, email=parse_address(contact.email).email)
            except (TemplateRenderError, AddressError) as exc:  # one contact's data never stops the others' sends
                failed[recipient.row_id] = f"{type(exc).__name__}: {exc}"[:200]
                continue
            items[recipient.row_id] = BulkEmail(
                client_email_id=f"broadcast:{broadcast.pk}:{contact.pk}",
                to=to,
                subject=rendered.subject,
                html_body=rendered.html,
                text_body=rendered.text,
                headers=list_unsubscribe_headers(token),
                template_version_id=version.pk,
            )
        sender = BulkSender(
            account=broadcast.account,
            connection=broadcast.connection,
            from_address=broadcast.from_address,
            reply_to=broadcast.reply_to,
            priority=broadcast.priority,
            tags=broadcast.tags,
            custom_fields={"broadcast_id": str(broadcast.pk)},
        )
        stored = emails_enqueue_bulk(sender=sender, items=list(items.values()))
        return {row_id: stored[item.client_email_id] for row_id, item in items.items()}, failed

    def rate(self, connection: AwsConnection) -> float:
        return connection.effective_send_rate


_channels: dict[str, BroadcastChannel] = {"email": EmailBroadcastChannel()}


def broadcast_channel(name: str) -> BroadcastChannel:
    return _channels[name]


def broadcast_channel_names() -> list[str]:
    return sorted(_channels)
