"""Accepting SMS: validate, apply the account's rules (countries, sandbox, spend, opt-outs), store, and announce the
work to the delivery engine. Nothing is sent inside the request."""

import contextlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account, AwsConnection
from config.api.errors import ErrorEntry, Loc, UnprocessableEntity, error_entry
from config.delivery.batches import outbox_store_batch, outbox_withdraw
from config.delivery.channels import channel_named
from config.delivery.rows import outbox_row
from config.delivery.services import delivery_announce
from emails.templating.sending import TemplateSends, names_template
from sms.models import OtpVerification, SmsEvent, SmsMessage, SmsOptOut, SmsSandboxNumber
from sms.services.policy import sms_policy_for, spend_limit_problem
from sms.services.sandbox import sandbox_in
from sms.validation import SmsDraft, validate_sms_body


class DuplicateClientSmsId(Exception):
    def __init__(self, client_sms_id: str, existing_id: uuid.UUID) -> None:
        super().__init__(f"An SMS with client_sms_id {client_sms_id!r} was already accepted.")
        self.client_sms_id = client_sms_id
        self.existing_id = existing_id


class AcceptContext:
    """What every SMS of one request needs, loaded once: the account's policy, connections and known opt-outs."""

    def __init__(self, account: Account, numbers: Iterable[str]) -> None:
        self.account = account
        self.now = timezone.now()
        self.policy = sms_policy_for(account=account)
        self.numbers = set(numbers)
        # The secret is not needed to accept; decrypting it would cost every request a Fernet round.
        connections = AwsConnection.objects.filter(account=account).defer("secret_access_key")
        self._connections = {c.identifier: c for c in connections}
        self.opted_out = dict(
            SmsOptOut.objects.filter(account=account, phone_number__in=self.numbers).values_list(
                "phone_number", "source"
            )
        )
        self._verified: dict[Any, set[str] | None] = {}
        self.spend_problem = spend_limit_problem(policy=self.policy, now=self.now)

    def connection(self, identifier: str | None, loc: Loc) -> tuple[AwsConnection | None, ErrorEntry | None]:
        where = [*loc, "config_identifier"]
        if identifier:
            found = self._connections.get(identifier)
            if found is None:
                known = ", ".join(sorted(self._connections)) or "none yet"
                return None, error_entry(where, f"no AWS connection named {identifier!r}; yours: {known}", "unknown")
        else:
            found = next((c for c in self._connections.values() if c.is_default), None)
            if found is None:
                return None, error_entry(
                    where, "no default AWS connection; pass config_identifier or mark one default", "missing"
                )
        if not found.is_active:
            return None, error_entry(where, f"the AWS connection {found.identifier!r} is inactive", "inactive")
        return found, None

    def sandbox_problem(self, connection: AwsConnection, to: str, loc: Loc) -> ErrorEntry | None:
        if connection.pk not in self._verified:
            self._verified[connection.pk] = (
                set(
                    SmsSandboxNumber.objects.filter(
                        connection=connection, status=SmsSandboxNumber.Status.VERIFIED, phone_number__in=self.numbers
                    ).values_list("phone_number", flat=True)
                )
                if sandbox_in(connection=connection)
                else None
            )
        verified = self._verified[connection.pk]
        if verified is None or to in verified:
            return None
        return error_entry(
            [*loc, "to"],
            f"the SNS account of connection {connection.identifier!r} is in the SMS sandbox, where only verified "
            f"numbers receive SMS, and {to} is not one: add it with POST /v1/sms/sandbox-numbers "
            f'{{"phone_number": "{to}"}}, then POST /v1/sms/sandbox-numbers/<id>/verify {{"code": "..."}} with '
            "the code SNS texts to it (or ask AWS to move the account out of the sandbox)",
            "value_error.sandbox_unverified",
        )

    def country_problem(self, draft: SmsDraft, loc: Loc) -> ErrorEntry | None:
        allowed = self.policy.countries
        if draft.country in allowed:
            return None
        return error_entry(
            [*loc, "to"],
            f"{draft.to} is a number in {draft.country or 'no known country'}; this account sends to "
            f"{', '.join(allowed)} only (add countries with PATCH /v1/sms/settings allowed_countries)",
            "value_error.country_not_allowed",
        )


