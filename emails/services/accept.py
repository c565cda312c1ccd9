"""Accepting emails: validate, apply recipient policy, store, and hand due work to the dispatcher."""

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Account, AwsConnection
from accounts.tenant_cache import tenant_memo
from billing.quota import QUOTA_SPENT, reserve_ctes, usage_release, usage_reserve, usage_reserved
from config.api.errors import ErrorEntry, Loc, UnprocessableEntity, error_entry
from config.delivery.batches import outbox_store_batch
from config.delivery.rows import outbox_insert, outbox_insert_select, outbox_inserted, outbox_row
from config.delivery.services import delivery_announce
from config.prepared import fetch_prepared
from emails.addresses import Address, AddressError, parse_address
from emails.channel import email_channel
from emails.models import Email, EmailEvent, Identity, TemplateVersion
from emails.policy import RecipientPolicy, policy_query
from emails.templating.sending import TemplateSends, names_template
from emails.validation import MAX_MESSAGE_BYTES, EmailDraft, validate_email_body


class DuplicateClientEmailId(Exception):
    def __init__(self, client_email_id: str, existing_id: uuid.UUID) -> None:
        super().__init__(f"An email with client_email_id {client_email_id!r} was already accepted.")
        self.client_email_id = client_email_id
        self.existing_id = existing_id


class AcceptContext:
    """What every email of one request needs, loaded once: connections and their verified identities."""

    def __init__(self, account: Account) -> None:
        self.account = account
        # Both are remembered with the API's cached tenant context (accounts/tenant_cache.py) until a connection
        # or an identity of the account changes.
        self._connections: dict[str, AwsConnection] = tenant_memo(account, "emails.connections", self._load_connections)
        self._verified: dict[Any, frozenset[str]] = tenant_memo(account, "emails.verified", self._load_verified)

    def _load_connections(self) -> dict[str, AwsConnection]:
        # The secret is not needed to accept, and decrypting it would cost every request a Fernet round.
        connections = AwsConnection.objects.filter(account=self.account).defer("secret_access_key").order_by()
        return {c.identifier: c for c in connections}

    def _load_verified(self) -> dict[Any, frozenset[str]]:
        verified: dict[Any, set[str]] = {}
        rows = Identity.objects.filter(account=self.account, status=Identity.Status.VERIFIED).order_by()
        for connection_id, name in rows.values_list("connection_id", "name"):
            verified.setdefault(connection_id, set()).add(name)
        return {connection_id: frozenset(names) for connection_id, names in verified.items()}

    def connection(self, identifier: str | None, loc: Loc) -> tuple[AwsConnection | None, ErrorEntry | None]:
        if identifier:
            found = self._connections.get(identifier)
            if found is None:
                known = ", ".join(sorted(self._connections)) or "none yet"
                return None, error_entry(
                    [*loc, "config_identifier"],
                    f"no AWS connection named {identifier!r}; yours: {known}",
                    "value_error.unknown",
                )
        else:
            found = next((c for c in self._connections.values() if c.is_default), None)
            if found is None:
                return None, error_entry(
                    [*loc, "config_identifier"],
                    "no default AWS connection; pass config_identifier or mark one default",
                    "value_error.missing",
                )
        if not found.is_active:
            return None, error_entry(
                [*loc, "config_identifier"],
                f"the AWS connection {found.identifier!r} is inactive",
                "value_error.inactive",
            )
        return found, None

    def sender_verified(self, connection: AwsConnection, sender: Address) -> bool:
        verified = self._verified.get(connection.pk, frozenset())
        if sender.key in verified:
            return True
        # SES lets a verified domain send from its subdomains too.
        labels = sender.domain.split(".")
        return any(".".join(labels[i:]) in verified for i in range(len(labels) - 1))


@dataclass
class Prepared:
    email: Email
    dropped: list[dict[str, str]]


def _check_size(draft: EmailDraft, loc: Loc) -> ErrorEntry | None:
    if draft.estimated_size() <= MAX_MESSAGE_BYTES:
        return None
    from emails.mime import build_mime  # exact size only when the cheap bound says it might be too big

    size = len(build_mime(_email_from(draft, account=None, connection=None, now=timezone.now())))
    if size <= MAX_MESSAGE_BYTES:
        return None
    return error_entry(
        loc, f"the MIME message is {size / 1_048_576:.1f} MB; SES accepts at most 10 MB", "value_error.size"
    )


