from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.models import ApiToken, AwsConnection
from accounts.permissions import request_account
from accounts.scoping import AccountScopedMixin
from accounts.serializers import (
    AccountSerializer,
    ApiTokenCreatedSerializer,
    ApiTokenCreateSerializer,
    ApiTokenSerializer,
    AwsConnectionSerializer,
    AwsConnectionWriteSerializer,
)
from config.api.errors import Conflict
from config.api.schema import common_responses, unprocessable
from config.api.serializers import DetailSerializer

ACCOUNT_EXAMPLE = {
    "id": "5f0c5c8e-3a52-4b8e-9d3c-2d2b8f1e7a10",
    "name": "Acme",
    "status": "active",
    "owner_email": "ops@acme.test",
    "plan": "paid",
    "api_requests_per_minute": 1800,
    "aws_external_id": "4821-0937-5512",
    "created_at": "2026-11-22T10:00:00Z",
}
TOKEN_EXAMPLE = {
    "id": 7,
    "name": "CI deploys",
    "prefix": "ses_Xk2v9QpL",
    "scopes": ["full"],
    "created_at": "2026-11-22T10:00:00Z",
    "last_used_at": None,
    "revoked": False,
    "revoked_at": None,
}
CONNECTION_IN_USE = (
    "Emails were sent through this connection, and their history needs it: deactivate it with "
    '`{"is_active": false}` instead of deleting it.'
)
CONNECTION_EXAMPLE = {
    "id": "0f4e6d1c-8a3b-4c2d-9e1f-7a6b5c4d3e2f",
    "identifier": "my-default-config",
    "region": "us-east-1",
    "role_arn": "arn:aws:iam::123456789012:role/Sesame-Email-API",
    "access_key_id": "",
    "credentials": "role",
    "is_default": True,
    "is_active": True,
    "created_at": "2026-11-22T10:00:00Z",
    "updated_at": "2026-11-22T10:00:00Z",
}


class AccountRetrieveApi(APIView):
    @extend_schema(
        summary="The calling account",
        description="The account behind the token: its plan, API budget and the external id for IAM roles.",
        responses={200: AccountSerializer, **common_responses()},
        examples=[OpenApiExample("Account", value=ACCOUNT_EXAMPLE, response_only=True)],
        tags=["account"],
    )
    def get(self, request: Request) -> Response:
        return Response(AccountSerializer(request_account(request)).data)


@extend_schema_view(
    list=extend_schema(
        summary="List API tokens",
        description="Newest first, cursor-paginated.",
        responses={200: ApiTokenSerializer(many=True), **common_responses()},
        examples=[OpenApiExample("Page", value=TOKEN_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One API token",
        responses={200: ApiTokenSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Token", value=TOKEN_EXAMPLE, response_only=True)],
    ),
    destroy=extend_schema(
        summary="Revoke an API token",
        description="Revoked tokens answer 403 from then on.",
        responses={204: None, **common_responses(with_not_found=True)},
    ),
)
class ApiTokenViewSet(
    AccountScopedMixin[ApiToken],
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    scoped_model = ApiToken
    serializer_class = ApiTokenSerializer

    @extend_schema(
        summary="Create an API token",
        description="The `token` field holds the secret and appears in this response only; Sesame keeps a hash.",
        request=ApiTokenCreateSerializer,
        responses={201: ApiTokenCreatedSerializer, 422: unprocessable(), **common_responses()},
        examples=[
            OpenApiExample(
                "Contacts-only key", value={"name": "Website sign-up form", "scopes": ["contacts"]}, request_only=True
            ),
            OpenApiExample(
                "Created", value={**TOKEN_EXAMPLE, "token": "ses_Xk2v9QpL…(43 characters)"}, response_only=True
            ),
        ],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = ApiTokenCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        token, plaintext = services.api_token_create(account=request_account(request), **payload.validated_data)
        token.token = plaintext  # type: ignore[attr-defined]
        return Response(ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ApiToken) -> None:
        services.api_token_revoke(token=instance)


_CONNECTION_WRITE_EXAMPLES = [
    OpenApiExample(
        "IAM role (recommended)",
        request_only=True,
        value={
            "identifier": "my-default-config",
            "region": "us-east-1",
            "role_arn": "arn:aws:iam::123456789012:role/Sesame-Email-API",
            "is_default": True,
        },
    ),
    OpenApiExample(
        "Access keys",
        request_only=True,
        value={
            "identifier": "eu-keys",
            "region": "eu-west-1",
            "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        },
    ),
    OpenApiExample("Connection", value=CONNECTION_EXAMPLE, response_only=True),
]


@extend_schema_view(
    list=extend_schema(
        summary="List AWS connections",
        description="Newest first, cursor-paginated.",
        responses={200: AwsConnectionSerializer(many=True), **common_responses()},
        examples=[OpenApiExample("Page", value=CONNECTION_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One AWS connection",
        responses={200: AwsConnectionSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Connection", value=CONNECTION_EXAMPLE, response_only=True)],
    ),
    create=extend_schema(
        summary="Add an AWS connection (an SES config)",
        description="Give an IAM role ARN whose trust policy names your account's `aws_external_id`, "
        "or an access key pair; the secret is encrypted at rest and never returned.",
        request=AwsConnectionWriteSerializer,
        responses={201: AwsConnectionSerializer, 422: unprocessable(), **common_responses()},
        examples=_CONNECTION_WRITE_EXAMPLES,
    ),
    partial_update=extend_schema(
        summary="Change an AWS connection",
        request=AwsConnectionWriteSerializer,
        responses={200: AwsConnectionSerializer, 422: unprocessable(), **common_responses(with_not_found=True)},
        examples=_CONNECTION_WRITE_EXAMPLES,
    ),
    destroy=extend_schema(
        summary="Delete an AWS connection",
        description="A connection that has sent emails keeps their history: it answers 409; deactivate it instead "
        '(`{"is_active": false}`).',
        responses={
            204: None,
            409: OpenApiResponse(
                DetailSerializer,
                description="Emails were sent through this connection.",
                examples=[OpenApiExample("In use", value={"detail": CONNECTION_IN_USE})],
            ),
            **common_responses(with_not_found=True),
        },
    ),
)
class AwsConnectionViewSet(AccountScopedMixin[AwsConnection], viewsets.ModelViewSet):
    scoped_model = AwsConnection
    serializer_class = AwsConnectionSerializer
    http_method_names = ["get", "post", "patch", "delete"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = AwsConnectionWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            connection = services.aws_connection_create(account=request_account(request), **payload.validated_data)
        except services.IdentifierTaken as exc:
            raise ValidationError({"identifier": [str(exc)]}, code="unique") from exc
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc
        return Response(AwsConnectionSerializer(connection).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: AwsConnection) -> None:
        try:
            instance.delete()
        except ProtectedError as exc:
            raise Conflict(CONNECTION_IN_USE) from exc

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        connection = self.get_object()
        payload = AwsConnectionWriteSerializer(connection, data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        try:
            connection = services.aws_connection_update(connection=connection, **payload.validated_data)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc
        return Response(AwsConnectionSerializer(connection).data)
