"""SMS broadcasts: one promotional SMS per contact's mobile, accepted by the SMS channel's own rules (connection,
allowed countries, sandbox, monthly spend, opt-outs), each ending with how to stop them."""

import re
from collections.abc import Sequence
from typing import Any

from config.api.errors import ErrorEntry, Loc, error_entry
from contacts.selectors import ExclusionSql
from emails.templating import TemplateRenderError, TemplateVersion, template_render
from events.broadcasts.channels.base import (
    BroadcastChannel,
    Enqueued,
    Recipient,
    client_id,
    contact_token,
    not_applicable,
    sesame_variables,
)
from events.broadcasts.models import Broadcast
from sms.models import SmsMessage, SmsOptOut
from sms.services import sms_store_drafts, sms_withdraw
from sms.validation import SmsDraft, validate_sms_body

# Marketing texts must say how to stop them (CTIA, TCPA in the US; most countries alike). SNS acts on the reply
# itself: STOP puts the number on the connection's opted-out list, which Sesame syncs and checks before each send.
OPT_OUT_HINT = "Reply STOP to opt out."
_SAYS_STOP = re.compile(r"\bSTOP\b")
# Any number that validates, to check a sender on its own.
_PROBE_NUMBER = "+14254147755"


def with_opt_out_hint(body: str) -> str:
    """The body with OPT_OUT_HINT on a line of its own, unless it already says STOP (in capitals, as a template
    in another language would: "Répondez STOP pour ne plus recevoir nos SMS")."""
    return body if _SAYS_STOP.search(body) else f"{body.rstrip()}\n{OPT_OUT_HINT}"


def sender_fields(value: str) -> dict[str, str]:
    """A broadcast's `from` as the SMS fields it stands for: an origination number (E.164), or a sender ID."""
    if not value:
        return {}
    return {"origination_number": value} if value.startswith("+") else {"sender_id": value}


def _reason(errors: list[ErrorEntry]) -> str:
    """Why the SMS channel refused a contact's SMS, for its ledger row: each problem with the field it is about."""
    named = (f"{e['loc'][-1]}: {e['msg']}" if isinstance(e["loc"][-1], str) else str(e["msg"]) for e in errors)
    return "; ".join(named)[:200]


class SmsBroadcastChannel(BroadcastChannel):
    name = "sms"
    label = "an SMS"
    address_column = "mobile"
    message_model = SmsMessage
    admin_url = "admin:sms_smsmessage_change"

    def exclude_suppressed(self, exclusions: ExclusionSql, *, alias: str, account_id: Any) -> None:
        table = SmsOptOut._meta.db_table  # unique per (account, number): the join never multiplies a contact
        exclusions.join(
            f"LEFT JOIN {table} AS x_sms ON x_sms.account_id = %s AND x_sms.phone_number = {alias}.mobile",
            [account_id],
            "x_sms.id IS NOT NULL",
            "'sms_opted_out'",
        )

    def problems(self, broadcast: Broadcast, version: TemplateVersion, loc: Loc) -> list[ErrorEntry]:
        errors = []
        if broadcast.reply_to:
            errors.append(not_applicable(loc, "reply_to", "an SMS is answered to the number it came from"))
        _, found = validate_sms_body({"to": _PROBE_NUMBER, "body": "x", **sender_fields(broadcast.from_address)})
        if found:
            errors.append(
                error_entry(
                    [*loc, "from"],
                    f"{broadcast.from_address!r} is neither a sender ID (1 to 11 letters and digits, at least one "
                    "letter, e.g. ACME) nor an origination number in E.164 (e.g. +18005550100)",
                    "value_error.sms_sender",
                )
            )
        return errors

    def enqueue(self, broadcast: Broadcast, recipients: Sequence[Recipient]) -> Enqueued:
        version = broadcast.template_version
        assert version is not None and broadcast.connection is not None  # set when the broadcast started
        done = Enqueued()
        rows: list[int] = []
        drafts: list[tuple[SmsDraft | None, list[ErrorEntry]]] = []
        for recipient in recipients:
            contact = recipient.contact
            extra = sesame_variables(contact_token(broadcast, contact))
            try:
                rendered = template_render(version=version, variables=broadcast.variables, contact=contact, extra=extra)
            except TemplateRenderError as exc:  # one contact's data never stops the others' sends
                done.failed[recipient.row_id] = f"{type(exc).__name__}: {exc}"[:200]
                continue
            draft, errors = validate_sms_body(
                {
                    "to": contact.mobile,
                    "body": with_opt_out_hint(rendered.body),
                    "sms_type": SmsMessage.Type.PROMOTIONAL,
                    "priority": broadcast.priority,
                    "client_sms_id": client_id(broadcast, contact),
                    "tags": broadcast.tags,
                    "custom_fields": {"broadcast_id": str(broadcast.pk)},
                    "config_identifier": broadcast.connection.identifier,
                    **sender_fields(broadcast.from_address),
                }
            )
            if draft is not None:
                draft.template_version = version
            rows.append(recipient.row_id)
            drafts.append((draft, errors))
        results = sms_store_drafts(account=broadcast.account, drafts=drafts, loc=[])
        for row_id, result in zip(rows, results, strict=True):
            message_id = result.message.pk if result.message is not None else result.duplicate_of
            if message_id is not None:
                done.stored[row_id] = message_id
            else:  # the body does not validate, or the account's rules refuse the number (country, sandbox, spend)
                done.failed[row_id] = _reason(result.errors or [])
        return done

    def withdraw(self, message_ids: Sequence[Any], reason: str) -> set[Any]:
        return sms_withdraw(message_ids=message_ids, reason=reason)