def _email_from(
    draft: EmailDraft, *, account: Account | None, connection: AwsConnection | None, now: datetime
) -> Email:
    return outbox_row(
        Email,
        account=account,
        connection=connection,
        client_email_id=draft.client_email_id,
        from_address=draft.sender.formatted(),
        to_address=draft.to.formatted(),
        to_email=draft.to.key,
        cc=[a.formatted() for a in draft.cc],
        bcc=[a.formatted() for a in draft.bcc],
        reply_to=draft.reply_to.formatted() if draft.reply_to else "",
        subject=draft.subject,
        html_body=draft.html_body,
        text_body=draft.text_body,
        headers=draft.headers,
        attachments=[
            {"filename": a.filename, "content_type": a.content_type, "content_base64": a.content_base64}
            for a in draft.attachments
        ],
        custom_fields=draft.custom_fields,
        tags=draft.tags,
        priority=draft.priority,
        scheduled_for=draft.schedule_send_at,
        send_at=draft.schedule_send_at or now,
        status=Email.Status.SCHEDULED if draft.schedule_send_at else Email.Status.QUEUED,
    )


def _prepare(
    draft: EmailDraft, *, ctx: AcceptContext, loc: Loc, now: datetime
) -> tuple[Email | None, list[ErrorEntry]]:
    connection, problem = ctx.connection(draft.config_identifier, loc)
    errors = [problem] if problem else []
    if connection is not None and not ctx.sender_verified(connection, draft.sender):
        errors.append(
            error_entry(
                [*loc, "from"],
                f"{draft.sender.email} is not a verified identity of the AWS connection {connection.identifier!r}; "
                "verify the address or its domain in SES (manage.py add_identity)",
                "value_error.unverified_sender",
            )
        )
    size_problem = _check_size(draft, loc)
    if size_problem:
        errors.append(size_problem)
    if errors:
        return None, errors
    return _email_from(draft, account=ctx.account, connection=connection, now=now), []


def _recipients(draft: EmailDraft) -> list[Address]:
    return [draft.to, *draft.cc, *draft.bcc]


def _apply_policy(email: Email, recipients: list[Address], policy: RecipientPolicy) -> None:
    dropped = [
        {"address": address.email, "reason": reason}
        for address in recipients
        if (reason := policy.drop_reason(address)) is not None
    ]
    email.dropped_recipients = dropped
    email.cost = max(1, len(recipients) - len(dropped))  # SES counts recipients against the send rate
    if len(dropped) == len(recipients):
        email.status = Email.Status.SUPPRESSED


def sesame_event(email: Email, event_type: str, detail: str, recipient: str = "") -> EmailEvent:
    """A line Sesame itself writes on a new email's timeline, dated with the email."""
    return EmailEvent(
        account_id=email.account_id,
        email=email,
        connection_id=email.connection_id,
        source=EmailEvent.Source.SESAME,
        event_type=event_type,
        recipient=recipient,
        detail=detail,
        occurred_at=email.created_at,
    )


def suppressed_events(emails: Sequence[Email]) -> list[EmailEvent]:
    return [
        sesame_event(
            email,
            "dropped",
            f"not sent to {item['address']}: {item['reason'].replace('_', ' ')}",
            recipient=item["address"],
        )
        for email in emails
        for item in email.dropped_recipients
    ]


def _after_commit(emails: Sequence[Email]) -> None:
    delivery_announce(
        channel="email", connection_ids={email.connection_id for email in emails if email.status == Email.Status.QUEUED}
    )


def email_accept(*, account: Account, data: Any, sealed: bool = False) -> Email:
    """Validate and store one email. Raises ValidationError (422) with every problem, or
    DuplicateClientEmailId (409) when client_email_id was used before in this account. A `sealed` email's bodies
    are never shown again (Sesame's own one-time passcodes; not offered by the API)."""
    version = None
    if names_template(data):
        data, version = _from_template(account, data)
    draft, errors = validate_email_body(data)
    email = None
    if draft is not None:
        email, errors = _prepare(draft, ctx=AcceptContext(account), loc=["body"], now=timezone.now())
    if email is None or draft is None:
        raise UnprocessableEntity(errors)
    email.sealed = sealed
    if version is not None:
        email.template_version = version
    try:
        _store_one(account, email, _recipients(draft))
    except IntegrityError:
        existing = Email.objects.filter(account=account, client_email_id=email.client_email_id).first()
        if existing is None:
            raise
        raise DuplicateClientEmailId(str(email.client_email_id), existing.id) from None
    return email


