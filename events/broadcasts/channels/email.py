"""Email broadcasts: one email per contact, with RFC 8058 one-click unsubscribe headers, from a verified identity."""

from collections.abc import Sequence
from typing import Any

from config.api.errors import ErrorEntry, Loc, error_entry
from contacts.selectors import ExclusionSql
from contacts.unsubscribe import list_unsubscribe_headers
from emails.addresses import Address, AddressError, parse_address
from emails.models import Email, Suppression
from emails.services import BulkEmail, BulkSender, emails_enqueue_bulk, emails_withdraw
from emails.services.accept import AcceptContext
from emails.templating import TemplateRenderError, TemplateVersion, html_has_visible_link, template_render
from events.broadcasts.channels.base import (
    BroadcastChannel,
    Enqueued,
    Recipient,
    client_id,
    contact_token,
    sesame_variables,
)
from events.broadcasts.models import Broadcast

UNSUBSCRIBE_LINK_EXAMPLE = '<a href="{{ unsubscribe_url }}">Unsubscribe</a>'


class EmailBroadcastChannel(BroadcastChannel):
    name = "email"
    label = "an email"
    address_column = "email"
    tracks_opens = True
    message_model = Email
    admin_url = "admin:emails_email_change"

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
        if not broadcast.from_address:
            return [
                *errors,
                error_entry([*loc, "from"], "an email broadcast needs a sender: a verified identity", "missing"),
            ]
        try:
            sender = parse_address(broadcast.from_address)
        except AddressError as exc:
            return [*errors, error_entry([*loc, "from"], str(exc), "value_error.email")]
        ctx = AcceptContext(broadcast.account)
        if broadcast.connection is not None and not ctx.sender_verified(broadcast.connection, sender):
            errors.append(
                error_entry(
                    [*loc, "from"],
                    f"{sender.email} is not a verified identity of the AWS connection "
                    f"{broadcast.connection.identifier!r}",
                    "value_error.unverified_sender",
                )
            )
        return errors

    def enqueue(self, broadcast: Broadcast, recipients: Sequence[Recipient]) -> Enqueued:
        version = broadcast.template_version
        assert version is not None and broadcast.connection is not None  # set when the broadcast started
        items: dict[int, BulkEmail] = {}
        done = Enqueued()
        for recipient in recipients:
            contact = recipient.contact
            token = contact_token(broadcast, contact)
            try:
                rendered = template_render(
                    version=version, variables=broadcast.variables, contact=contact, extra=sesame_variables(token)
                )
                to = Address(name=contact.full_name, email=parse_address(contact.email).email)
            except (TemplateRenderError, AddressError) as exc:  # one contact's data never stops the others' sends
                done.failed[recipient.row_id] = f"{type(exc).__name__}: {exc}"[:200]
                continue
            items[recipient.row_id] = BulkEmail(
                client_email_id=client_id(broadcast, contact),
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
        done.stored = {row_id: stored[item.client_email_id] for row_id, item in items.items()}
        return done

    def withdraw(self, message_ids: Sequence[Any], reason: str) -> set[Any]:
        return emails_withdraw(email_ids=message_ids, reason=reason)

    def outcome_sql(self) -> tuple[str, str, str, str]:
        join, status, _, _ = super().outcome_sql()
        return join, status, "m.opened_at", "m.clicked_at"
