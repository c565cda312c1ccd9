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
from emails import examples, services
from emails.filters import EmailFilter
from emails.models import Email
from emails.serializers import (
    EmailAcceptedSerializer,
    EmailBatchResultSerializer,
    EmailBatchSchema,
    EmailCreateSchema,
    EmailDetailSerializer,
    EmailSerializer,
)
from emails.templating import examples as template_examples

MAX_BATCH = 500

CONFLICT = OpenApiResponse(
    DetailSerializer,
    description="client_email_id was used before in this account; `pendable_id` is the first email.",
    examples=[OpenApiExample("Duplicate", value=examples.DUPLICATE)],
)

QUOTA_EXCEEDED = OpenApiResponse(
    DetailSerializer,
    description="The billing period's email quota (and any overage the plan and your cap allow) is spent. Nothing "
    "is stored; what was accepted before is still sent. The detail says what to change.",
    examples=[OpenApiExample("Quota spent", value={"detail": examples.QUOTA_EXCEEDED})],
)



def duplicate_response(error: services.DuplicateClientEmailId) -> Response:
    """409 for a client_email_id used before, naming the first email (the lean path answers the same)."""
    return Response(
        {"detail": str(error), "pendable_id": str(error.existing_id), "id": str(error.existing_id)},
        status=status.HTTP_409_CONFLICT,
    )


@extend_schema_view(
    list=extend_schema(
        summary="List emails",
        description="Newest first, cursor-paginated. Any custom field filters as `custom_fields__KEY=VALUE`.",
        parameters=[OpenApiParameter("custom_fields__KEY", str, description="e.g. custom_fields__project_code=abc")],
        responses={200: EmailSerializer(many=True), **common_responses()},
        examples=[OpenApiExample("Page", value=examples.EMAIL_PAGE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One email with its timeline",
        responses={200: EmailDetailSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Email", value=examples.EMAIL_DETAIL, response_only=True)],
    ),
)
class EmailViewSet(
    AccountScopedMixin[Email], mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    scoped_model = Email
    filterset_class = EmailFilter

    def scoped_queryset(self, queryset: QuerySet[Email]) -> QuerySet[Email]:
        queryset = queryset.select_related("connection")
        if self.action == "retrieve":
            return queryset.prefetch_related("events")
        return queryset.defer("html_body", "text_body", "attachments", "headers")

    def get_serializer_class(self) -> Any:
        return EmailDetailSerializer if self.action == "retrieve" else EmailSerializer

    @extend_schema(
        summary="Send an email",
        description="Pendable's contract (also served at `POST /emails`). Nothing is sent inside the request: the "
        "email is stored `queued` (or `scheduled`) and dispatched by priority at your SES rate. With `template` (an "
        "email template's id or name) and `variables`, the template is rendered now for the contact at `to` (the "
        "call's variables win) and the email records the version; missing variables are a 422 listing them.",
        request=EmailCreateSchema,
        responses={
            200: EmailAcceptedSerializer,
            402: QUOTA_EXCEEDED,
            409: CONFLICT,
            422: unprocessable(
                OpenApiExample("Missing fields", value=examples.MISSING_FIELDS),
                OpenApiExample("Missing template variables", value=template_examples.MISSING_VARIABLES),
            ),
            **common_responses(),
        },
        examples=[
            OpenApiExample("Transactional email", value=examples.EMAIL_REQUEST, request_only=True),
            OpenApiExample("With a template", value=template_examples.SEND_WITH_TEMPLATE, request_only=True),
            OpenApiExample("Accepted", value=examples.ACCEPTED, response_only=True),
        ],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            email = services.email_accept(account=request_account(request), data=request.data)
        except services.DuplicateClientEmailId as error:
            return duplicate_response(error)
        return Response(EmailAcceptedSerializer.of(email))

    @extend_schema(
        summary="Send up to 500 emails",
        description="Each email is validated on its own; valid ones are accepted even when others fail. "
        "`results` follows the request's order.",
        request=EmailBatchSchema,
        responses={
            200: OpenApiResponse(
                EmailBatchResultSerializer,
                description="Per-email outcome",
                examples=[OpenApiExample("Mixed", value=examples.BATCH_RESPONSE)],
            ),
            402: QUOTA_EXCEEDED,
            422: unprocessable(),
            **common_responses(),
        },
        examples=[OpenApiExample("Two emails", value=examples.BATCH_REQUEST, request_only=True)],
    )
    @action(detail=False, methods=["post"], url_path="batch")
    def batch(self, request: Request) -> Response:
        items = request.data.get("emails") if isinstance(request.data, dict) else None
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
            raise UnprocessableEntity(
                [error_entry(["body", "emails"], f"send 1 to {MAX_BATCH} emails as a list", "value_error.list")]
            )
        extra = set(request.data) - {"emails"}
        if extra:
            raise UnprocessableEntity(
                [
                    error_entry(["body", key], "Unknown field; allowed fields are: emails.", "extra")
                    for key in sorted(extra)
                ]
            )
        results = services.email_accept_batch(account=request_account(request), items=items)
        body = []
        for index, result in enumerate(results):
            if result.email is not None:
                body.append({"index": index, **EmailAcceptedSerializer.of(result.email)})
            elif result.duplicate_of is not None:
                body.append(
                    {
                        "index": index,
                        "status": "duplicate",
                        "pendable_id": str(result.duplicate_of),
                        "errors": [
                            error_entry(
                                ["body", "emails", index, "client_email_id"],
                                "client_email_id was already used",
                                "value_error.duplicate",
                            )
                        ],
                    }
                )
            else:
                body.append({"index": index, "status": "rejected", "errors": result.errors})
        accepted = sum(1 for r in results if r.email is not None)
        return Response({"accepted": accepted, "rejected": len(results) - accepted, "results": body})

    @extend_schema(
        summary="Resend an email",
        description="A new email with the same content, sent now through the same connection; "
        "`resent_from` links it to the original.",
        request=None,
        responses={200: EmailAcceptedSerializer, 422: unprocessable(), **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Accepted", value=examples.ACCEPTED, response_only=True)],
    )
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, pk: str | None = None) -> Response:
        copy = services.email_resend(email=self.get_object())
        return Response(EmailAcceptedSerializer.of(copy))

    @extend_schema(
        summary="Cancel an email not yet sent",
        request=None,
        responses={
            200: EmailSerializer,
            409: OpenApiResponse(
                DetailSerializer,
                description="Already sending or sent",
                examples=[
                    OpenApiExample(
                        "Too late",
                        value={"detail": "The email is sent; only scheduled or queued emails can be cancelled."},
                    )
                ],
            ),
            **common_responses(with_not_found=True),
        },
        examples=[
            OpenApiExample("Cancelled", value={**examples.EMAIL_SUMMARY, "status": "cancelled"}, response_only=True)
        ],
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        email = self.get_object()
        try:
            services.email_cancel(email=email)
        except services.NotCancellable as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response(EmailSerializer(email).data)


class PendableEmailAliasViewSet(EmailViewSet):
    """`POST /emails`, Pendable's unversioned path: the same endpoint, documented once under /v1/emails."""

    schema = None