def _store_one(account: Account, email: Email, recipients: list[Address]) -> None:
    """Apply the recipient policy, reserve the quota unit (402 when spent) and insert. On PostgreSQL, when the
    shipped disposable list drops nobody, all three are one statement (`_insert_reserved`); the steps below run
    only when it reports a dropped recipient or no quota, with what it read."""
    rows = None
    screened = RecipientPolicy(account=account, addresses=recipients, rows=())  # the shipped list: no query
    _apply_policy(email, recipients, screened)
    if connection.vendor == "postgresql" and not email.dropped_recipients:
        rows = _insert_reserved(account, email, recipients)
        if rows is None:
            return
    _apply_policy(email, recipients, RecipientPolicy(account=account, addresses=recipients, rows=rows))
    # The quota first (402 when spent). It commits on its own: a crash before the INSERT leaves one unit reserved
    # for an email that does not exist, the price of keeping accept free of a transaction.
    usage_reserve(account_id=account.pk, channel="email", message_ids=_billable([email]))
    # A lone INSERT needs no transaction of its own (SQLite's path, and PostgreSQL's after a fallback).
    atomic = bool(email.dropped_recipients) or connection.in_atomic_block
    try:
        with transaction.atomic() if atomic else contextlib.nullcontext():
            outbox_insert(email)
            EmailEvent.objects.bulk_create(suppressed_events([email]))
            _after_commit([email])
    except IntegrityError:
        usage_release(channel="email", message_ids=_billable([email]))
        raise


def _insert_reserved(account: Account, email: Email, recipients: list[Address]) -> list[tuple[str, str, str]] | None:
    """Read the policy, reserve the unit and insert `email`, in one statement and one round trip, the insert and
    the reservation only when the policy drops no recipient and the quota has the unit. Returns None when the
    email was stored, else the policy's rows (none: the quota's fast path had no unit, and the slow path, which
    says why or opens the period, must run). A used client_email_id raises IntegrityError, with nothing kept."""
    policy_sql, policy_params = policy_query(account=account, addresses=recipients)
    now = timezone.now()
    ctes, reserve_params = reserve_ctes(
        account_id=account.pk,
        channel="email",
        message_ids=[email.pk],
        now=now,
        guard="NOT EXISTS (SELECT 1 FROM policy)",
    )
    insert_sql, insert_params = outbox_insert_select(email)
    sql = (
        f"WITH policy AS ({policy_sql}), {ctes}, stored AS ({insert_sql} WHERE EXISTS (SELECT 1 FROM period)) "  # noqa: S608 (our own SQL)
        "SELECT kind, value, reason, NULL, NULL, NULL FROM policy "
        "UNION ALL SELECT NULL, NULL, NULL, id, emails_used, included_emails FROM period"
    )
    # Inside a caller's transaction a refused insert must not abort it: a savepoint, as the steps below take.
    with transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext():
        found = fetch_prepared(sql, {**policy_params, **reserve_params, **insert_params})
    policy_rows = [(kind, value, reason) for kind, value, reason, *_ in found if kind is not None]
    period = next(((pk, used, included) for kind, _, _, pk, used, included in found if kind is None), None)
    if period is None:
        return policy_rows
    outbox_inserted(email)
    usage_reserved(account_id=account.pk, period=period, granted=1, now=now)
    _after_commit([email])
    return None


def _billable(emails: Sequence[Email]) -> list[uuid.UUID]:
    """The emails that take a unit of the quota: all but those whose every recipient was dropped at accept."""
    return [email.pk for email in emails if email.status != Email.Status.SUPPRESSED]


@dataclass
class BatchItemResult:
    email: Email | None = None
    errors: list[ErrorEntry] | None = None
    duplicate_of: uuid.UUID | None = None


