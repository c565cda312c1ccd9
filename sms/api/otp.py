from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import request_account
from accounts.scoping import AccountScopedMixin
from config.api.clients import client_ip
from config.api.schema import common_responses, unprocessable
from config.api.serializers import DetailSerializer
from sms import examples, services
from sms.api.messages import UUID_PATTERN
from sms.models import OtpVerification
from sms.serializers import OtpCheckResultSerializer, OtpCheckSchema, OtpCreateSchema, OtpSerializer

REFUSED = OpenApiResponse(
    DetailSerializer,
    description="A send limit (per number, account or client IP, per verification) or the resend cooldown; retry "
    "after `Retry-After` seconds.",
    examples=[
        OpenApiExample(
            "Cooldown", value={"detail": "A code was sent less than 30 seconds ago; wait before asking for another."}
        )
    ],
)


class OtpViewSet(AccountScopedMixin[OtpVerification], mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    scoped_model = OtpVerification
    serializer_class = OtpSerializer
    lookup_value_regex = UUID_PATTERN

    @extend_schema(
        summary="Send a one-time passcode",
        description="A new code by SMS (priority 1 on the engine) or email. Asking again for the same destination "
        "while its verification is pending sends a new code for it (at most 5 sends, 30 s apart). The code is never "
        "returned, logged or stored: only its keyed hash is.",
        request=OtpCreateSchema,
        responses={200: OtpSerializer, 422: unprocessable(), 429: REFUSED, **common_responses()},
        examples=[
            OpenApiExample("By SMS", value=examples.OTP_REQUEST, request_only=True),
            OpenApiExample("Sent", value=examples.OTP, response_only=True),
        ],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            verification = services.otp_create(
                account=request_account(request), data=request.data, client_ip=client_ip(request)
            )
        except services.OtpRefused as refused:
            return Response({"detail": refused.detail}, status=429, headers={"Retry-After": str(refused.retry_after)})
        return Response(OtpSerializer(verification).data)

    @extend_schema(
        summary="One verification (never its code)",
        responses={200: OtpSerializer},
        examples=[OpenApiExample("Pending", value=examples.OTP, response_only=True)],
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        summary="Check a code",
        description="`approved` once (a second use answers 409), `pending` after a wrong code, `expired` after 10 "
        "minutes, `failed` after 5 checks.",
        request=OtpCheckSchema,
        responses={
            200: OtpCheckResultSerializer,
            409: OpenApiResponse(
                DetailSerializer,
                description="Already approved: a code is single use.",
                examples=[
                    OpenApiExample(
                        "Used", value={"detail": "This code was already used: a verification is approved once only."}
                    )
                ],
            ),
            422: unprocessable(),
            **common_responses(with_not_found=True),
        },
        examples=[
            OpenApiExample("Code", value={"code": "123456"}, request_only=True),
            OpenApiExample("Approved", value={"id": examples.OTP_ID, "status": "approved"}, response_only=True),
        ],
    )
    @action(detail=True, methods=["post"])
    def check(self, request: Request, pk: str | None = None) -> Response:
        try:
            verification = services.otp_check(verification=self.get_object(), data=request.data)
        except services.OtpAlreadyUsed as used:
            return Response({"detail": str(used)}, status=status.HTTP_409_CONFLICT)
        return Response({"id": str(verification.pk), "status": verification.status})
