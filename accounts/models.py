import secrets
import uuid
from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from accounts.fields import EncryptedTextField


def generate_external_id() -> str:
    digits = "".join(secrets.choice("0123456789") for _ in range(12))
    return f"{digits[:4]}-{digits[4:8]}-{digits[8:]}"


class TenantStateQuerySet(models.QuerySet[Any]):
    """Bulk updates of rows the API's tenant cache holds invalidate it for the accounts they touch
    (accounts/tenant_cache.py; saves and deletes do so through signals). Fields nothing cached depends on are
    listed in `untracked`, so routine bookkeeping does not empty caches."""

    account_field = "account_id"
    untracked: frozenset[str] = frozenset()

    def update(self, **kwargs: Any) -> int:
        if set(kwargs) <= self.untracked:
            return super().update(**kwargs)
        from accounts.tenant_cache import tenant_changed

        account_ids = set(self.values_list(self.account_field, flat=True))
        count = super().update(**kwargs)
        tenant_changed(*account_ids)
        return count


class AccountQuerySet(TenantStateQuerySet):
    account_field = "pk"


class ApiTokenQuerySet(TenantStateQuerySet):
    untracked = frozenset({"last_used_at"})


class AwsConnectionQuerySet(TenantStateQuerySet):
    # Sending state the engine and monitors keep up to date; accepting an email reads none of it.
    untracked = frozenset(
        {"sending_held_until", "send_rate_factor", "updated_at", "max_send_rate", "max_24_hour_send",
         "send_quota_refreshed_at"}
    )  # fmt: skip


class Account(models.Model):
    """The tenant. Every customer-owned row points here, and every API read is scoped by it."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    owner_email = models.EmailField(blank=True)
    plan = models.ForeignKey("billing.Plan", on_delete=models.PROTECT, related_name="accounts")
    # What customers paste into their IAM role's trust policy; unique so a role can trust exactly one tenant.
    aws_external_id = models.CharField(
        "AWS external id", max_length=14, unique=True, default=generate_external_id, editable=False
    )
    members: "models.ManyToManyField[Any, Any]" = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="accounts"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ("name",)
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "user"], name="membership_unique_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.account} ({self.role})"


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; the prefix lets people recognise it in lists."""

    class Scope(models.TextChoices):
        FULL = "full", "Full access"
        CONTACTS = "contacts", "Contacts only (contact upload key)"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The first characters of the token, for recognition.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list, help_text="Any of: full, contacts.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["account", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def allows(self, scope: str) -> bool:
        return self.Scope.FULL in self.scopes or scope in self.scopes


identifier_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
    "Use 1-64 letters, digits, dots, dashes or underscores, starting with a letter or digit.",
)


class AwsConnection(models.Model):
    """What Pendable calls an SES config: how Sesame reaches one customer's SES in one region."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="aws_connections")
    identifier = models.CharField(
        max_length=64,
        validators=[identifier_validator],
        help_text="The name API calls pass as config_identifier.",
    )
    region = models.CharField(max_length=32, default="us-east-1")
    role_arn = models.CharField(
        "IAM role ARN",
        max_length=255,
        blank=True,
        validators=[RegexValidator(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$", "Not an IAM role ARN.")],
    )
    access_key_id = models.CharField(max_length=128, blank=True)
    secret_access_key = EncryptedTextField(blank=True)
    is_default = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    # Sending rate: SES's own limit (GetSendQuota, refreshed periodically), an operator override, and the
    # factor reputation protection applies (1 = full speed, 0 = paused).
    max_send_rate = models.FloatField(default=1.0, help_text="Recipients per second SES allows (GetSendQuota).")
    max_24_hour_send = models.FloatField(default=200.0, help_text="SES's rolling 24-hour recipient quota.")
    send_quota_refreshed_at = models.DateTimeField(null=True, blank=True)
    send_rate_override = models.FloatField(
        null=True, blank=True, help_text="Recipients per second to use instead of SES's max send rate."
    )
    send_rate_factor = models.FloatField(
        default=1.0, help_text="Set by reputation protection: 1 = full speed, below 1 = throttled, 0 = paused."
    )
    sending_held_until = models.DateTimeField(
        null=True, blank=True, help_text="SES's daily quota is spent: nothing is sent before this time."
    )

    # Event plumbing provisioned in the customer's AWS account.
    configuration_set_name = models.CharField(max_length=64, blank=True)
    sns_topic_arn = models.CharField("SNS topic ARN", max_length=255, blank=True)
    provisioned_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AwsConnectionQuerySet.as_manager()

    class Meta:
        ordering = ("account_id", "identifier")  # not "account": that would join accounts to order by name
        constraints = [
            models.UniqueConstraint(fields=["account", "identifier"], name="aws_connection_unique_identifier"),
            models.UniqueConstraint(
                fields=["account"], condition=Q(is_default=True), name="aws_connection_one_default_per_account"
            ),
            models.CheckConstraint(
                condition=(~Q(role_arn="") & Q(access_key_id="") & Q(secret_access_key=""))
                | (Q(role_arn="") & ~Q(access_key_id="") & ~Q(secret_access_key="")),
                name="aws_connection_role_xor_keys",
                violation_error_message="Give either an IAM role ARN, or an access key id with its secret.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.identifier} ({self.region})"

    @property
    def uses_role(self) -> bool:
        return bool(self.role_arn)

    @property
    def effective_send_rate(self) -> float:
        """Recipients per second the dispatcher may send on this connection right now."""
        base = self.send_rate_override if self.send_rate_override is not None else self.max_send_rate
        return max(0.0, base * self.send_rate_factor)

    @property
    def configuration_set(self) -> str:
        return self.configuration_set_name or f"sesame-{str(self.pk)[:8]}"
