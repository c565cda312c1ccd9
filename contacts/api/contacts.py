from collections.abc import Iterable
from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import request_account
from accounts.scoping import AccountScopedMixin
from config.api.filters import IsoDateTimeFilter
from config.api.pagination import CursorPagination
from config.api.query import query_params_check
from config.api.schema import common_responses, unprocessable
from contacts import services
from contacts.api.base import ContactsApiMixin, QueryFilterBackend, contact_error
from contacts.api.serializers import (
    ContactCreateSerializer,
    ContactEventSerializer,
    ContactPageSerializer,
    ContactSerializer,
    ContactWriteSerializer,
    CountSerializer,
    TagsChangeSerializer,
)
from contacts.filters import ContactFilter
from contacts.models import Contact, ContactEvent
from contacts.selectors import contact_list, contact_timeline, opted_out_topic_keys
from contacts.tagging import tag_names_by_id

CONTACT_EXAMPLE = {
    "id": 1042,
    "email": "example@gmail.com",
    "mobile": "+918098763849",
    "status": "subscribed",
    "full_name": "John Due",
    "dob": "1990-10-10",
    "gender": "Male",
    "city": "Hyderabad",
    "country": "India",
    "attributes": {"plan": "pro"},
    "tags": ["aaa", "red sneakers"],
    "unsubscribed_topics": ["newsletter"],
    "created_at": "2026-11-22T10:00:00Z",
    "updated_at": "2026-11-22T10:05:00Z",
    "last_seen_at": "2026-11-22T10:04:51Z",
}
WRITE_EXAMPLE = {
    "email": "example@gmail.com",
    "mobile": "+918098763849",
    "full_name": "John Due",
    "dob": "10-10-1990",
    "attributes": {"plan": "pro"},
    "tags": ["aaa", "red sneakers"],
}
BAD_MOBILE = OpenApiExample(
    "Mobile not in E.164",
    value={
        "detail": [
            {
                "loc": ["body", "mobile"],
                "msg": "'+44 20 7183 8750' is not in E.164 format: a plus, the country code and the number, without "
                "spaces, dashes or brackets (e.g. '+442071838750'). Send '+442071838750'.",
                "type": "value_error.invalid",
            }
        ]
    },
)
EVENT_EXAMPLE = {
    "id": 88213,
    "name": "added_to_wishlist",
    "properties": {"product": "red sneakers"},
    "occurred_at": "2026-11-22T10:04:51Z",
    "source": "api",
}


class TimelineCursorPagination(CursorPagination):
    """Newest first by when it happened; `?limit=` up to 500."""

    ordering = ("-occurred_at", "-id")


class ContactEventFilter(django_filters.FilterSet):
    name = django_filters.BaseInFilter(field_name="name", help_text="Event name(s), comma-separated.")
    source = django_filters.ChoiceFilter(field_name="source", choices=ContactEvent.Source.choices)
    since = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    until = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = ContactEvent
        fields: list[str] = []


def serialize_contacts(contacts: Iterable[Contact], *, account_id: Any, many: bool = True) -> Any:
    items = list(contacts)
    names = tag_names_by_id(account_id=account_id, contacts=items)
    opted_out = opted_out_topic_keys(contact_ids=[contact.pk for contact in items])
    data = ContactSerializer(items, many=True, context={"tag_names": names, "opted_out": opted_out}).data
    return data if many else data[0]


