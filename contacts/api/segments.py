from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Account
from accounts.permissions import request_account
from accounts.scoping import AccountScopedMixin
from config.api.errors import RequestValidationError
from config.api.schema import common_responses, unprocessable
from contacts import services
from contacts.api.base import ContactsApiMixin, contact_error
from contacts.api.contacts import CONTACT_EXAMPLE, serialize_contacts
from contacts.api.serializers import ContactSerializer, SegmentSerializer, SegmentWriteSerializer, TagSerializer
from contacts.models import Segment, Tag
from contacts.selectors import contacts_matching, segment_contacts

SEGMENT_EXAMPLE = {
    "id": 3,
    "name": "Wish-listers who never bought",
    "description": "Red sneakers in the wish-list, no purchase in 30 days",
    "filters": {"tags": ["red sneakers"], "did_not_event": "purchase", "did_not_event_since": "2026-10-23T00:00:00Z"},
    "count": 1834,
    "created_at": "2026-11-22T10:00:00Z",
    "updated_at": "2026-11-22T10:00:00Z",
}
SEGMENT_WRITE = {key: SEGMENT_EXAMPLE[key] for key in ("name", "description", "filters")}
BAD_FILTER = OpenApiExample(
    "Unknown filter",
    value={
        "detail": [
            {
                "loc": ["body", "filters", "tag"],
                "msg": "Unknown filter 'tag'; see GET /v1/contacts for the filters.",
                "type": "value_error.invalid",
            }
        ]
    },
)


def _check_filters(account: Account, filters: dict[str, Any]) -> None:
    try:
        contacts_matching(account=account, filters=filters)
    except DjangoValidationError as exc:
        raise RequestValidationError({"filters": exc.message_dict}) from exc


@extend_schema_view(
    list=extend_schema(
        summary="List saved segments",
        description="Each with its live `count`.",
        responses={200: SegmentSerializer(many=True), **common_responses()},
        examples=[OpenApiExample("Segments", value=[SEGMENT_EXAMPLE], response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One saved segment, with its live count",
        responses={200: SegmentSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Segment", value=SEGMENT_EXAMPLE, response_only=True)],
    ),
    create=extend_schema(
        summary="Save a segment",
        description="`filters` holds GET /v1/contacts filter parameters (lists are fine for tags and attribute).",
        request=SegmentWriteSerializer,
        responses={201: SegmentSerializer, 422: unprocessable(BAD_FILTER), **common_responses()},
        examples=[
            OpenApiExample("Segment", value=SEGMENT_WRITE, request_only=True),
            OpenApiExample("Saved", value=SEGMENT_EXAMPLE, response_only=True),
        ],
    ),
    partial_update=extend_schema(
        summary="Change a saved segment",
        request=SegmentWriteSerializer,
        responses={200: SegmentSerializer, 422: unprocessable(BAD_FILTER), **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Segment", value=SEGMENT_EXAMPLE, response_only=True)],
    ),
    destroy=extend_schema(
        summary="Delete a saved segment", responses={204: None, **common_responses(with_not_found=True)}
    ),
)
class SegmentViewSet(
    ContactsApiMixin,
    AccountScopedMixin[Segment],
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    scoped_model = Segment
    serializer_class = SegmentSerializer
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "delete"]

    def create(self, request: Request) -> Response:
        payload = SegmentWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        account = request_account(request)
        _check_filters(account, payload.validated_data["filters"])
        try:
            segment = services.segment_create(account=account, **payload.validated_data)
        except services.ContactError as exc:
            raise contact_error(exc) from exc
        return Response(SegmentSerializer(segment).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        segment = self.get_object()
        payload = SegmentWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        if "filters" in payload.validated_data:
            _check_filters(request_account(request), payload.validated_data["filters"])
        try:
            segment = services.segment_update(segment=segment, **payload.validated_data)
        except services.ContactError as exc:
            raise contact_error(exc) from exc
        return Response(SegmentSerializer(segment).data)

    @extend_schema(
        summary="The contacts in a saved segment",
        description="Newest first, cursor-paginated, like GET /v1/contacts.",
        responses={200: ContactSerializer(many=True), **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Contacts", value=[CONTACT_EXAMPLE], response_only=True)],
    )
    @action(detail=True, methods=["get"], serializer_class=ContactSerializer)
    def contacts(self, request: Request, pk: str) -> Response:
        segment = self.get_object()
        try:
            members = segment_contacts(segment=segment)
        except DjangoValidationError as exc:
            raise RequestValidationError({"filters": exc.message_dict}) from exc
        page = self.paginate_queryset(members)
        return self.get_paginated_response(serialize_contacts(page or [], account_id=segment.account_id))


@extend_schema_view(
    list=extend_schema(
        summary="List tags with their contact counts",
        responses={200: TagSerializer(many=True), **common_responses()},
        examples=[
            OpenApiExample(
                "Tags",
                value=[{"id": 12, "name": "red sneakers", "contact_count": 5210, "created_at": "2026-11-22T10:00:00Z"}],
                response_only=True,
            )
        ],
    ),
)
class TagViewSet(ContactsApiMixin, AccountScopedMixin[Tag], mixins.ListModelMixin, viewsets.GenericViewSet):
    scoped_model = Tag
    serializer_class = TagSerializer
