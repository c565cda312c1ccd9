"""/v1/topics: the kinds of bulk mail an account sends, each with the contacts who opted out of it."""

from django.db.models import Count, QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import request_account
from accounts.scoping import AccountScopedMixin
from config.api.schema import common_responses, unprocessable
from contacts import subscriptions
from contacts.api.base import contact_error
from contacts.api.serializers import TopicSerializer, TopicWriteSerializer
from contacts.models import Topic
from contacts.services import ContactError

TOPIC_EXAMPLE = {
    "id": 4,
    "key": "newsletter",
    "name": "Monthly newsletter",
    "description": "News and offers, once a month",
    "opted_out_count": 312,
    "created_at": "2026-11-22T10:00:00Z",
}
TOPIC_WRITE = {key: TOPIC_EXAMPLE[key] for key in ("key", "name", "description")}
DUPLICATE_KEY = OpenApiExample(
    "Key taken",
    value={
        "detail": [{"loc": ["body", "key"], "msg": "A topic with key 'newsletter' already exists.", "type": "unique"}]
    },
)


@extend_schema_view(
    list=extend_schema(
        summary="List topics",
        description="Each with the number of contacts who opted out of it.",
        responses={200: TopicSerializer(many=True), **common_responses()},
        examples=[OpenApiExample("Topics", value=[TOPIC_EXAMPLE], response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One topic",
        responses={200: TopicSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Topic", value=TOPIC_EXAMPLE, response_only=True)],
    ),
    create=extend_schema(
        summary="Create a topic",
        description="Broadcasts target one topic; their unsubscribe links opt contacts out of it.",
        request=TopicWriteSerializer,
        responses={201: TopicSerializer, 422: unprocessable(DUPLICATE_KEY), **common_responses()},
        examples=[
            OpenApiExample("Topic", value=TOPIC_WRITE, request_only=True),
            OpenApiExample("Created", value={**TOPIC_EXAMPLE, "opted_out_count": 0}, response_only=True),
        ],
    ),
    partial_update=extend_schema(
        summary="Change a topic",
        request=TopicWriteSerializer,
        responses={200: TopicSerializer, 422: unprocessable(DUPLICATE_KEY), **common_responses(with_not_found=True)},
        examples=[
            OpenApiExample("Rename", value={"name": "Weekly newsletter"}, request_only=True),
            OpenApiExample("Topic", value=TOPIC_EXAMPLE, response_only=True),
        ],
    ),
    destroy=extend_schema(
        summary="Delete a topic and its opt-outs",
        description="Links in mail already sent for this topic then unsubscribe from everything.",
        responses={204: None, **common_responses(with_not_found=True)},
    ),
)
class TopicViewSet(
    AccountScopedMixin[Topic],
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    scoped_model = Topic
    serializer_class = TopicSerializer
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "delete"]

    def scoped_queryset(self, queryset: QuerySet[Topic]) -> QuerySet[Topic]:
        return queryset.annotate(opted_out_count=Count("opt_outs")).order_by("name", "id")

    def _answer(self, topic: Topic, code: int = status.HTTP_200_OK) -> Response:
        return Response(TopicSerializer(self.get_queryset().get(pk=topic.pk)).data, status=code)

    def create(self, request: Request) -> Response:
        payload = TopicWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            topic = subscriptions.topic_create(account=request_account(request), **payload.validated_data)
        except ContactError as exc:
            raise contact_error(exc) from exc
        return self._answer(topic, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        topic = self.get_object()
        payload = TopicWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        try:
            topic = subscriptions.topic_update(topic=topic, **payload.validated_data)
        except ContactError as exc:
            raise contact_error(exc) from exc
        return self._answer(topic)

    def destroy(self, request: Request, pk: str) -> Response:
        subscriptions.topic_delete(topic=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
