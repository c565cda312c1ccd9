import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from contacts.fields import IdSetField


class Contact(models.Model):
    """One customer of an account, known by email and/or E.164 mobile (each unique in the account)."""

    class Status(models.TextChoices):
        SUBSCRIBED = "subscribed", "Subscribed"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Complained"

    # Every index below leads with account, so the FK's own index would only slow writes. No database constraint
    # either: a million-row import would queue a million identical FK checks (~5 s); the importer checks the
    # account once, and accounts are deleted through the ORM, which cascades.
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, db_index=False, db_constraint=False, related_name="contacts"
    )
    # NULL, not "", when absent: NULLs never collide in the unique constraints below.
    email = models.CharField(max_length=254, null=True, blank=True, help_text="Stored lower-cased.")
    mobile = models.CharField(max_length=16, null=True, blank=True, help_text="E.164, e.g. +442071838750.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SUBSCRIBED)
    full_name = models.CharField(max_length=200, blank=True)
    dob = models.DateField("date of birth", null=True, blank=True)
    gender = models.CharField(max_length=40, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=100, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    tag_ids = IdSetField(help_text="Ids of this account's Tag rows (GIN-indexed integer[] on PostgreSQL).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Partial: mobile-only (or email-only) contacts add nothing to the other key's index.
            models.UniqueConstraint(
                fields=["account", "email"], condition=Q(email__isnull=False), name="contact_unique_email"
            ),
            models.UniqueConstraint(
                fields=["account", "mobile"], condition=Q(mobile__isnull=False), name="contact_unique_mobile"
            ),
            models.CheckConstraint(
                condition=Q(email__isnull=False) | Q(mobile__isnull=False),
                name="contact_has_email_or_mobile",
                violation_error_message="A contact needs an email or a mobile number.",
            ),
        ]
        indexes = [
            # The contact list and every segment page: newest first within an account (the cursor's order).
            models.Index(fields=["account", "-created_at", "-id"], name="contact_account_created"),
            # Partial: contacts never seen (fresh imports) skip it, and last_seen filters only want seen ones.
            models.Index(
                fields=["account", "last_seen_at"],
                condition=Q(last_seen_at__isnull=False),
                name="contact_account_last_seen",
            ),
        ]
        # The GIN index on tag_ids is created by migration 0002 on PostgreSQL only.

    def __str__(self) -> str:
        return self.email or self.mobile or f"contact {self.pk}"


class Tag(models.Model):
    """A per-account label; `key` is the case-folded name, so "VIP" and "vip" are one tag."""

    # A 32-bit id: contacts hold tag ids in an integer[] column.
    id = models.AutoField(primary_key=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, db_index=False, related_name="tags")
    name = models.CharField(max_length=100, help_text="As first written.")
    key = models.CharField(max_length=100, editable=False)
    contact_count = models.PositiveIntegerField(default=0, help_text="Kept exact by every service that tags.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)
        constraints = [models.UniqueConstraint(fields=["account", "key"], name="tag_unique_key")]

    def __str__(self) -> str:
        return self.name


class ContactEvent(models.Model):
    """One entry of a contact's timeline. The table grows without bound, so it stays partitionable by
    `occurred_at`: no database foreign keys (a partitioned table's unique keys must include the partition key,
    and FK checks would slow every batch insert), and every index leads with a scope then `occurred_at`.
    contacts/PARTITIONING.md shows how to switch it to monthly range partitions."""

    class Source(models.TextChoices):
        API = "api", "API"
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"
        PUSH = "push", "Push"
        IMPORT = "import", "Import"
        WEB = "web", "Unsubscribe or preference page"
        ADMIN = "admin", "Operator console"
        FORM = "form", "Sign-up form"
        AUTOMATION = "automation", "Automation"

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="events"
    )
    name = models.CharField(max_length=100)
    properties = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.API)

    class Meta:
        indexes = [
            # One contact's timeline, newest first (also the timeline cursor's order).
            models.Index(fields=["contact", "-occurred_at", "-id"], name="contactevent_timeline"),
            # "Who did X since T" (segments): contact_id last, so the scan never visits the heap.
            models.Index(fields=["account", "name", "occurred_at", "contact"], name="contactevent_name_since"),
        ]

    def __str__(self) -> str:
        return f"{self.name} at {self.occurred_at:%Y-%m-%d %H:%M}"


class Segment(models.Model):
    """A saved contact filter: the query parameters of GET /v1/contacts, counted live."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, db_index=False, related_name="segments")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True)
    filters = models.JSONField(
        default=dict, help_text='Filter parameters, e.g. {"tags": ["vip"], "status": "subscribed"}.'
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="segment_unique_name")]
        indexes = [models.Index(fields=["account", "-created_at"], name="segment_account_created")]

    def __str__(self) -> str:
        return self.name


class ContactImport(models.Model):
    """A CSV import started from the admin; the worker reports progress here and keeps the error file."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Source(models.TextChoices):
        UPLOAD = "upload", "Uploaded in the admin"
        COMMAND = "command", "manage.py import_contacts"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="contact_imports")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.UPLOAD)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    filename = models.CharField(max_length=255)
    tags = models.JSONField(default=list, blank=True)
    update_existing = models.BooleanField(default=False)
    default_region = models.CharField(max_length=2, blank=True)
    encoding = models.CharField(
        max_length=40, blank=True, help_text="The file's encoding: as chosen on upload, else as detected when it ran."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    bytes_total = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    failure = models.TextField(blank=True, help_text="Why the whole import stopped, if it did.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set when a run is queued and while it makes progress: the sweep re-queues an import whose task was lost
    # (enqueued long ago, never started) or whose worker died (running, but no heartbeat for a while).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["account", "-created_at"], name="contactimport_account_created")]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.bytes_total:
            return 0
        # Reading the file is ~90% of the work; applying the staged rows is the rest.
        return min(99, int(90 * self.bytes_read / self.bytes_total))


class ContactImportBlob(models.Model):
    """The uploaded CSV and the error CSV, in 1 MB pieces: workers on other hosts read them from the database,
    never from a web server's disk."""

    class Kind(models.TextChoices):
        SOURCE = "source", "Uploaded file"
        ERRORS = "errors", "Error file"

    contact_import = models.ForeignKey(ContactImport, on_delete=models.CASCADE, related_name="blobs")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    seq = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact_import", "kind", "seq"], name="contactimportblob_unique_piece")
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.seq}"


class Topic(models.Model):
    """A kind of mail an account sends ("newsletter", "product updates"); contacts can opt out of each one.
    A broadcast targets one topic; its unsubscribe link opts the contact out of that topic only."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, db_index=False, related_name="topics")
    key = models.SlugField(max_length=64, help_text="Stable name for the API, e.g. newsletter.")
    name = models.CharField(max_length=100, help_text="What contacts see on the preference centre.")
    description = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)
        constraints = [models.UniqueConstraint(fields=["account", "key"], name="topic_unique_key")]

    def __str__(self) -> str:
        return self.name


class TopicOptOut(models.Model):
    """A contact who no longer wants one topic. Broadcasts to the topic skip the contact with an anti-join on
    (topic, contact), the unique key's index."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, db_index=False, related_name="+")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, db_index=False, related_name="opt_outs")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="topic_opt_outs")
    source = models.CharField(max_length=20, help_text="one_click, preferences, mailto, api or admin.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["topic", "contact"], name="topicoptout_unique")]

    def __str__(self) -> str:
        return f"{self.contact_id} out of {self.topic_id}"


# Colours are written into the pages' CSS, so nothing but #rrggbb may get in.
color_validator = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Give a colour as #rrggbb, e.g. #1f6feb.")


class PreferenceSettings(models.Model):
    """How an account's unsubscribe and preference pages look, and whether an unsubscribe also stops
    transactional email (by default it stops bulk sends only: receipts and passcodes still go out)."""

    account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, related_name="preference_settings")
    display_name = models.CharField(
        max_length=200, blank=True, help_text="Shown on the pages; the account's name if empty."
    )
    brand_color = models.CharField(
        max_length=7, default="#1f6feb", validators=[color_validator], help_text="Buttons and headings, as #rrggbb."
    )
    background_color = models.CharField(
        max_length=7, default="#f6f8fa", validators=[color_validator], help_text="Page background, as #rrggbb."
    )
    unsubscribe_stops_transactional = models.BooleanField(
        default=False, help_text="Unsubscribed contacts get no email at all, transactional included."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "preference settings"

    def __str__(self) -> str:
        return f"preferences of {self.account_id}"
