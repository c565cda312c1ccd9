from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import AwsConnection
from accounts.permissions import request_account
from accounts.scoping import AccountScopedMixin
from config.api.errors import UnprocessableEntity, error_entry
from config.api.pagination import CreatedCursorPagination
from config.api.schema import common_responses, unprocessable
from events import selectors, services
from events.models import WebhookEndpoint
from events.serializers import (
    ConnectionHealthSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWriteSerializer,
)
from events.services.health import connection_health
from events.services.outbound import EndpointLimitReached, EndpointRefused

ENDPOINT_EXAMPLE = {
    "id": "7d1f2c3b-4a5e-4f60-8b9a-0c1d2e3f4a5b",
    "url": "https://hooks.acme.test/sesame",
    "event_types": ["bounce", "complaint", "delivery"],
    "description": "Bounce handling in the CRM",
    "is_active": True,
    "status": "active",
    "disabled_at": None,
    "disabled_reason": "",
    "consecutive_failures": 0,
    "failing_since": None,
    "retry_at": None,
    "last_error": "",
    "last_success_at": "2026-11-22T10:09:59Z",
    "deliveries_dropped": 0,
    "last_dropped_at": None,
    "secret_prefix": "whsec_Qm3x",
    "created_at": "2026-11-22T10:00:00Z",
    "updated_at": "2026-11-22T10:00:00Z",
}
DISABLED_EXAMPLE = {
    **ENDPOINT_EXAMPLE,
    "is_active": False,
    "status": "disabled",
    "disabled_at": "2026-11-23T10:41:07Z",
    "disabled_reason": "Disabled by Sesame after failing for 24 hours without a success (31 failed attempts in a "
    "row). Last error: NewConnectionError: Failed to establish a new connection: [Errno 111] Connection refused",
    "consecutive_failures": 31,
    "failing_since": "2026-11-22T10:40:12Z",
    "retry_at": "2026-11-23T11:41:07Z",
    "last_error": "NewConnectionError: Failed to establish a new connection: [Errno 111] Connection refused",
}
LIMIT_EXAMPLE = {
    "detail": [
        {
            "loc": ["body"],
            "msg": "This account already has 10 webhook endpoints, the most allowed (SESAME_WEBHOOK_MAX_ENDPOINTS=10). "
            "Delete one, or subscribe an existing one to more event types.",
            "type": "value_error.limit_reached",
        }
    ]
}
CREATED_EXAMPLE = {**ENDPOINT_EXAMPLE, "secret": "whsec_Qm3x…(49 characters)"}
DELIVERY_EXAMPLE = {
    "id": "3b0e7a52-9f1c-4d8e-a2b3-c4d5e6f7a8b9",
    "event_type": "bounce",
    "status": "pending",
    "attempts": 2,
    "next_attempt_at": "2026-11-22T10:12:30Z",
    "last_status_code": 503,
    "last_error": "HTTP 503: upstream unavailable",
    "delivered_at": None,
    "created_at": "2026-11-22T10:10:00Z",
    "payload": {
        "id": "1042",
        "type": "bounce",
        "occurred_at": "2026-11-22T10:09:58Z",
        "email_id": "0bcb2124-1f54-4c4a-9944-0b546c28be33",
        "client_email_id": "your-id-1234",
        "ses_message_id": "0100018c2e1f-7a2b-4c1d-9e8f-000000",
        "recipient": "jane@example.com",
        "subtype": "Permanent",
        "detail": "Permanent bounce (General): 5.1.1 smtp; 550 5.1.1 user unknown",
        "tags": ["transactional"],
        "ses": {"eventType": "Bounce", "bounce": {"bounceType": "Permanent"}, "mail": {"messageId": "…"}},
    },
    "attempt_log": [
        {"attempted_at": "2026-11-22T10:10:30Z", "status_code": 503, "duration_ms": 84, "error": ""},
        {
            "attempted_at": "2026-11-22T10:10:00Z",
            "status_code": None,
            "duration_ms": 10000,
            "error": "ReadTimeoutError",
        },
    ],
}
_WRITE_EXAMPLES = [
    OpenApiExample(
        "Bounces and complaints",
        request_only=True,
        value={"url": "https://hooks.acme.test/sesame", "event_types": ["bounce", "complaint"]},
    ),
    OpenApiExample("Everything", request_only=True, value={"url": "https://hooks.acme.test/all", "event_types": ["*"]}),
]
_SIGNING = (
    "Each event is POSTed as JSON with `Sesame-Signature: t=<unix seconds>,v1=<hex>`, where v1 is "
    "HMAC-SHA256(secret, `<t>.<raw body>`). Refuse timestamps older than a few minutes. After a failed delivery "
    "(no 2xx within 5 s) the endpoint is backed off (30 s, doubling up to an hour) and its deliveries are retried for "
    "24 hours; an endpoint failing for 24 hours is disabled (`status: disabled`) and the account owner emailed. "
    "An account has at most 10 endpoints (SESAME_WEBHOOK_MAX_ENDPOINTS): the next one answers 422."
)


