"""The account's SMS set-up: sandbox numbers, opt-outs and settings (countries, spend limit, passcodes)."""

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import request_account
from accounts.scoping import AccountScopedMixin
from accounts.selectors import aws_connection_for_account
from config.api.errors import UnprocessableEntity, error_entry
from config.api.schema import common_responses, unprocessable
from sms import examples, services
from sms.filters import SmsOptOutFilter, SmsSandboxNumberFilter
from sms.models import SmsOptOut, SmsSandboxNumber
from sms.serializers import (
    SmsOptOutCreateSerializer,
    SmsOptOutSerializer,
    SmsPolicySerializer,
    SmsPolicyUpdateSerializer,
    SmsSandboxNumberCreateSerializer,
    SmsSandboxNumberSerializer,
    SmsSandboxVerifySerializer,
)
from sms.services.policy import month_of, sms_spend_month


@extend_schema_view(
    list=extend_schema(
        summary="SMS sandbox numbers",
        examples=[OpenApiExample("Page", value=[examples.SANDBOX_NUMBER], response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One sandbox number",
        examples=[OpenApiExample("Number", value=examples.SANDBOX_NUMBER, response_only=True)],
    ),
)
class SmsSandboxNumberViewSet(
    AccountScopedMixin[SmsSandboxNumber], mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    scoped_model = SmsSandboxNumber
    serializer_class = SmsSandboxNumberSerializer
    filterset_class = SmsSandboxNumberFilter

    def scoped_queryset(self, queryset: QuerySet[SmsSandboxNumber]) -> QuerySet[SmsSandboxNumber]:
        return queryset.select_related("connection")

    @extend_schema(
        summary="Add a number to the SNS SMS sandbox",
        description="CreateSMSSandboxPhoneNumber: SNS texts the number a code; verify it with .../verify. Only "
        "needed while the connection's SNS account is in the SMS sandbox.",
        request=SmsSandboxNumberCreateSerializer,
        responses={200: SmsSandboxNumberSerializer, 422: unprocessable(), **common_responses()},
        examples=[
            OpenApiExample("Add", value={"phone_number": "+14254147755"}, request_only=True),
            OpenApiExample(
                "Pending",
                value={**examples.SANDBOX_NUMBER, "status": "pending", "verified_at": None},
                response_only=True,
            ),
        ],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = SmsSandboxNumberCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = request_account(request)
        identifier = serializer.validated_data.get("config_identifier")
        connection = aws_connection_for_account(account=account, identifier=identifier)
        if connection is None:
            raise UnprocessableEntity(
                [error_entry(["body", "config_identifier"], "no such AWS connection (and no default)", "unknown")]
            )
        number = services.sandbox_number_add(
            account=account, connection=connection, phone_number=serializer.validated_data["phone_number"]
        )
        return Response(SmsSandboxNumberSerializer(number).data)

    @extend_schema(
        summary="Verify a sandbox number",
        description="VerifySMSSandboxPhoneNumber with the code SNS texted to it.",
        request=SmsSandboxVerifySerializer,
        responses={200: SmsSandboxNumberSerializer, 422: unprocessable(), **common_responses(with_not_found=True)},
        examples=[
            OpenApiExample("Verify", value={"code": "123456"}, request_only=True),
            OpenApiExample("Verified", value=examples.SANDBOX_NUMBER, response_only=True),
        ],
    )
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, pk: str | None = None) -> Response:
        number = self.get_object()
        serializer = SmsSandboxVerifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        number = services.sandbox_number_verify(number=number, code=serializer.validated_data["code"])
        return Response(SmsSandboxNumberSerializer(number).data)


@extend_schema_view(
    list=extend_schema(
        summary="SMS opt-outs", examples=[OpenApiExample("Page", value=[examples.OPT_OUT], response_only=True)]
    ),
    retrieve=extend_schema(
        summary="One opt-out", examples=[OpenApiExample("Opt-out", value=examples.OPT_OUT, response_only=True)]
    ),
    destroy=extend_schema(summary="Text this number again"),
)
class SmsOptOutViewSet(
    AccountScopedMixin[SmsOptOut],
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Numbers never texted: synced from SNS's opted-out list, reported by delivery status, or added by you."""

    scoped_model = SmsOptOut
    serializer_class = SmsOptOutSerializer
    filterset_class = SmsOptOutFilter

    @extend_schema(
        summary="Suppress a number",
        request=SmsOptOutCreateSerializer,
        responses={200: SmsOptOutSerializer, 422: unprocessable(), **common_responses()},
        examples=[
            OpenApiExample("Suppress", value={"phone_number": "+14254147156"}, request_only=True),
            OpenApiExample("Suppressed", value={**examples.OPT_OUT, "source": "manual"}, response_only=True),
        ],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = SmsOptOutCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        opt_out = services.sms_opt_out_add(
            account=request_account(request), phone_number=serializer.validated_data["phone_number"]
        )
        return Response(SmsOptOutSerializer(opt_out).data)

    def perform_destroy(self, instance: SmsOptOut) -> None:
        services.sms_opt_out_remove(opt_out=instance)


class SmsSettingsApi(APIView):
    """GET / PATCH /v1/sms/settings: the account's SMS and passcode rules."""

    def _answer(self, request: Request) -> Response:
        account = request_account(request)
        policy = services.sms_policy_for(account=account)
        spent = sms_spend_month(account_id=account.pk, month=month_of(timezone.now()))
        return Response(SmsPolicySerializer(policy, context={"spent": spent}).data)

    @extend_schema(
        summary="Your SMS settings",
        responses={200: SmsPolicySerializer, **common_responses()},
        examples=[OpenApiExample("Settings", value=examples.SETTINGS, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        return self._answer(request)

    @extend_schema(
        summary="Change your SMS settings",
        request=SmsPolicyUpdateSerializer,
        responses={200: SmsPolicySerializer, 422: unprocessable(), **common_responses()},
        examples=[
            OpenApiExample(
                "Countries and limit",
                value={"allowed_countries": ["US", "CA"], "monthly_spend_limit_usd": "250.00"},
                request_only=True,
            ),
            OpenApiExample("Settings", value=examples.SETTINGS, response_only=True),
        ],
    )
    def patch(self, request: Request) -> Response:
        serializer = SmsPolicyUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.sms_policy_update(account=request_account(request), **serializer.validated_data)
        return self._answer(request)