def _message_from(draft: SmsDraft, *, account: Account, connection: AwsConnection, now: datetime) -> SmsMessage:
    return outbox_row(
        SmsMessage,
        account=account,
        connection=connection,
        client_sms_id=draft.client_sms_id,
        to=draft.to,
        country=draft.country,
        body=draft.body,
        encoding=draft.encoding.encoding,
        segments=draft.encoding.segments,
        sms_type=draft.sms_type,
        sender_id=draft.sender_id,
        origination_number=draft.origination_number,
        max_price=draft.max_price,
        tags=draft.tags,
        custom_fields=draft.custom_fields,
        template_version=draft.template_version,
        priority=draft.priority,
        scheduled_for=draft.schedule_send_at,
        send_at=draft.schedule_send_at or now,
        status=SmsMessage.Status.SCHEDULED if draft.schedule_send_at else SmsMessage.Status.QUEUED,
    )


def _prepare(draft: SmsDraft, *, ctx: AcceptContext, loc: Loc) -> tuple[SmsMessage | None, list[ErrorEntry]]:
    connection, problem = ctx.connection(draft.config_identifier, loc)
    errors = [problem] if problem else []
    country = ctx.country_problem(draft, loc)
    if country:
        errors.append(country)
    if connection is not None and not errors:
        sandbox = ctx.sandbox_problem(connection, draft.to, loc)
        if sandbox:
            errors.append(sandbox)
    if ctx.spend_problem:
        errors.append(error_entry(loc, ctx.spend_problem, "value_error.spend_limit"))
    if errors or connection is None:
        return None, errors
    message = _message_from(draft, account=ctx.account, connection=connection, now=ctx.now)
    if draft.to in ctx.opted_out:
        message.status = SmsMessage.Status.SUPPRESSED
        message.failure_reason = f"{draft.to} opted out ({SmsOptOut.Source(ctx.opted_out[draft.to]).label.lower()})"
    return message, []


def _suppressed_events(messages: Iterable[SmsMessage]) -> list[SmsEvent]:
    return [
        SmsEvent(
            account_id=message.account_id,
            message=message,
            connection_id=message.connection_id,
            source=SmsEvent.Source.SESAME,
            event_type="suppressed",
            detail=f"not sent: {message.failure_reason}",
            occurred_at=message.created_at,
        )
        for message in messages
        if message.status == SmsMessage.Status.SUPPRESSED
    ]


def _announce(messages: Iterable[SmsMessage]) -> None:
    delivery_announce(
        channel="sms", connection_ids={m.connection_id for m in messages if m.status == SmsMessage.Status.QUEUED}
    )


def sms_store(
    *, account: Account, draft: SmsDraft, loc: Loc, sealed_body: str = "", otp: OtpVerification | None = None
) -> SmsMessage:
    """Apply the account's rules to a validated SMS and store it. Raises UnprocessableEntity (422) with every
    problem, or DuplicateClientSmsId (409)."""
    message, errors = _prepare(draft, ctx=AcceptContext(account, [draft.to]), loc=loc)
    if message is None:
        raise UnprocessableEntity(errors)
    message.sealed_body = sealed_body
    message.otp = otp
    suppressed = message.status == SmsMessage.Status.SUPPRESSED
    # A lone INSERT needs no transaction of its own: one round trip instead of three on the hot path.
    atomic = suppressed or transaction.get_connection().in_atomic_block
    try:
        with transaction.atomic() if atomic else contextlib.nullcontext():
            message.save(force_insert=True)
            SmsEvent.objects.bulk_create(_suppressed_events([message]))
            _announce([message])
    except IntegrityError:
        existing = SmsMessage.objects.filter(account=account, client_sms_id=message.client_sms_id).first()
        if existing is None:
            raise
        raise DuplicateClientSmsId(str(message.client_sms_id), existing.id) from None
    return message


def sms_accept(*, account: Account, data: Any) -> SmsMessage:
    """Validate and store one SMS (POST /v1/sms); with `template`, its rendered body."""
    version = None
    if names_template(data):
        sends = TemplateSends(account=account, channel="sms")
        to = data.get("to")
        contact = sends.contacts_by_mobile([to]).get(to.strip()) if isinstance(to, str) else None
        data, version = sends.fill(data, loc=["body"], contact=contact)
    draft, errors = validate_sms_body(data)
    if draft is None:
        raise UnprocessableEntity(errors)
    draft.template_version = version
    return sms_store(account=account, draft=draft, loc=["body"])