@extend_schema_view(
    list=extend_schema(
        summary="List webhook endpoints",
        responses={200: WebhookEndpointSerializer(many=True), **common_responses()},
        examples=[OpenApiExample("Endpoints", value=[ENDPOINT_EXAMPLE, DISABLED_EXAMPLE], response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One webhook endpoint",
        responses={200: WebhookEndpointSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Endpoint", value=ENDPOINT_EXAMPLE, response_only=True)],
    ),
    create=extend_schema(
        summary="Register a webhook endpoint",
        description="The `secret` appears in this response only. " + _SIGNING,
        request=WebhookEndpointWriteSerializer,
        responses={201: WebhookEndpointCreatedSerializer, 422: unprocessable(), **common_responses()},
        examples=[
            *_WRITE_EXAMPLES,
            OpenApiExample("Created", value=CREATED_EXAMPLE, response_only=True),
            OpenApiExample("Endpoint limit reached", value=LIMIT_EXAMPLE, response_only=True, status_codes=["422"]),
        ],
    ),
    partial_update=extend_schema(
        summary="Change a webhook endpoint",
        description="Change the URL or event types, pause it with `is_active: false`, or resume it with "
        "`is_active: true`, also after Sesame disabled it: its backoff is cleared and the deliveries still "
        "waiting go out at once.",
        request=WebhookEndpointWriteSerializer,
        responses={200: WebhookEndpointSerializer, 422: unprocessable(), **common_responses(with_not_found=True)},
        examples=[
            OpenApiExample("Pause", request_only=True, value={"is_active": False}),
            OpenApiExample("Resume (also a disabled endpoint)", request_only=True, value={"is_active": True}),
            OpenApiExample("Endpoint", value=ENDPOINT_EXAMPLE, response_only=True),
        ],
    ),
    destroy=extend_schema(
        summary="Delete a webhook endpoint", responses={204: None, **common_responses(with_not_found=True)}
    ),
)
class WebhookEndpointViewSet(
    AccountScopedMixin[WebhookEndpoint],
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    scoped_model = WebhookEndpoint
    serializer_class = WebhookEndpointSerializer
    pagination_class = CreatedCursorPagination
    http_method_names = ["get", "post", "patch", "delete"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = WebhookEndpointWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            endpoint, secret = services.webhook_endpoint_create(
                account=request_account(request), **payload.validated_data
            )
        except EndpointLimitReached as exc:
            raise UnprocessableEntity([error_entry(["body"], str(exc), "value_error.limit_reached")]) from exc
        except EndpointRefused as exc:
            raise ValidationError({"url": [str(exc)]}) from exc
        endpoint.secret = secret
        return Response(WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        payload = WebhookEndpointWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        try:
            endpoint = services.webhook_endpoint_update(endpoint=endpoint, **payload.validated_data)
        except EndpointRefused as exc:
            raise ValidationError({"event_types": [str(exc)]}) from exc
        return Response(WebhookEndpointSerializer(endpoint).data)

    def perform_destroy(self, instance: WebhookEndpoint) -> None:
        services.webhook_endpoint_delete(endpoint=instance)

    @extend_schema(
        summary="Rotate an endpoint's signing secret",
        description="The old secret stops working at once; the new one appears in this response only.",
        request=None,
        responses={200: WebhookEndpointCreatedSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Rotated", value=CREATED_EXAMPLE, response_only=True)],
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        endpoint = self.get_object()
        endpoint.secret = services.webhook_endpoint_rotate_secret(endpoint=endpoint)
        return Response(WebhookEndpointCreatedSerializer(endpoint).data)

    @extend_schema(
        summary="Recent deliveries to an endpoint",
        description="Newest first, with every attempt: what was sent, the answer, and when the next try is due.",
        responses={200: WebhookDeliverySerializer(many=True), **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Deliveries", value=[DELIVERY_EXAMPLE], response_only=True)],
    )
    @action(detail=True, methods=["get"], pagination_class=CreatedCursorPagination)
    def deliveries(self, request: Request, pk: str | None = None) -> Response:
        endpoint = self.get_object()
        page = self.paginate_queryset(selectors.webhook_deliveries(endpoint=endpoint))
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


HEALTH_EXAMPLE = {
    "connection_id": "5b0c1f8e-2d3a-4c6b-9e7f-8a9b0c1d2e3f",
    "identifier": "default",
    "region": "us-east-1",
    "aws_mode": "aws",
    "checks": [
        {"name": "SES account", "status": "ok", "detail": "Production (50,000 recipients per 24 h at 14/s)."},
        {"name": "SMS sandbox", "status": "warning", "detail": "In the SNS SMS sandbox: only verified ..."},
        {"name": "Configuration set", "status": "ok", "detail": "sesame-5b0c1f8e publishes its events to ..."},
        {"name": "SNS subscription", "status": "ok", "detail": "https://.../webhooks/sns/... is subscribed ..."},
    ],
    "identities": [
        {
            "name": "example.com",
            "kind": "domain",
            "status": "verified",
            "records": [
                {
                    "name": "abc._domainkey.example.com",
                    "type": "CNAME",
                    "value": "abc.dkim.amazonses.com",
                    "purpose": "DKIM",
                    "published": True,
                    "detail": "Published.",
                },
                {
                    "name": "_dmarc.example.com",
                    "type": "TXT",
                    "value": "v=DMARC1; p=none;",
                    "purpose": "DMARC",
                    "published": False,
                    "detail": "Not published.",
                },
            ],
        }
    ],
    "provisioning": [
        {
            "name": "SNS topic",
            "status": "failed",
            "detail": "AuthorizationError: ... is not authorized to perform: SNS:CreateTopic ...",
            "permission": "SNS:CreateTopic",
        }
    ],
    "provisioned_at": "2026-11-22T10:00:00Z",
    "permissions_failed": ["SNS:CreateTopic"],
}


class AwsConnectionHealthApi(APIView):
    @extend_schema(
        summary="An AWS connection's set-up and health",
        description="SES sandbox or production (from the send quota), SMS sandbox status, the configuration set, "
        "the SNS subscription, each domain identity's DKIM, SPF and DMARC records with whether DNS shows them "
        "(a lookup that fails is reported, not fatal), and which IAM permissions the last provisioning lacked.",
        responses={200: ConnectionHealthSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Health", value=HEALTH_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, pk: Any) -> Response:
        connection = get_object_or_404(AwsConnection, pk=pk, account=request_account(request))
        return Response(ConnectionHealthSerializer(connection_health(connection=connection).as_dict()).data)
