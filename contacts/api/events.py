from collections.abc import Mapping
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiRequest, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import request_account
from config.api.errors import error_entry, validation_response
from config.api.schema import common_responses, unprocessable
from contacts.api.base import ContactsApiMixin
from contacts.api.serializers import EventsResultSerializer
from contacts.ingest import EVENT_FIELDS, MAX_EVENTS_PER_CALL, contact_events_record, event_from_item


class EventInputSerializer(serializers.Serializer):
    """Documentation only: events are checked by contacts.ingest.event_from_item, item by item."""

    email = serializers.EmailField(required=False, help_text="Names the contact (created on first sight) …")
    mobile = serializers.CharField(required=False, help_text="… or an E.164 mobile does.")
    name = serializers.CharField(max_length=100)
    properties = serializers.DictField(required=False)
    occurred_at = serializers.DateTimeField(required=False, help_text="ISO 8601; defaults to now.")
    source = serializers.ChoiceField(  # type: ignore[assignment]  # a field, not Field.source
        choices=["api", "email", "sms", "push", "import"], required=False
    )
    add_tags = serializers.ListField(child=serializers.CharField(), required=False)
    remove_tags = serializers.ListField(child=serializers.CharField(), required=False)


class EventBatchSerializer(serializers.Serializer):
    events = EventInputSerializer(many=True, help_text=f"1 to {MAX_EVENTS_PER_CALL:,} events.")


ONE_EVENT = {
    "email": "example@gmail.com",
    "name": "added_to_wishlist",
    "properties": {"product": "red sneakers", "price": 89.5},
    "occurred_at": "2026-11-22T10:04:51Z",
    "add_tags": ["red sneakers"],
}


class ContactEventsIngestApi(ContactsApiMixin, APIView):
    @extend_schema(
        summary="Stream behaviour events onto contact timelines",
        description=f'One event object, or `{{"events": [...]}}` with up to {MAX_EVENTS_PER_CALL:,}. Each names '
        "its contact by `email` or `mobile`; unknown contacts are created. An event may add or remove tags. "
        "Invalid items are listed in `errors` (loc points at the item) and the valid ones are stored; when no item "
        "is valid the call answers 422 and stores nothing.",
        request=OpenApiRequest(EventBatchSerializer),
        responses={200: EventsResultSerializer, 422: unprocessable(), **common_responses()},
        examples=[
            OpenApiExample("A batch", value={"events": [ONE_EVENT]}, request_only=True),
            OpenApiExample("One event", value=ONE_EVENT, request_only=True),
            OpenApiExample(
                "Stored, one rejected",
                response_only=True,
                value={
                    "accepted": 999,
                    "rejected": 1,
                    "contacts_created": 12,
                    "errors": [
                        {
                            "loc": ["body", "events", 17, "mobile"],
                            "msg": "'+44 20 7183 8750' is not in E.164 format … Send '+442071838750'.",
                            "type": "value_error.invalid",
                        }
                    ],
                },
            ),
        ],
        tags=["contacts"],
    )
    def post(self, request: Request) -> Response:
        body: Any = request.data
        if isinstance(body, Mapping) and "events" in body:
            base: list[str | int] = ["body", "events"]
            items = body["events"]
            extra = [key for key in body if key != "events"]
            if extra:
                return validation_response(
                    [
                        error_entry(["body", key], f'Unknown field {key!r}; send {{"events": [...]}}.', "extra")
                        for key in extra
                    ]
                )
            if not isinstance(items, list):
                return validation_response([error_entry(base, "Give events as a list.", "not_a_list")])
            if not 1 <= len(items) <= MAX_EVENTS_PER_CALL:
                return validation_response(
                    [
                        error_entry(
                            base,
                            f"Send 1 to {MAX_EVENTS_PER_CALL:,} events per call, not {len(items):,}.",
                            "max_items" if items else "empty",
                        )
                    ]
                )
            batch = True
        elif isinstance(body, Mapping):
            items, base, batch = [body], ["body"], False
        else:
            return validation_response(
                [
                    error_entry(
                        ["body"],
                        f'Send one event object, or {{"events": [...]}} (fields: {", ".join(EVENT_FIELDS)}).',
                        "type_error.dict",
                    )
                ]
            )
        now = timezone.now()
        good = []
        errors: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            event, problems = event_from_item(item, now=now)
            if event is not None:
                good.append(event)
            prefix = [*base, index] if batch else base
            errors.extend({"loc": [*prefix, *tail], "msg": msg, "type": kind} for tail, msg, kind in problems)
        if not good:
            return Response({"detail": errors}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        result = contact_events_record(account=request_account(request), events=good)
        return Response(
            {
                "accepted": result.accepted,
                "rejected": len(items) - len(good),
                "contacts_created": result.contacts_created,
                "errors": errors,
            }
        )
