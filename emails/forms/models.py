import secrets
import uuid

from django.conf import settings
from django.db import models


def new_form_key() -> str:
    """The public name of a form in its script tag: unguessable, so forms cannot be enumerated."""
    return secrets.token_urlsafe(12)


class SignupForm(models.Model):
    """An account's sign-up form: what it asks, where it may be embedded, how it looks, and what a confirmed
    sign-up does to the contact (tags, topic)."""

    class Mode(models.TextChoices):
        POPUP = "popup", "Popup"
        INLINE = "inline", "Inline"

    class Trigger(models.TextChoices):
        DELAY = "delay", "After a delay"
        EXIT_INTENT = "exit_intent", "On exit intent"
        SCROLL = "scroll", "After scrolling"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="signup_forms")
    key = models.CharField(max_length=32, unique=True, default=new_form_key, editable=False)
    name = models.CharField(max_length=100, help_text="For you; visitors never see it.")
    is_active = models.BooleanField(default=True, help_text="An inactive form's script shows nothing.")
    sender = models.CharField(
        max_length=320,
        help_text="From address of the confirmation email: a verified identity, e.g. Acme <hi@acme.test>.",
    )
    config_identifier = models.CharField(
        max_length=64, blank=True, help_text="AWS connection that sends the confirmation; the default if empty."
    )
    ask_name = models.BooleanField(default=False)
    require_name = models.BooleanField(default=False)
    custom_fields = models.JSONField(
        default=list,
        blank=True,
        help_text='Extra questions: [{"key": "company", "label": "Company", "required": false}].',
    )
    consent_text = models.TextField(
        blank=True, help_text="Shown beside a checkbox the visitor must tick; recorded with the confirmation."
    )
    tags = models.JSONField(default=list, blank=True, help_text="Tags a confirmed contact gets.")
    topic = models.ForeignKey(
        "contacts.Topic",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="A confirmed contact is subscribed to it (an earlier opt-out of it is taken back).",
    )
    allowed_origins = models.JSONField(
        default=list, help_text="Sites that may post to the form: https://www.acme.test, or https://*.acme.test."
    )
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.POPUP)
    trigger = models.CharField(max_length=12, choices=Trigger.choices, default=Trigger.DELAY)
    delay_seconds = models.PositiveIntegerField(default=5)
    scroll_percent = models.PositiveSmallIntegerField(default=50)
    appearance = models.JSONField(
        default=dict, blank=True, help_text="Colours (#rrggbb) and texts; see the API's SignupFormAppearance."
    )
    proof_of_work_bits = models.PositiveSmallIntegerField(
        default=0, help_text="0: off. Otherwise the script must find a hash with this many leading zero bits."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "sign-up form"
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["account", "-created_at"], name="signupform_account_newest")]

    def __str__(self) -> str:
        return self.name

    # Public addresses come from SESAME_PUBLIC_URL, never from a request's Host header, which a caller chooses.
    @property
    def script_url(self) -> str:
        return f"{settings.SESAME_PUBLIC_URL}/f/{self.key}.js"

    @property
    def endpoint_url(self) -> str:
        return f"{settings.SESAME_PUBLIC_URL}/f/{self.key}"

    @property
    def embed_snippet(self) -> str:
        """What the account pastes into its pages (an inline form appears where it is pasted)."""
        return f'<script src="{self.script_url}" async></script>'


class SignupRequest(models.Model):
    """One sign-up waiting for its address to confirm. No contact exists until it does; the visitor's answers
    wait here, with the consent text they saw."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    form = models.ForeignKey(SignupForm, on_delete=models.CASCADE, related_name="requests")
    email = models.CharField(
        max_length=320, help_text="Lower-cased; erased (empty) once the link expired unconfirmed, like the answers."
    )
    full_name = models.CharField(max_length=200, blank=True)
    answers = models.JSONField(default=dict, blank=True, help_text="The custom fields' answers.")
    consent_text = models.TextField(blank=True, help_text="The consent text as the visitor saw it.")
    origin = models.CharField(max_length=300)
    requested_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmation_email = models.ForeignKey(
        "emails.Email", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_ip = models.GenericIPAddressField(null=True, blank=True)
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.SET_NULL, null=True, blank=True, db_constraint=False, related_name="+"
    )

    class Meta:
        verbose_name = "sign-up"
        ordering = ("-created_at",)
        indexes = [
            models.Index(fields=["form", "-created_at"], name="signuprequest_form_newest"),
            # The hourly erasure of expired, unconfirmed sign-ups reads only those still holding an address.
            models.Index(
                fields=["created_at"],
                condition=models.Q(confirmed_at__isnull=True) & ~models.Q(email=""),
                name="signuprequest_unconfirmed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({'confirmed' if self.confirmed_at else 'pending'})"
