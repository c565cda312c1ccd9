"""/v1/broadcasts: create a draft, preview its audience, send or schedule it, pause, resume, cancel, follow it."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import request_account
from accounts.scoping import AccountScopedMixin
from config.api.errors import RequestValidationError
from config.api.schema import common_responses, unprocessable
from config.api.serializers import DetailSerializer
from contacts.api.contacts import CONTACT_EXAMPLE, serialize_contacts
from contacts.api.serializers import ContactSerializer
from events.broadcasts import services
from events.broadcasts.audience import audience_preview
from events.broadcasts.models import Broadcast
from events.broadcasts.selectors import broadcast_progress
from events.broadcasts.serializers import BroadcastSendSerializer, BroadcastSerializer, BroadcastWriteSerializer

WRITE_EXAMPLE = {
    "name": "November newsletter",
    "template": "newsletter",
    "variables": {"month": "November"},
    "topic": "newsletter",
    "segment": 3,
    "from": "Acme <news@acme.example>",
    "priority": 90,
    "window": {"start": "09:00", "end": "18:00", "timezone": "Europe/Paris"},
}
SMS_WRITE_EXAMPLE = {
    "name": "Spring sale",
    "channel": "sms",
    "template": "spring-sale",
    "variables": {"discount": "20%"},
    "topic": "offers",
    "segment": 7,
    "from": "ACME",
    "window": {"start": "10:00", "end": "19:00", "timezone": "America/New_York"},
}
PUSH_WRITE_EXAMPLE = {"name": "New season", "channel": "push", "template": "new-season", "segment": 7}
PROGRESS_EXAMPLE = {
    "audience": 120000,
    "to_send": 61000,
    "sent": 57800,
    "failed": 12,
    "suppressed": 1188,
    "cancelled": 0,
    "excluded": {"opted_out": 640, "suppressed": 310, "unsubscribed": 238},
    "opens": 20150,
    "clicks": 3120,
    "send_rate": 14.0,
    "eta": "2026-11-30T11:12:40Z",
}
BROADCAST_EXAMPLE = {
    "id": "5b0e8f5e-3f0e-4a55-9c1e-2f7f3a1f7c11",
    "name": "November newsletter",
    "channel": "email",
    "status": "sending",
    "template": "0d5e8c47-8a32-4b0c-a3e1-7a4e6b9f0d21",
    "template_version": 4,
    "variables": {"month": "November"},
    "topic": "newsletter",
    "segment": 3,
    "filters": {},
    "from": "Acme <news@acme.example>",
    "reply_to": "",
    "config_identifier": "default",
    "priority": 90,
    "tags": ["newsletter"],
    "window": {"start": "09:00", "end": "18:00", "timezone": "Europe/Paris"},
    "send_at": "2026-11-30T09:00:00Z",
    "audience_count": 120000,
    "progress": PROGRESS_EXAMPLE,
    "created_at": "2026-11-29T16:20:00Z",
    "started_at": "2026-11-30T09:00:01Z",
    "finished_at": None,
}
SMS_PROGRESS_EXAMPLE = {
    **PROGRESS_EXAMPLE,
    "audience": 8200,
    "to_send": 2400,
    "sent": 5410,
    "failed": 3,
    "suppressed": 387,
    "excluded": {"no_address": 301, "opted_out": 40, "sms_opted_out": 29, "unsubscribed": 12},
    "opens": None,
    "clicks": None,
    "send_rate": 20.0,
    "eta": "2026-11-30T10:02:00Z",
}
SMS_BROADCAST_EXAMPLE = {
    **BROADCAST_EXAMPLE,
    "id": "8e2d4c1a-6b7f-4e0d-9a3c-5f1b2e7d9c44",
    "name": "Spring sale",
    "channel": "sms",
    "template": "3f9a1c2e-7d4b-4e8a-b6c5-0a1d2e3f4b5c",
    "template_version": 2,
    "variables": {"discount": "20%"},
    "topic": "offers",
    "segment": 7,
    "from": "ACME",
    "tags": [],
    "window": {"start": "10:00", "end": "19:00", "timezone": "America/New_York"},
    "audience_count": 8200,
    "progress": SMS_PROGRESS_EXAMPLE,
}
NO_UNSUBSCRIBE_LINK = OpenApiExample(
    "No unsubscribe link",
    value={
        "detail": [
            {
                "loc": ["body", "template"],
                "msg": "the template's HTML has no visible unsubscribe link; broadcasts must carry one: add "
                '<a href="{{ unsubscribe_url }}">Unsubscribe</a> (link text a reader can see, not hidden)',
                "type": "value_error.unsubscribe_link",
            }
        ]
    },
)
WRONG_CHANNEL_TEMPLATE = OpenApiExample(
    "An SMS broadcast with an email template",
    value={
        "detail": [
            {
                "loc": ["body", "template"],
                "msg": "'newsletter' is an email template; an SMS broadcast sends an SMS template "
                "(GET /v1/templates?channel=sms)",
                "type": "value_error.template_channel",
            }
        ]
    },
)
PUSH_WITH_FROM = OpenApiExample(
    "A push broadcast with a sender",
    value={
        "detail": [
            {
                "loc": ["body", "from"],
                "msg": "a push comes from the app its device registered with; leave from out",
                "type": "value_error.not_applicable",
            }
        ]
    },
)
BROADCAST_422 = unprocessable(NO_UNSUBSCRIBE_LINK, WRONG_CHANNEL_TEMPLATE, PUSH_WITH_FROM)
WRONG_STATE = OpenApiResponse(
    DetailSerializer,
    description="The broadcast is not in a state that allows this.",
    examples=[
        OpenApiExample(
            "Wrong state", value={"detail": "The broadcast is sent; it can be paused only when scheduled or sending."}
        )
    ],
)


class AudienceSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Contacts who would get the message if it started now.")
    excluded = serializers.DictField(child=serializers.IntegerField(), help_text="Contacts left out, by reason.")
    sample = ContactSerializer(many=True)


def _state_action(summary: str, description: str) -> Any:
    return extend_schema(
        summary=summary,
        description=description,
        request=None,
        responses={200: BroadcastSerializer, 409: WRONG_STATE, **common_responses(with_not_found=True)},
        examples=[
            OpenApiExample("Broadcast", value=BROADCAST_EXAMPLE, response_only=True),
            OpenApiExample("SMS broadcast", value=SMS_BROADCAST_EXAMPLE, response_only=True),
        ],
    )


@extend_schema_view(
    list=extend_schema(
        summary="List broadcasts",
        description="Newest first; each with its progress.",
        responses={200: BroadcastSerializer(many=True), **common_responses()},
        examples=[OpenApiExample("Broadcasts", value=[SMS_BROADCAST_EXAMPLE, BROADCAST_EXAMPLE], response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One broadcast and its progress",
        description="`progress` counts the ledger (one row per contact) and its messages; `eta` is at the "
        "channel's current send rate. `opens` and `clicks` are email's (null for SMS and push).",
        responses={200: BroadcastSerializer, **common_responses(with_not_found=True)},
        examples=[
            OpenApiExample("Broadcast", value=BROADCAST_EXAMPLE, response_only=True),
            OpenApiExample("SMS broadcast", value=SMS_BROADCAST_EXAMPLE, response_only=True),
        ],
    ),
    create=extend_schema(
        summary="Create a broadcast (a draft)",
        description="`channel` is `email` (the default), `sms` or `push`, and `template` one of that channel's. "
        "Give a `segment` or ad hoc `filters` (none: every contact). Nothing is sent until POST …/send. An email "
        "template's HTML must have a visible `{{ unsubscribe_url }}` link; an SMS ends with 'Reply STOP to opt "
        "out.' unless its text says STOP; `from` is an email's verified identity or an SMS's sender ID or "
        "origination number, and a push has none (nor `reply_to` or `config_identifier`).",
        request=BroadcastWriteSerializer,
        responses={201: BroadcastSerializer, 422: BROADCAST_422, **common_responses()},
        examples=[
            OpenApiExample("Email draft", value=WRITE_EXAMPLE, request_only=True),
            OpenApiExample("SMS draft", value=SMS_WRITE_EXAMPLE, request_only=True),
            OpenApiExample("Push draft", value=PUSH_WRITE_EXAMPLE, request_only=True),
            OpenApiExample(
                "Created", value={**BROADCAST_EXAMPLE, "status": "draft", "progress": None}, response_only=True
            ),
            OpenApiExample(
                "SMS created", value={**SMS_BROADCAST_EXAMPLE, "status": "draft", "progress": None}, response_only=True
            ),
        ],
    ),
    partial_update=extend_schema(
        summary="Change a draft",
        request=BroadcastWriteSerializer,
        responses={
            200: BroadcastSerializer,
            409: WRONG_STATE,
            422: BROADCAST_422,
            **common_responses(with_not_found=True),
        },
        examples=[
            OpenApiExample("Rename", value={"name": "December newsletter"}, request_only=True),
            OpenApiExample("Broadcast", value={**BROADCAST_EXAMPLE, "status": "draft"}, response_only=True),
        ],
    ),
)
class BroadcastViewSet(
    AccountScopedMixin[Broadcast], mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    scoped_model = Broadcast
    serializer_class = BroadcastSerializer
    http_method_names = ["get", "post", "patch"]

    def scoped_queryset(self, queryset: QuerySet[Broadcast]) -> QuerySet[Broadcast]:
        return queryset.select_related("connection", "topic", "template_version")

    def _answer(self, broadcasts: list[Broadcast]) -> Any:
        progress = {b.pk: broadcast_progress(broadcast=b) for b in broadcasts if b.status != Broadcast.Status.DRAFT}
        return BroadcastSerializer(broadcasts, many=True, context={"progress": progress}).data

    def _one(self, broadcast: Broadcast, code: int = status.HTTP_200_OK) -> Response:
        return Response(self._answer([self.get_queryset().get(pk=broadcast.pk)])[0], status=code)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self._answer(list(page or [])))

    def retrieve(self, request: Request, pk: str) -> Response:
        return self._one(self.get_object())

    def create(self, request: Request) -> Response:
        payload = BroadcastWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        broadcast = services.broadcast_create(account=request_account(request), data=payload.for_service())
        return self._one(broadcast, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        broadcast = self.get_object()
        payload = BroadcastWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        return self._one(services.broadcast_update(broadcast=broadcast, data=payload.for_service()))

    @extend_schema(
        summary="Preview the audience",
        description="How many contacts would get the message if it started now, how many are left out and why "
        "(unsubscribed, bounced, complained, opted_out of the topic, no_address: no email or no mobile, "
        "suppressed: on the email suppression list, sms_opted_out: the number opted out of SMS, no_device: no "
        "enabled push device), and a sample.",
        responses={200: AudienceSerializer, 422: unprocessable(), **common_responses(with_not_found=True)},
        examples=[
            OpenApiExample(
                "Audience",
                value={"count": 118812, "excluded": {"opted_out": 640, "suppressed": 310}, "sample": [CONTACT_EXAMPLE]},
                response_only=True,
            )
        ],
    )
    @action(detail=True, methods=["get"], serializer_class=AudienceSerializer)
    def audience(self, request: Request, pk: str) -> Response:
        broadcast = self.get_object()
        try:
            preview = audience_preview(broadcast=broadcast)
        except DjangoValidationError as exc:
            raise RequestValidationError({"filters": exc.message_dict}) from exc
        preview["sample"] = serialize_contacts(preview["sample"], account_id=broadcast.account_id)
        return Response(preview)

    @extend_schema(
        summary="Send a draft now, or schedule it",
        description="Pins the template's current version. The audience is evaluated when the broadcast starts.",
        request=BroadcastSendSerializer,
        responses={
            200: BroadcastSerializer,
            409: WRONG_STATE,
            422: BROADCAST_422,
            **common_responses(with_not_found=True),
        },
        examples=[
            OpenApiExample("Schedule", value={"send_at": "2026-12-01T09:00:00Z"}, request_only=True),
            OpenApiExample("Scheduled", value={**BROADCAST_EXAMPLE, "status": "scheduled"}, response_only=True),
        ],
    )
    @action(detail=True, methods=["post"], serializer_class=BroadcastSendSerializer)
    def send(self, request: Request, pk: str) -> Response:
        broadcast = self.get_object()
        payload = BroadcastSendSerializer(data=request.data or {})
        payload.is_valid(raise_exception=True)
        return self._one(services.broadcast_send(broadcast=broadcast, send_at=payload.validated_data.get("send_at")))

    @_state_action(
        "Pause",
        "Messages waiting in the outbox are taken back (a push only if none of its devices got it yet); none is lost "
        "or sent twice on resume.",
    )
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str) -> Response:
        return self._one(services.broadcast_pause(broadcast=self.get_object()))

    @_state_action("Resume", "Sending goes on with the contacts not yet sent to.")
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str) -> Response:
        return self._one(services.broadcast_resume(broadcast=self.get_object()))

    @_state_action("Cancel", "Nothing more is sent; messages already sent stay sent.")
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        return self._one(services.broadcast_cancel(broadcast=self.get_object()))
