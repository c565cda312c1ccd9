"""Automations: a trigger enrols contacts into runs that walk a versioned list of steps."""

import uuid

from django.db import models
from django.db.models import Q

DEFAULT_PRIORITY = 60  # after transactional mail (50), before broadcasts (80)


class Automation(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"

    class Trigger(models.TextChoices):
        TAG_ADDED = "tag_added", "A tag is added"
        TAG_REMOVED = "tag_removed", "A tag is removed"
        EVENT = "event", "An event happens"
        CONTACT_CREATED = "contact_created", "A contact is created"
        SEGMENT_ENTERED = "segment_entered", "A contact enters a segment"

    class Reentry(models.TextChoices):
        ONCE = "once", "Once per contact, ever"
        EVERY_TRIGGER = "every_trigger", "Again after each trigger"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="automations")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    # The trigger's subject, by kind: a tag, an event name (with property conditions), a saved segment.
    trigger_tag = models.ForeignKey("contacts.Tag", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    trigger_event = models.CharField(max_length=100, blank=True)
    trigger_conditions = models.JSONField(
        default=list, blank=True, help_text='Event property tests, e.g. [{"property": "product", "op": "eq", ...}].'
    )
    trigger_segment = models.ForeignKey(
        "contacts.Segment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reentry = models.CharField(max_length=20, choices=Reentry.choices, default=Reentry.ONCE)
    reentry_min_gap_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="With every_trigger: at least this long between two enrolments."
    )
    priority = models.PositiveSmallIntegerField(default=DEFAULT_PRIORITY)
    version = models.ForeignKey(
        "events.AutomationVersion",
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        help_text="The version new runs start on.",
    )
    # Segment triggers: members are compared with the last look (AutomationSegmentMember); the first look after
    # activation only records who is in already (they did not *enter*).
    segment_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["account", "status"], name="automation_account_status")]

    def __str__(self) -> str:
        return self.name


class AutomationVersion(models.Model):
    """The steps (and goal) of an automation as they were at one edit; runs keep the version they started on."""

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    steps = models.JSONField(default=list)
    goal_event = models.CharField(max_length=100, blank=True, help_text="An event of this name ends a run early.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("automation", "-number")
        constraints = [models.UniqueConstraint(fields=["automation", "number"], name="automationversion_unique_number")]

    def __str__(self) -> str:
        return f"{self.automation} v{self.number}"


class AutomationEntry(models.Model):
    """The enrolment gate of one contact in one automation: written in the same statement that decides whether a
    trigger enrols, so concurrent triggers queue on this row and the re-entry rule is judged once per trigger."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+", db_index=False)
    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="+", db_index=False)
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    entries = models.PositiveIntegerField(default=1)
    last_entered_at = models.DateTimeField()
    in_run = models.BooleanField(default=True, help_text="A run of this contact is in flight.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["automation", "contact"], name="automationentry_unique_contact")]

    def __str__(self) -> str:
        return f"contact {self.contact_id} in {self.automation_id}"


class AutomationRun(models.Model):
    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"  # due_at says when its next step runs
        PAUSED = "paused", "Paused"  # held by an operator; resuming makes it waiting again
        COMPLETED = "completed", "Completed"  # walked off the end, or an exit step
        CONVERTED = "converted", "Reached the goal"
        EXITED = "exited", "Exited by an operator"
        FAILED = "failed", "Failed"

    LIVE = (Status.WAITING, Status.PAUSED)

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+", db_index=False)
    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="runs", db_index=False)
    version = models.ForeignKey(AutomationVersion, on_delete=models.CASCADE, related_name="runs")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+", db_index=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    step_id = models.CharField(max_length=20, blank=True, help_text="The next step to run; empty at the end.")
    # A wait's end, kept by the step so a retry after a crash waits for the same moment.
    wait_until = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    trigger_detail = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Failed tries of the current step.")
    last_error = models.TextField(blank=True)
    enrolled_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ("-enrolled_at", "-id")
        constraints = [
            # A contact is in at most one run of an automation at a time (backstop of AutomationEntry.in_run).
            models.UniqueConstraint(
                fields=["automation", "contact"],
                condition=Q(status__in=["waiting", "paused"]),
                name="automationrun_one_live_per_contact",
            ),
        ]
        indexes = [
            # The release: the due runs of each account, oldest first.
            models.Index(fields=["account", "due_at"], condition=Q(status="waiting"), name="automationrun_waiting_due"),
            models.Index(fields=["automation", "-enrolled_at"], name="automationrun_newest"),
            models.Index(fields=["contact", "-enrolled_at"], name="automationrun_contact"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.automation_id}"


class AutomationRunStep(models.Model):
    """One step a run took: what it was and what it did. Written with the step's effect, in one transaction."""

    class Outcome(models.TextChoices):
        ENTERED = "entered", "Entered"
        WAITING = "waiting", "Waiting"
        WAITED = "waited", "Waited"
        YES = "yes", "Condition: yes"
        NO = "no", "Condition: no"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Not sent"
        TAGGED = "tagged", "Tag changed"
        EXITED = "exited", "Exited"
        FAILED = "failed", "Failed"

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+", db_index=False)
    run = models.ForeignKey(AutomationRun, on_delete=models.CASCADE, related_name="steps")
    step_id = models.CharField(max_length=20)
    kind = models.CharField(max_length=20)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    detail = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ("run", "occurred_at", "id")

    def __str__(self) -> str:
        return f"{self.step_id} {self.outcome}"


class AutomationSegmentMember(models.Model):
    """Who was in a segment-triggered automation's segment at the last look."""

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="+", db_index=False)
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+", db_constraint=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["automation", "contact"], name="automationsegmentmember_unique")]

    def __str__(self) -> str:
        return f"contact {self.contact_id} in the segment of {self.automation_id}"
