from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import request_account
from accounts.scoping import AccountScopedMixin
from accounts.selectors import aws_connection_for_account
from config.api.errors import UnprocessableEntity, error_entry
from config.api.schema import common_responses, unprocessable
from emails import examples, services
from emails.models import Identity
from emails.serializers import IdentityCreateSerializer, IdentitySerializer
from emails.transport import TransportError


@extend_schema_view(
    list=extend_schema(
        summary="List sender identities",
        responses={200: IdentitySerializer(many=True), **common_responses()},
        examples=[
            OpenApiExample(
                "Page", response_only=True, value={"next": None, "previous": None, "results": [examples.IDENTITY]}
            )
        ],
    ),
    retrieve=extend_schema(
        summary="One identity with its DKIM records",
        responses={200: IdentitySerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Identity", value=examples.IDENTITY, response_only=True)],
    ),
)
class IdentityViewSet(
    AccountScopedMixin[Identity], mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    scoped_model = Identity
    serializer_class = IdentitySerializer

    def scoped_queryset(self, queryset: QuerySet[Identity]) -> QuerySet[Identity]:
        return queryset.select_related("connection")

    @extend_schema(
        summary="Add a sender identity",
        description="Creates the SES identity and answers the DKIM CNAME records to publish. "
        "Verification status is refreshed every 10 minutes.",
        request=IdentityCreateSerializer,
        responses={201: IdentitySerializer, 422: unprocessable(), **common_responses()},
        examples=[
            OpenApiExample("Domain", value={"name": "example.com"}, request_only=True),
            OpenApiExample("Created", value=examples.IDENTITY, response_only=True),
        ],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = IdentityCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        identifier = payload.validated_data.get("config_identifier")
        connection = aws_connection_for_account(account=request_account(request), identifier=identifier)
        if connection is None:
            raise UnprocessableEntity(
                [
                    error_entry(
                        ["body", "config_identifier"], "no such AWS connection (and no default)", "value_error.unknown"
                    )
                ]
            )
        try:
            identity = services.identity_add(connection=connection, name=payload.validated_data["name"])
        except TransportError as error:
            raise UnprocessableEntity(
                [error_entry(["body", "name"], f"SES refused it: {error.reason}", "value_error.ses")]
            ) from error
        return Response(IdentitySerializer(identity).data, status=status.HTTP_201_CREATED)