def email_accept_batch(*, account: Account, items: list[Any]) -> list[BatchItemResult]:
    """Validate each email on its own; store the valid ones in one insert. Results keep the request's order."""
    now = timezone.now()
    versions: dict[int, TemplateVersion] = {}
    if any(names_template(item) for item in items):
        drafts, versions = _drafts_from_templates(account, items, now)
    else:
        drafts = [
            validate_email_body(item, base=["body", "emails", index], now=now) for index, item in enumerate(items)
        ]
    addresses = [a for draft, _ in drafts if draft for a in _recipients(draft)]
    policy = RecipientPolicy(account=account, addresses=addresses)
    ctx = AcceptContext(account)
    results: list[BatchItemResult] = []
    seen_client_ids: dict[str, int] = {}
    for index, (draft, errors) in enumerate(drafts):
        if draft is None:
            results.append(BatchItemResult(errors=errors))
            continue
        email, errors = _prepare(draft, ctx=ctx, loc=["body", "emails", index], now=now)
        if email is not None:
            _apply_policy(email, _recipients(draft), policy)
        client_id = email.client_email_id if email is not None else None
        if email is not None and client_id:
            if client_id in seen_client_ids:
                errors = [
                    error_entry(
                        ["body", "emails", index, "client_email_id"],
                        f"repeats item {seen_client_ids[client_id]} of this batch",
                        "value_error.duplicate",
                    )
                ]
                email = None
            else:
                seen_client_ids[client_id] = index
        if email is not None and index in versions:
            email.template_version = versions[index]
        results.append(BatchItemResult(email=email, errors=errors or None))
    _store_batch(account, results)
    return results


def _to_key(value: Any) -> str | None:
    try:
        return parse_address(value).key if isinstance(value, str) else None
    except AddressError:
        return None  # validation reports it


def _from_template(account: Account, data: Any) -> tuple[dict[str, Any], TemplateVersion]:
    """The body with the template rendered (for the contact at `to`, when there is one); raises 422."""
    sends = TemplateSends(account=account, channel="email")
    key = _to_key(data.get("to"))
    contact = sends.contacts_by_email([key]).get(key) if key else None
    return sends.fill(data, loc=["body"], contact=contact)


def _drafts_from_templates(
    account: Account, items: list[Any], now: datetime
) -> tuple[list[tuple[EmailDraft | None, list[ErrorEntry]]], dict[int, TemplateVersion]]:
    sends = TemplateSends(account=account, channel="email")
    keys = {index: _to_key(item.get("to")) for index, item in enumerate(items) if names_template(item)}
    found = sends.contacts_by_email(key for key in keys.values() if key)
    contacts = {index: found.get(key) for index, key in keys.items() if key}
    bodies, versions, errors = sends.fill_each(items, loc=["body", "emails"], contacts=contacts)
    drafts = [
        (None, errors[index]) if index in errors else validate_email_body(body, base=["body", "emails", index], now=now)
        for index, body in enumerate(bodies)
    ]
    return drafts, versions


def _store_batch(account: Account, results: list[BatchItemResult]) -> None:
    emails = [r.email for r in results if r.email is not None]
    if not emails:
        return
    with transaction.atomic():
        emails = _reserve_batch(account, results)
        # A unique constraint, not a read-then-write: rows whose client_email_id exists are skipped by the database.
        kept, holders = outbox_store_batch(
            emails,
            channel=email_channel,
            account_id=account.pk,
            client_id_field="client_email_id",
            timeline=suppressed_events,
            reserved=_billable(emails),
        )
    stored = {email.pk for email in kept}
    for result in results:
        if result.email is not None and result.email.pk not in stored:
            result.duplicate_of = holders.get(result.email.client_email_id)
            result.email = None


def _reserve_batch(account: Account, results: list[BatchItemResult]) -> list[Email]:
    """Quota units for as many of the batch's emails as it allows, in the request's order (402 when it allows
    none); those left out are rejected with an error saying so. Returns the emails to store."""
    granted = set(usage_reserve(account_id=account.pk, channel="email", message_ids=_billable(
        [r.email for r in results if r.email is not None]), partial=True))  # fmt: skip
    for index, result in enumerate(results):
        email = result.email
        if email is not None and email.status != Email.Status.SUPPRESSED and email.pk not in granted:
            result.email = None
            result.errors = [
                error_entry(
                    ["body", "emails", index],
                    f"not accepted: {QUOTA_SPENT}",
                    "value_error.quota_exceeded",
                )
            ]
    return [r.email for r in results if r.email is not None]
