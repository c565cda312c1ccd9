from rest_framework import serializers

from config.api.serializers import StrictSerializer
from events.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from events.services.outbound import EVENT_TYPES


class WebhookEndpointSerializer(serializers.ModelSerializer):
    status = serializers.CharField(
        read_only=True,
        help_text="active; paused (is_active set to false by you); or disabled (by Sesame, after failing for "
        "SESAME_WEBHOOK_DISABLE_AFTER_HOURS: see disabled_reason). PATCH is_active=true resumes a disabled endpoint.",
    )
    consecutive_failures = serializers.IntegerField(
        read_only=True, help_text="Failed attempts in a row; 0 once a delivery succeeds."
    )
    retry_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="While failing, the endpoint is backed off: no attempt before this."
    )
    deliveries_dropped = serializers.IntegerField(
        read_only=True,
        help_text="Deliveries dropped, oldest first, because the account had more than SESAME_WEBHOOK_MAX_PENDING "
        "waiting (see last_dropped_at).",
    )

    class Meta:
        model = WebhookEndpoint
        fields: tuple[str, ...] = (
            "id",
            "url",
            "event_types",
            "description",
            "is_active",
            "status",
            "disabled_at",
            "disabled_reason",
            "consecutive_failures",
            "failing_since",
            "retry_at",
            "last_error",
            "last_success_at",
            "deliveries_dropped",
            "last_dropped_at",
            "secret_prefix",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="The signing secret. Shown in this response only.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = (*WebhookEndpointSerializer.Meta.fields, "secret")
        read_only_fields = fields


class WebhookEndpointWriteSerializer(StrictSerializer):
    url = serializers.URLField(max_length=2000, help_text="An https:// URL on the public internet.")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        min_length=1,
        help_text='Which events to receive; ["*"] for all, including types Sesame does not know yet.',
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(
        required=False, help_text="false pauses the endpoint; true resumes it, also after Sesame disabled it."
    )

    def validate_url(self, value: str) -> str:
        from events.services.outbound import EndpointRefused, webhook_url_check

        try:
            webhook_url_check(value)
        except EndpointRefused as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ("attempted_at", "status_code", "duration_ms", "error")
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)
    status = serializers.CharField(
        read_only=True,
        help_text="pending; delivered; failed (gave up after SESAME_WEBHOOK_RETRY_HOURS); or dropped (the account "
        "had more than SESAME_WEBHOOK_MAX_PENDING deliveries waiting, and this was among the oldest).",
    )

    class Meta:
        model = WebhookDelivery
        fields = (
            "id",
            "event_type",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "created_at",
            "payload",
            "attempt_log",
        )
        read_only_fields = fields


class HealthCheckSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=["ok", "warning", "failed", "info"])
    detail = serializers.CharField()


class DnsRecordSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    value = serializers.CharField(help_text="What to publish.")
    purpose = serializers.ChoiceField(choices=["DKIM", "SPF", "DMARC"])
    published = serializers.BooleanField(allow_null=True, help_text="null: the DNS lookup itself failed.")
    detail = serializers.CharField()


class IdentityHealthSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    records = DnsRecordSerializer(many=True)


class ProvisioningStepSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.CharField()
    detail = serializers.CharField()
    permission = serializers.CharField(help_text="The IAM action AWS refused, or empty.")


class ConnectionHealthSerializer(serializers.Serializer):
    connection_id = serializers.UUIDField()
    identifier = serializers.CharField()
    region = serializers.CharField()
    aws_mode = serializers.CharField()
    checks = HealthCheckSerializer(
        many=True, help_text="SES account (sandbox or production), SMS sandbox, configuration set, SNS subscription."
    )
    identities = IdentityHealthSerializer(many=True)
    provisioning = ProvisioningStepSerializer(many=True, help_text="The last provision_connection run.")
    provisioned_at = serializers.DateTimeField(allow_null=True)
    permissions_failed = serializers.ListField(child=serializers.CharField())