@dataclass
class BatchItemResult:
    message: SmsMessage | None = None
    errors: list[ErrorEntry] | None = None
    duplicate_of: uuid.UUID | None = None


def sms_accept_batch(*, account: Account, items: list[Any]) -> list[BatchItemResult]:
    """Validate each SMS on its own; store the valid ones in one insert. Results keep the request's order."""
    if any(names_template(item) for item in items):
        drafts = _drafts_from_templates(account, items)
    else:
        drafts = [validate_sms_body(item, base=["body", "sms", index]) for index, item in enumerate(items)]
    return sms_store_drafts(account=account, drafts=drafts, loc=["body", "sms"])


def sms_store_drafts(
    *, account: Account, drafts: Sequence[tuple[SmsDraft | None, list[ErrorEntry]]], loc: Loc
) -> list[BatchItemResult]:
    """Apply the account's rules (connection, countries, sandbox, spend, opt-outs) to each validated SMS, and store
    the ones they allow in one insert: the batch API's, and bulk sends' (a broadcast). A draft whose client_sms_id
    is taken is not stored again; its result names the SMS that holds it. Results keep the drafts' order, each
    problem located at `loc` + the draft's index."""
    ctx = AcceptContext(account, [draft.to for draft, _ in drafts if draft])
    results: list[BatchItemResult] = []
    seen_client_ids: dict[str, int] = {}
    for index, (draft, errors) in enumerate(drafts):
        if draft is None:
            results.append(BatchItemResult(errors=errors))
            continue
        message, errors = _prepare(draft, ctx=ctx, loc=[*loc, index])
        client_id = message.client_sms_id if message is not None else None
        if message is not None and client_id:
            if client_id in seen_client_ids:
                where = [*loc, index, "client_sms_id"]
                errors = [error_entry(where, f"repeats item {seen_client_ids[client_id]} of this batch", "duplicate")]
                message = None
            else:
                seen_client_ids[client_id] = index
        results.append(BatchItemResult(message=message, errors=errors or None))
    _store_batch(account, results)
    return results


def _drafts_from_templates(account: Account, items: list[Any]) -> list[tuple[SmsDraft | None, list[ErrorEntry]]]:
    sends = TemplateSends(account=account, channel="sms")
    numbers = {index: str(item.get("to")).strip() for index, item in enumerate(items) if names_template(item)}
    found = sends.contacts_by_mobile(numbers.values())
    contacts = {index: found.get(number) for index, number in numbers.items()}
    bodies, versions, errors = sends.fill_each(items, loc=["body", "sms"], contacts=contacts)
    drafts = []
    for index, body in enumerate(bodies):
        draft, problems = (
            (None, errors[index]) if index in errors else validate_sms_body(body, base=["body", "sms", index])
        )
        if draft is not None:
            draft.template_version = versions.get(index)
        drafts.append((draft, problems))
    return drafts


def _store_batch(account: Account, results: list[BatchItemResult]) -> None:
    messages = [r.message for r in results if r.message is not None]
    if not messages:
        return
    # A unique constraint, not a read-then-write: rows whose client_sms_id exists are skipped by the database.
    kept, holders = outbox_store_batch(
        messages,
        channel=channel_named("sms"),  # by name: sms.channel imports these services
        account_id=account.pk,
        client_id_field="client_sms_id",
        timeline=_suppressed_events,
    )
    stored = {message.pk for message in kept}
    for result in results:
        if result.message is not None and result.message.pk not in stored:
            result.duplicate_of = holders.get(result.message.client_sms_id)
            result.message = None


def sms_withdraw(*, message_ids: Sequence[Any], reason: str) -> set[uuid.UUID]:
    """Cancel those of these SMS that are still waiting (a bulk send paused or cancelled; see `outbox_withdraw`);
    returns their ids."""
    sms = channel_named("sms")
    return outbox_withdraw(channel=sms, ids=message_ids, client_id_field="client_sms_id", reason=reason)
