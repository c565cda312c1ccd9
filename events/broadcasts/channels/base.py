"""What a broadcast needs from a channel: which contact column holds its address, which addresses it suppresses,
what its template and senders must be, how a batch of rendered messages enters its outbox and is taken back, what
"left the queue" means for its messages, and its rate. The lifecycle (services.py), the audience and the progress
are written once over this interface."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.db.models import Exists, Model, OuterRef, QuerySet

from accounts.models import AwsConnection
from config.api.errors import ErrorEntry, Loc, error_entry
from config.delivery.channels import channel_named
from config.delivery.outbox import OutboxStatus
from contacts.models import Contact
from contacts.selectors import ExclusionSql
from contacts.unsubscribe import preferences_url, unsubscribe_token, unsubscribe_url
from emails.templating import TemplateVersion
from events.broadcasts.models import Broadcast


@dataclass(frozen=True)
class Recipient:
    row_id: int
    contact: Contact


@dataclass
class Enqueued:
    """What became of a batch of recipients, by ledger row id."""

    stored: dict[int, Any] = field(default_factory=dict)  # the message now holding the contact's send
    failed: dict[int, str] = field(default_factory=dict)  # why its message could not be made (rendering, policy)
    excluded: dict[int, str] = field(default_factory=dict)  # why it cannot be reached any more (e.g. no device)


def client_id(broadcast: Broadcast, contact: Contact) -> str:
    """The client id of the broadcast's message to this contact, unique in the account: stored twice, it stores
    nothing the second time."""
    return f"broadcast:{broadcast.pk}:{contact.pk}"


def contact_token(broadcast: Broadcast, contact: Contact) -> str:
    """The contact's unsubscribe token for this broadcast (from its topic, or from everything)."""
    return unsubscribe_token(account_id=broadcast.account_id, contact_id=contact.pk, topic_id=broadcast.topic_id)


def sesame_variables(token: str) -> dict[str, str]:
    """What Sesame supplies to every broadcast template, which the broadcast's variables cannot override."""
    return {"unsubscribe_url": unsubscribe_url(token), "preferences_url": preferences_url(token)}


def not_applicable(loc: Loc, name: str, why: str) -> ErrorEntry:
    return error_entry([*loc, name], f"{why}; leave {name} out", "value_error.not_applicable")


class BroadcastChannel:
    name: ClassVar[str]
    label: ClassVar[str]  # "an email", "an SMS", "a push": how a message of the channel is named to a reader
    address_column: ClassVar[str | None]  # the contacts column a recipient must have (None: the channel checks)
    uses_connection: ClassVar[bool] = True  # sends through the broadcast's AWS connection (config_identifier)
    tracks_opens: ClassVar[bool] = False
    # Where the ledger's message_id points: a model and the column holding that id, and the statuses in which a
    # message has not left the queue yet.
    message_model: ClassVar[type[Model]]
    message_key: ClassVar[str] = "pk"
    admin_url: ClassVar[str]  # the admin page of the message a ledger row points at
    waiting: ClassVar[tuple[str, ...]] = (*OutboxStatus.WAITING, OutboxStatus.SENDING)

    def exclude_suppressed(self, exclusions: ExclusionSql, *, alias: str, account_id: Any) -> None:
        """Add to `exclusions` the channel's own: contacts rows `alias` it must not reach."""

    def problems(self, broadcast: Broadcast, version: TemplateVersion, loc: Loc) -> list[ErrorEntry]:
        """Why this broadcast cannot be sent as it stands (template, sender), as 422 entries."""
        raise NotImplementedError

    def enqueue(self, broadcast: Broadcast, recipients: Sequence[Recipient]) -> Enqueued:
        """Render and store one message per recipient in the caller's transaction."""
        raise NotImplementedError

    def withdraw(self, message_ids: Sequence[Any], reason: str) -> set[Any]:
        """Take back those of these messages no sender has claimed, in the caller's transaction; their ids."""
        raise NotImplementedError

    def connections(self, broadcast: Broadcast) -> list[AwsConnection]:
        """The AWS connections the broadcast's messages go through."""
        return [broadcast.connection] if broadcast.connection is not None else []

    def rate(self, broadcast: Broadcast) -> float:
        """Messages per second the broadcast's connections send on this channel now (the engine's own rates)."""
        engine = channel_named(self.name)
        return sum(engine.lane_state(connection).rate for connection in self.connections(broadcast))

    def still_waiting(self) -> QuerySet[Any]:
        """The messages of the ledger row `OuterRef` that have not left the queue."""
        key = {self.message_key: OuterRef("message_id"), "status__in": self.waiting}
        return self.message_model._default_manager.filter(**key)

    def left_queue(self) -> Any:
        """A filter for ledger rows whose message has left the queue."""
        return ~Exists(self.still_waiting())

    def outcome_sql(self) -> tuple[str, str, str, str]:
        """How progress reads the outcome of the ledger row `l`: a join to its message `m` (or ""), and SQL for its
        status, and for whether it was opened and clicked (NULL when not)."""
        table = self.message_model._meta.db_table
        return f"LEFT JOIN {table} AS m ON m.id = l.message_id", "m.status", "NULL", "NULL"
