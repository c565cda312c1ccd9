"""The suppression list and blocked domains of an account."""

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import request_account
from accounts.scoping import AccountScopedMixin
from config.api.schema import common_responses, unprocessable
from emails import examples, services
from emails.filters import SuppressionFilter
from emails.models import BlockedDomain, Suppression
from emails.serializers import (
    BlockedDomainCreateSerializer,
    BlockedDomainSerializer,
    SuppressionCreateSerializer,
    SuppressionSerializer,
)


@extend_schema_view(
    list=extend_schema(
        summary="List suppressed addresses",
        responses={200: SuppressionSerializer(many=True), **common_responses()},
        examples=[
            OpenApiExample(
                "Page", response_only=True, value={"next": None, "previous": None, "results": [examples.SUPPRESSION]}
            )
        ],
    ),
    retrieve=extend_schema(
        summary="One suppression",
        responses={200: SuppressionSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Suppression", value=examples.SUPPRESSION, response_only=True)],
    ),
    destroy=extend_schema(
        summary="Remove an address from the suppression list",
        responses={204: None, **common_responses(with_not_found=True)},
    ),
)
class SuppressionViewSet(
    AccountScopedMixin[Suppression],
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    scoped_model = Suppression
    serializer_class = SuppressionSerializer
    filterset_class = SuppressionFilter

    @extend_schema(
        summary="Suppress an address",
        description="Emails to a suppressed address are not sent to it; idempotent.",
        request=SuppressionCreateSerializer,
        responses={201: SuppressionSerializer, 422: unprocessable(), **common_responses()},
        examples=[
            OpenApiExample("Manual", value={"address": "no-more@example.net", "reason": "manual"}, request_only=True),
            OpenApiExample("Created", value={**examples.SUPPRESSION, "reason": "manual"}, response_only=True),
        ],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = SuppressionCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        suppression = services.suppression_add(account=request_account(request), **payload.validated_data)
        return Response(SuppressionSerializer(suppression).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Suppression) -> None:
        services.suppression_remove(suppression=instance)


BLOCKED = {"id": 5, "domain": "spammy.example", "created_at": "2026-11-22T04:40:00Z"}


@extend_schema_view(
    list=extend_schema(
        summary="List blocked recipient domains",
        responses={200: BlockedDomainSerializer(many=True), **common_responses()},
        examples=[
            OpenApiExample("Page", response_only=True, value={"next": None, "previous": None, "results": [BLOCKED]})
        ],
    ),
    destroy=extend_schema(summary="Unblock a domain", responses={204: None, **common_responses(with_not_found=True)}),
)
class BlockedDomainViewSet(
    AccountScopedMixin[BlockedDomain], mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Recipients at these domains (and their subdomains) are dropped with reason `blocked_domain`, like the
    shipped disposable-domain list."""

    scoped_model = BlockedDomain
    serializer_class = BlockedDomainSerializer

    @extend_schema(
        summary="Block a recipient domain",
        request=BlockedDomainCreateSerializer,
        responses={201: BlockedDomainSerializer, 422: unprocessable(), **common_responses()},
        examples=[
            OpenApiExample("Block", value={"domain": "spammy.example"}, request_only=True),
            OpenApiExample("Blocked", value=BLOCKED, response_only=True),
        ],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = BlockedDomainCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        blocked = services.blocked_domain_add(account=request_account(request), **payload.validated_data)
        return Response(BlockedDomainSerializer(blocked).data, status=status.HTTP_201_CREATED)
