from typing import Any

from rest_framework import serializers

from accounts.models import Account, ApiToken, AwsConnection, identifier_validator
from config.api.serializers import StrictSerializer


class AccountSerializer(serializers.ModelSerializer):
    plan: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    api_requests_per_minute = serializers.IntegerField(source="plan.api_requests_per_minute", read_only=True)

    class Meta:
        model = Account
        fields = (
            "id",
            "name",
            "status",
            "owner_email",
            "plan",
            "api_requests_per_minute",
            "aws_external_id",
            "created_at",
        )
        read_only_fields = fields


class ApiTokenSerializer(serializers.ModelSerializer):
    revoked = serializers.BooleanField(source="is_revoked", read_only=True)

    class Meta:
        model = ApiToken
        fields: tuple[str, ...] = (
            "id",
            "name",
            "prefix",
            "scopes",
            "created_at",
            "last_used_at",
            "revoked",
            "revoked_at",
        )
        read_only_fields = fields


class ApiTokenCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiToken.Scope.values), default=[ApiToken.Scope.FULL], min_length=1
    )


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The secret. Shown in this response only.")

    class Meta(ApiTokenSerializer.Meta):
        fields = (*ApiTokenSerializer.Meta.fields, "token")
        read_only_fields = fields


class AwsConnectionSerializer(serializers.ModelSerializer):
    credentials = serializers.SerializerMethodField()

    class Meta:
        model = AwsConnection
        fields = (
            "id",
            "identifier",
            "region",
            "role_arn",
            "access_key_id",
            "credentials",
            "is_default",
            "is_active",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    def get_credentials(self, connection: AwsConnection) -> str:
        return "role" if connection.uses_role else "access_key"


class AwsConnectionWriteSerializer(StrictSerializer):
    identifier = serializers.CharField(max_length=64, validators=[identifier_validator])
    region = serializers.RegexField(
        r"^[a-z]{2}(-gov)?-[a-z]+-\d$",
        max_length=32,
        error_messages={"invalid": "Not an AWS region name, e.g. us-east-1."},
    )
    role_arn = serializers.RegexField(
        r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$",
        required=False,
        allow_blank=True,
        error_messages={"invalid": "Not an IAM role ARN, e.g. arn:aws:iam::123456789012:role/Sesame."},
    )
    access_key_id = serializers.CharField(max_length=128, required=False, allow_blank=True)
    secret_access_key = serializers.CharField(
        required=False, allow_blank=True, write_only=True, style={"input_type": "password"}
    )
    is_default = serializers.BooleanField(required=False, default=False)
    is_active = serializers.BooleanField(required=False, default=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance: AwsConnection | None = self.instance
        role = attrs.get("role_arn", instance.role_arn if instance else "")
        key_id = attrs.get("access_key_id", instance.access_key_id if instance else "")
        secret = attrs.get("secret_access_key", instance.secret_access_key if instance else "")
        if role and (key_id or secret):
            raise serializers.ValidationError(
                {"role_arn": "Give either role_arn or access_key_id + secret_access_key, not both."}
            )
        if not role and not (key_id and secret):
            missing = "secret_access_key" if key_id else "access_key_id" if secret else "role_arn"
            raise serializers.ValidationError(
                {missing: "Give role_arn (recommended), or access_key_id with secret_access_key."}
            )
        return attrs