@extend_schema_view(
    list=extend_schema(
        summary="List and segment contacts",
        description="Newest first, cursor-paginated. Every filter below combines with AND; `?count=1` answers only "
        '`{"count": N}`. Unknown parameters are refused (422), so a typo never returns everyone.',
        parameters=[OpenApiParameter("count", OpenApiTypes.BOOL, description="Answer only the number of matches.")],
        responses={
            200: PolymorphicProxySerializer(
                component_name="ContactPageOrCount",
                serializers=[ContactPageSerializer, CountSerializer],
                resource_type_field_name=None,
                many=False,
            ),
            422: unprocessable(),
            **common_responses(),
        },
        examples=[
            OpenApiExample(
                "Contacts", value={"next": None, "previous": None, "results": [CONTACT_EXAMPLE]}, response_only=True
            ),
            OpenApiExample("Count", value={"count": 1834}, response_only=True),
        ],
    ),
    retrieve=extend_schema(
        summary="One contact",
        responses={200: ContactSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Contact", value=CONTACT_EXAMPLE, response_only=True)],
    ),
    destroy=extend_schema(
        summary="Delete a contact and its timeline", responses={204: None, **common_responses(with_not_found=True)}
    ),
)
class ContactViewSet(ContactsApiMixin, AccountScopedMixin[Contact], viewsets.GenericViewSet):
    scoped_model = Contact
    serializer_class = ContactSerializer
    filterset_class = ContactFilter
    filter_backends = [QueryFilterBackend]
    extra_query_params = ("count",)
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "delete"]

    def list(self, request: Request) -> Response:
        query_params_check(request, self)  # before `count`, which answers without paging
        queryset = self.filter_queryset(self.get_queryset())
        if request.query_params.get("count", "").lower() in ("1", "true", "yes"):
            return Response(CountSerializer({"count": queryset.count()}).data)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serialize_contacts(page or [], account_id=request_account(request).pk))

    def retrieve(self, request: Request, pk: str) -> Response:
        contact = self.get_object()
        return Response(serialize_contacts([contact], account_id=contact.account_id, many=False))

    @extend_schema(
        summary="Create a contact",
        description="A contact needs an email or an E.164 mobile; each is unique in your account (422 when taken: "
        "use `POST /v1/contacts/upsert` to update instead). `dob` takes DD-MM-YYYY or YYYY-MM-DD.",
        request=ContactCreateSerializer,
        responses={201: ContactSerializer, 422: unprocessable(BAD_MOBILE), **common_responses()},
        examples=[
            OpenApiExample("New contact", value=WRITE_EXAMPLE, request_only=True),
            OpenApiExample("Created", value=CONTACT_EXAMPLE, response_only=True),
        ],
    )
    def create(self, request: Request) -> Response:
        payload = ContactCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        fields, tag_args = payload.split()
        tags = [*tag_args.get("tags", []), *tag_args.get("add_tags", [])]
        try:
            contact = services.contact_create(account=request_account(request), fields=fields, tags=tags)  # type: ignore[arg-type]
        except services.ContactError as exc:
            raise contact_error(exc) from exc
        return Response(serialize_contacts([contact], account_id=contact.account_id, many=False), status=201)

    @extend_schema(
        summary="Create or update a contact by email (else mobile)",
        description="Finds the contact by `email`, else by `mobile`, and updates the fields given (attributes "
        "merge); creates it when there is none. Answers 201 when created, 200 when updated.",
        request=ContactCreateSerializer,
        responses={
            200: ContactSerializer,
            201: ContactSerializer,
            422: unprocessable(BAD_MOBILE),
            **common_responses(),
        },
        examples=[
            OpenApiExample(
                "Upsert", value={"email": "example@gmail.com", "city": "Leeds", "add_tags": ["vip"]}, request_only=True
            ),
            OpenApiExample("Contact", value=CONTACT_EXAMPLE, response_only=True),
        ],
    )
    @action(detail=False, methods=["post"])
    def upsert(self, request: Request) -> Response:
        payload = ContactCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        fields, tag_args = payload.split()
        try:
            contact, created = services.contact_upsert(account=request_account(request), fields=fields, **tag_args)  # type: ignore[arg-type]
        except services.ContactError as exc:
            raise contact_error(exc) from exc
        body = serialize_contacts([contact], account_id=contact.account_id, many=False)
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary="Change a contact",
        description="Only the fields given change. `attributes` merge (null removes a key); `tags` replaces the "
        "set, `add_tags` / `remove_tags` change it.",
        request=ContactWriteSerializer,
        responses={200: ContactSerializer, 422: unprocessable(BAD_MOBILE), **common_responses(with_not_found=True)},
        examples=[
            OpenApiExample("Change", value={"status": "unsubscribed", "attributes": {"plan": None}}, request_only=True),
            OpenApiExample("Contact", value=CONTACT_EXAMPLE, response_only=True),
        ],
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        contact = self.get_object()
        payload = ContactWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        fields, tag_args = payload.split()
        try:
            contact = services.contact_update(contact=contact, fields=fields, **tag_args)  # type: ignore[arg-type]
        except services.ContactError as exc:
            raise contact_error(exc) from exc
        return Response(serialize_contacts([contact], account_id=contact.account_id, many=False))

    def destroy(self, request: Request, pk: str) -> Response:
        services.contact_delete(contact=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        methods=["POST"],
        summary="Add tags to a contact",
        request=TagsChangeSerializer,
        responses={200: ContactSerializer, 422: unprocessable(), **common_responses(with_not_found=True)},
        examples=[
            OpenApiExample("Tags", value={"tags": ["red sneakers", "vip"]}, request_only=True),
            OpenApiExample("Contact", value=CONTACT_EXAMPLE, response_only=True),
        ],
    )
    @extend_schema(
        methods=["DELETE"],
        summary="Remove tags from a contact",
        description='Name the tags in the body (`{"tags": [...]}`) or as `?tags=a,b`. Unknown names are ignored.',
        request=TagsChangeSerializer,
        parameters=[OpenApiParameter("tags", OpenApiTypes.STR, description="Comma-separated tag names.")],
        responses={200: ContactSerializer, 422: unprocessable(), **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Contact", value=CONTACT_EXAMPLE, response_only=True)],
    )
    @action(detail=True, methods=["post", "delete"])
    def tags(self, request: Request, pk: str) -> Response:
        contact = self.get_object()
        data = request.data if request.data else {"tags": request.query_params.get("tags", "")}
        payload = TagsChangeSerializer(data=data)
        payload.is_valid(raise_exception=True)
        names = payload.validated_data["tags"]
        if request.method == "POST":
            contact = services.contact_tags_change(contact=contact, add=names)
        else:
            contact = services.contact_tags_change(contact=contact, remove=names)
        return Response(serialize_contacts([contact], account_id=contact.account_id, many=False))

    def get_object(self) -> Contact:
        # Filters are for lists (and the timeline's events); looking one contact up ignores them.
        contact = get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])
        self.check_object_permissions(self.request, contact)
        return contact


@extend_schema(
    summary="A contact's timeline",
    description="Events newest first, cursor-paginated; filter by `name` (comma-separated), `source`, and "
    "`since` / `until` (ISO 8601).",
    responses={200: ContactEventSerializer(many=True), 422: unprocessable(), **common_responses(with_not_found=True)},
    examples=[OpenApiExample("Timeline", value=[EVENT_EXAMPLE], response_only=True)],
)
class ContactTimelineApi(ContactsApiMixin, generics.ListAPIView):
    serializer_class = ContactEventSerializer
    pagination_class = TimelineCursorPagination
    filterset_class = ContactEventFilter
    filter_backends = [QueryFilterBackend]

    def get_queryset(self) -> QuerySet[ContactEvent]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no caller
            return ContactEvent.objects.none()
        contact = get_object_or_404(contact_list(account=request_account(self.request)), pk=self.kwargs["pk"])
        return contact_timeline(contact=contact)
