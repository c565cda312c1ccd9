from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import request_account
from accounts.scoping import AccountScopedMixin
from config.api.errors import UnprocessableEntity, error_entry
from config.api.schema import common_responses, unprocessable
from config.api.serializers import DetailSerializer
from sms import examples, services
from sms.filters import SmsFilter
from sms.models import SmsMessage
from sms.serializers import (
    SmsAcceptedSerializer,
    SmsBatchResultSerializer,
    SmsBatchSchema,
    SmsDetailSerializer,
    SmsSerializer,
)
from sms.validation import SmsCreateSerializer

MAX_BATCH = 500
UUID_PATTERN = "[0-9a-fA-F-]{36}"

CONFLICT = OpenApiResponse(
    DetailSerializer,
    description="client_sms_id was used before in this account; `id` is the first SMS.",
    examples=[OpenApiExample("Duplicate", value=examples.DUPLICATE)],
)


@extend_schema_view(
    list=extend_schema(
        summary="List SMS",
        description="Newest first, cursor-paginated. Any custom field filters as `custom_fields__KEY=VALUE`.",
        parameters=[OpenApiParameter("custom_fields__KEY", str, description="e.g. custom_fields__order=1234")],
        responses={200: SmsSerializer(many=True), **common_responses()},
        examples=[OpenApiExample("Page", value=[examples.SMS_SUMMARY], response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One SMS with its timeline",
        responses={200: SmsDetailSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("SMS", value=examples.SMS_DETAIL, response_only=True)],
    ),
)
class SmsViewSet(
    AccountScopedMixin[SmsMessage], mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    scoped_model = SmsMessage
    filterset_class = SmsFilter
    lookup_value_regex = UUID_PATTERN

    def scoped_queryset(self, queryset: QuerySet[SmsMessage]) -> QuerySet[SmsMessage]:
        queryset = queryset.select_related("connection").defer("sealed_body")
        return queryset.prefetch_related("events") if self.action == "retrieve" else queryset

    def get_serializer_class(self) -> Any:
        return SmsDetailSerializer if self.action == "retrieve" else SmsSerializer

    @extend_schema(
        summary="Send an SMS",
        description="Stored `queued` (or `scheduled`, or `suppressed` for an opted-out number) and sent through SNS "
        "by priority at the connection's SMS rate. The body's encoding and segment count are computed and returned.",
        request=SmsCreateSerializer,
        responses={
            200: SmsAcceptedSerializer,
            409: CONFLICT,
            422: unprocessable(OpenApiExample("Not E.164", value=examples.NOT_E164)),
            **common_responses(),
        },
        examples=[
            OpenApiExample("Transactional SMS", value=examples.SMS_REQUEST, request_only=True),
            OpenApiExample("Accepted", value=examples.ACCEPTED, response_only=True),
        ],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            message = services.sms_accept(account=request_account(request), data=request.data)
        except services.DuplicateClientSmsId as error:
            return Response({"detail": str(error), "id": str(error.existing_id)}, status=status.HTTP_409_CONFLICT)
        return Response(SmsAcceptedSerializer(message).data)

    @extend_schema(
        summary="Send up to 500 SMS",
        description="Each SMS is validated on its own; valid ones are accepted even when others fail.",
        request=SmsBatchSchema,
        responses={
            200: OpenApiResponse(
                SmsBatchResultSerializer,
                description="Per-SMS outcome",
                examples=[OpenApiExample("Mixed", value=examples.BATCH_RESPONSE)],
            ),
            422: unprocessable(),
            **common_responses(),
        },
        examples=[OpenApiExample("Two SMS", value=examples.BATCH_REQUEST, request_only=True)],
    )
    @action(detail=False, methods=["post"], url_path="batch")
    def batch(self, request: Request) -> Response:
        items = request.data.get("sms") if isinstance(request.data, dict) else None
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
            raise UnprocessableEntity([error_entry(["body", "sms"], f"send 1 to {MAX_BATCH} SMS as a list", "list")])
        extra = set(request.data) - {"sms"}
        if extra:
            raise UnprocessableEntity(
                [
                    error_entry(["body", key], "Unknown field; allowed fields are: sms.", "extra")
                    for key in sorted(extra)
                ]
            )
        results = services.sms_accept_batch(account=request_account(request), items=items)
        body: list[dict[str, Any]] = []
        for index, result in enumerate(results):
            if result.message is not None:
                body.append({"index": index, **SmsAcceptedSerializer(result.message).data})
            elif result.duplicate_of is not None:
                where = ["body", "sms", index, "client_sms_id"]
                body.append(
                    {
                        "index": index,
                        "status": "duplicate",
                        "id": str(result.duplicate_of),
                        "errors": [error_entry(where, "client_sms_id was already used", "duplicate")],
                    }
                )
            else:
                body.append({"index": index, "status": "rejected", "errors": result.errors})
        accepted = sum(1 for r in results if r.message is not None)
        return Response({"accepted": accepted, "rejected": len(results) - accepted, "results": body})

    @extend_schema(
        summary="Cancel an SMS not yet sent",
        request=None,
        responses={
            200: SmsSerializer,
            409: OpenApiResponse(
                DetailSerializer,
                description="Already sending or sent",
                examples=[
                    OpenApiExample(
                        "Too late", value={"detail": "The SMS is sent; only scheduled or queued SMS can be cancelled."}
                    )
                ],
            ),
            **common_responses(with_not_found=True),
        },
        examples=[
            OpenApiExample("Cancelled", value={**examples.SMS_SUMMARY, "status": "cancelled"}, response_only=True)
        ],
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        message = self.get_object()
        try:
            services.sms_cancel(message=message)
        except services.NotCancellable as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response(SmsSerializer(message).data)
