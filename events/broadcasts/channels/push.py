"""Push broadcasts: one push per contact, as `POST /v1/push` to a contact makes, reaching each of its enabled devices
(one delivery per device, through the AWS connection of the device's app). The ledger keeps one row per contact,
pointing at the contact's push; the contact counts as sent once one of its devices got it."""

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet

from accounts.models import AwsConnection
from config.api.errors import ErrorEntry, Loc, error_entry
from contacts.selectors import ExclusionSql
from emails.templating import TemplateVersion
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
from push import payloads
from push.models import PushApp, PushDelivery, PushDevice
from push.services import BulkPush, BulkPushSender, pushes_enqueue_bulk, pushes_withdraw
from push.services.content import push_content_render

# What a broadcast push carries besides its rendered title, body and data: the push API's defaults.
BASE_CONTENT = payloads.PushContent(
    title="", body="", data={}, badge=None, sound="", ttl_seconds=None, collapse_key="", urgency="high"
)
_UNSENT = ("scheduled", "queued", "sending", "held")


class PushBroadcastChannel(BroadcastChannel):
    name = "push"
    label = "a push"
    address_column = None  # a contact is reached through its devices
    uses_connection = False
    message_model = PushDelivery
    message_key = "message_id"
    admin_url = "admin:push_pushmessage_change"
    waiting = _UNSENT  # a held delivery (its app paused) still waits to be sent

    def exclude_suppressed(self, exclusions: ExclusionSql, *, alias: str, account_id: Any) -> None:
        table = PushDevice._meta.db_table
        exclusions.join(
            f"LEFT JOIN (SELECT DISTINCT contact_id FROM {table} WHERE account_id = %s AND enabled) AS x_dev "  # noqa: S608
            f"ON x_dev.contact_id = {alias}.id",
            [account_id],
            "x_dev.contact_id IS NULL",
            "'no_device'",
        )

    def problems(self, broadcast: Broadcast, version: TemplateVersion, loc: Loc) -> list[ErrorEntry]:
        errors = []
        if broadcast.from_address:
            errors.append(not_applicable(loc, "from", "a push comes from the app its device registered with"))
        if broadcast.reply_to:
            errors.append(not_applicable(loc, "reply_to", "a push cannot be answered"))
        if broadcast.connection_id is not None:
            errors.append(
                not_applicable(
                    loc, "config_identifier", "a push goes out through the AWS connection of its device's app"
                )
            )
        reserved = payloads.reserved_data_keys(version.data)
        if reserved:
            errors.append(
                error_entry(
                    [*loc, "template"],
                    f"the template's data uses {', '.join(reserved)}, reserved by APNs or FCM; rename those keys",
                    "value_error.reserved",
                )
            )
        return errors

    def enqueue(self, broadcast: Broadcast, recipients: Sequence[Recipient]) -> Enqueued:
        version = broadcast.template_version
        assert version is not None  # set when the broadcast started
        done = Enqueued()
        items: dict[int, BulkPush] = {}
        for recipient in recipients:
            contact = recipient.contact
            fields, problem = push_content_render(
                version=version,
                variables=broadcast.variables,
                contact=contact,
                base=BASE_CONTENT,
                extra=sesame_variables(contact_token(broadcast, contact)),
            )
            if fields is None:
                done.failed[recipient.row_id] = str(problem)[:200]
                continue
            items[recipient.row_id] = BulkPush(client_push_id=client_id(broadcast, contact), contact=contact, **fields)
        sender = BulkPushSender(
            account=broadcast.account, priority=broadcast.priority, tags=broadcast.tags, template_version=version
        )
        stored = pushes_enqueue_bulk(sender=sender, items=list(items.values()))
        for row_id, item in items.items():
            message_id = stored[item.client_push_id]
            if message_id is None:  # its devices were disabled or removed since the broadcast started
                done.excluded[row_id] = "no_device"
            else:
                done.stored[row_id] = message_id
        return done

    def withdraw(self, message_ids: Sequence[Any], reason: str) -> set[Any]:
        return pushes_withdraw(message_ids=message_ids, reason=reason)

    def connections(self, broadcast: Broadcast) -> list[AwsConnection]:
        apps: QuerySet[PushApp] = PushApp.objects.filter(account_id=broadcast.account_id)
        return list(AwsConnection.objects.filter(pk__in=apps.values("connection_id")))

    def outcome_sql(self) -> tuple[str, str, str, str]:
        # A contact's push is to send while one of its deliveries is; sent once one device got it; failed when all
        # that were tried failed; cancelled otherwise.
        deliveries, unsent = PushDelivery._meta.db_table, ", ".join(f"'{status}'" for status in _UNSENT)
        status = f"""(
            SELECT CASE
                WHEN count(*) = 0 THEN NULL
                WHEN sum(CASE WHEN d.status IN ({unsent}) THEN 1 ELSE 0 END) > 0 THEN 'queued'
                WHEN sum(CASE WHEN d.status = 'sent' THEN 1 ELSE 0 END) > 0 THEN 'sent'
                WHEN sum(CASE WHEN d.status = 'failed' THEN 1 ELSE 0 END) > 0 THEN 'failed'
                ELSE 'cancelled' END
            FROM {deliveries} AS d WHERE d.message_id = l.message_id
        )"""  # noqa: S608 (table and status names from the code)
        return "", status, "NULL", "NULL"
