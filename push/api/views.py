"""The push API: apps, devices and pushes, each scoped to the caller's account."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Account
from accounts.permissions import request_account
from accounts.scoping import AccountScopedMixin
from accounts.selectors import aws_connection_for_account
from config.api.errors import RequestValidationError, UnprocessableEntity, error_entry
from config.api.schema import common_responses, unprocessable
from config.api.serializers import DetailSerializer
from contacts.models import Contact, Segment
from contacts.normalize import normalize_email, normalize_mobile
from contacts.services import ContactError, ContactFields, contact_upsert
from emails.templating.sending import TemplateSends, names_template
from push import payloads, selectors, services
from push.api import examples
from push.api.serializers import (
    DeliverySerializer,
    DeviceDetailSerializer,
    DeviceRegisterSerializer,
    DeviceSerializer,
    PushAcceptedSerializer,
    PushAppCreateSerializer,
    PushAppSerializer,
    PushCreateSerializer,
    PushDetailSerializer,
    PushSerializer,
)
from push.filters import DeliveryFilter, DeviceFilter, PushFilter
from push.models import PushApp, PushDevice, PushMessage
from push.services.content import content_of

_UUID = r"[0-9a-fA-F-]{36}"


def _conflict(detail: str, **extra: Any) -> Response:
    return Response({"detail": detail, **extra}, status=status.HTTP_409_CONFLICT)


# -- apps -------------------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List push apps",
        responses={200: PushAppSerializer(many=True), **common_responses()},
        examples=[
            OpenApiExample(
                "Page", value={"next": None, "previous": None, "results": [examples.APP]}, response_only=True
            )
        ],
    ),
    retrieve=extend_schema(
        summary="One push app",
        responses={200: PushAppSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("App", value=examples.APP, response_only=True)],
    ),
)
class PushAppViewSet(
    AccountScopedMixin[PushApp], mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    scoped_model = PushApp
    serializer_class = PushAppSerializer
    lookup_value_regex = _UUID

    def scoped_queryset(self, queryset: QuerySet[PushApp]) -> QuerySet[PushApp]:
        return queryset.select_related("connection").defer("credentials")

    @extend_schema(
        summary="Add a push app",
        description="Creates the SNS platform application (CreatePlatformApplication) from an APNs .p8 key or an FCM "
        "service-account JSON, stored encrypted and never shown again; or adopts an existing platform application "
        "by its ARN. Its endpoint and delivery-failure events are sent to the connection's SNS topic.",
        request=PushAppCreateSerializer,
        responses={201: PushAppSerializer, 422: unprocessable(), **common_responses()},
        examples=[
            OpenApiExample("APNs key", value=examples.APNS_APP_REQUEST, request_only=True),
            OpenApiExample("FCM service account", value=examples.FCM_APP_REQUEST, request_only=True),
            OpenApiExample("Adopt an ARN", value=examples.ADOPT_APP_REQUEST, request_only=True),
            OpenApiExample("Created", value=examples.APP, response_only=True),
        ],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = PushAppCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data, account = payload.validated_data, request_account(request)
        connection = aws_connection_for_account(account=account, identifier=data.get("config_identifier"))
        if connection is None:
            raise UnprocessableEntity(
                [
                    error_entry(
                        ["body", "config_identifier"], "no such AWS connection (and no default)", "value_error.unknown"
                    )
                ]
            )
        if "platform_application_arn" in data:
            app = services.push_app_adopt(
                account=account, connection=connection, name=data["name"], arn=data["platform_application_arn"]
            )
        else:
            credentials = (
                services.apns_credentials(**data["apns"])
                if "apns" in data
                else services.fcm_credentials(service_account=data["fcm"]["service_account"])
            )
            app = services.push_app_create(
                account=account,
                connection=connection,
                name=data["name"],
                platform=data["platform"],
                credentials=credentials,
            )
        return Response(PushAppSerializer(app).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Pause a push app",
        description="Its pushes are held (not failed) until it is resumed.",
        request=None,
        responses={200: PushAppSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Paused", value=examples.PAUSED_APP, response_only=True)],
    )
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        app = self.get_object()
        services.push_app_pause(app=app, reason="paused through the API")
        return Response(PushAppSerializer(app).data)

    @extend_schema(
        summary="Resume a paused push app",
        description="Held pushes go out again, and endpoints SNS disabled while the app was broken are enabled.",
        request=None,
        responses={200: PushAppSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Active", value=examples.APP, response_only=True)],
    )
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        app = self.get_object()
        services.push_app_resume(app=app)
        return Response(PushAppSerializer(app).data)


# -- devices ----------------------------------------------------------------------------------------------------


def _contact_for_device(account: Account, ref: int | str) -> Contact:
    """The contact a device belongs to: by id (it must exist), or by email or mobile (created on first sight)."""
    found = selectors.contact_by_ref(account=account, ref=ref)
    if found is not None:
        return found
    if isinstance(ref, int):
        raise UnprocessableEntity(
            [error_entry(["body", "contact"], "no such contact in your account", "value_error.unknown")]
        )
    try:
        fields: ContactFields = {"email": normalize_email(ref)} if "@" in ref else {"mobile": normalize_mobile(ref)}
        contact, _ = contact_upsert(account=account, fields=fields)
    except DjangoValidationError as exc:
        raise UnprocessableEntity(
            [error_entry(["body", "contact"], "; ".join(exc.messages), "value_error.invalid")]
        ) from exc
    except ContactError as exc:
        raise UnprocessableEntity([error_entry(["body", "contact"], str(exc), exc.code)]) from exc
    return contact


@extend_schema_view(
    list=extend_schema(
        summary="List devices",
        description="Filter by `app`, `platform`, `contact`, `enabled`, `created_after` / `created_before`.",
        responses={200: DeviceSerializer(many=True), **common_responses()},
        examples=[
            OpenApiExample(
                "Page", value={"next": None, "previous": None, "results": [examples.DEVICE]}, response_only=True
            )
        ],
    ),
    retrieve=extend_schema(
        summary="One device with its timeline",
        responses={200: DeviceDetailSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Device", value=examples.DEVICE_DETAIL, response_only=True)],
    ),
    destroy=extend_schema(
        summary="Remove a device",
        description="Deletes its SNS endpoint; its past pushes keep their history.",
        responses={204: None, 422: unprocessable(), **common_responses(with_not_found=True)},
    ),
)
class PushDeviceViewSet(
    AccountScopedMixin[PushDevice],
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    scoped_model = PushDevice
    filterset_class = DeviceFilter
    lookup_value_regex = _UUID

    def scoped_queryset(self, queryset: QuerySet[PushDevice]) -> QuerySet[PushDevice]:
        queryset = queryset.select_related("app", "app__connection")
        return queryset.prefetch_related("events") if self.action == "retrieve" else queryset

    def get_serializer_class(self) -> Any:
        return DeviceDetailSerializer if self.action == "retrieve" else DeviceSerializer

    @extend_schema(
        summary="Register a device",
        description="Idempotent by token: a known token answers its device (200), a new one creates an SNS "
        "platform endpoint (201). A known device's endpoint is checked (GetEndpointAttributes): a changed token "
        "or a disabled endpoint is set and enabled again, a deleted one is created anew. Pass `device_id` to carry "
        "a device over to a new token. `contact` (id, email or E.164 mobile) links it; an unknown email or mobile "
        "creates the contact.",
        request=DeviceRegisterSerializer,
        responses={200: DeviceSerializer, 201: DeviceSerializer, 422: unprocessable(), **common_responses()},
        examples=[
            OpenApiExample("iPhone", value=examples.DEVICE_REQUEST, request_only=True),
            OpenApiExample("Registered", value=examples.DEVICE, response_only=True),
        ],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = DeviceRegisterSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data, account = payload.validated_data, request_account(request)
        app = PushApp.objects.select_related("connection").filter(account=account, pk=data["app"]).first()
        if app is None:
            raise UnprocessableEntity(
                [error_entry(["body", "app"], "no such push app in your account", "value_error.unknown")]
            )
        contact = _contact_for_device(account, data["contact"]) if "contact" in data else None
        registration = services.push_device_register(
            account=account,
            app=app,
            token=data["token"],
            contact=contact,
            locale=data.get("locale"),
            attributes=data.get("attributes"),
            device_id=data.get("device_id"),
        )
        answer = status.HTTP_201_CREATED if registration.created else status.HTTP_200_OK
        return Response(DeviceSerializer(registration.device).data, status=answer)

    def perform_destroy(self, instance: PushDevice) -> None:
        services.push_device_delete(device=instance)


# -- pushes -----------------------------------------------------------------------------------------------------


def _draft(account: Account, data: dict[str, Any]) -> services.PushDraft:
    target = data["to"]
    loc = ["body", "to", next(iter(target))]
    draft = services.PushDraft(
        title=data["title"],
        body=data.get("body", ""),
        data=data["data"],
        badge=data.get("badge"),
        sound=data["sound"],
        ttl_seconds=data.get("ttl_seconds"),
        collapse_key=data["collapse_key"],
        urgency=data["urgency"],
        priority=data.get("priority"),
        schedule_send_at=data.get("schedule_send_at"),
        client_push_id=data.get("client_push_id"),
        tags=data["tags"],
    )
    _check_size(draft)
    if "device" in target:
        draft.device = PushDevice.objects.filter(account=account, pk=target["device"]).first()
        if draft.device is not None and not draft.device.enabled:
            raise UnprocessableEntity(
                [error_entry(loc, f"the device is disabled: {draft.device.disabled_reason}", "value_error.disabled")]
            )
    elif "contact" in target:
        draft.contact = selectors.contact_by_ref(account=account, ref=target["contact"])
    else:
        draft.segment = Segment.objects.filter(account=account, pk=target["segment"]).first()
    if draft.device is None and draft.contact is None and draft.segment is None:
        raise UnprocessableEntity([error_entry(loc, f"no such {loc[-1]} in your account", "value_error.unknown")])
    if names_template(data):
        _fill_from_template(account, draft, data)
        _check_size(draft)
    return draft


def _fill_from_template(account: Account, draft: services.PushDraft, data: dict[str, Any]) -> None:
    """Title, body and data from the template, rendered for the push's contact. A segment send is checked here
    with the call's variables alone, and rendered again for each contact as it fans out (push_fanout_step)."""
    contact = draft.contact or (draft.device.contact if draft.device else None)
    per_contact = draft.segment is not None
    sends = TemplateSends(account=account, channel="push")
    given = {key: data[key] for key in ("title", "body", "data", "template", "variables") if key in data}
    filled, draft.template_version = sends.fill(given, loc=["body"], contact=contact, per_contact=per_contact)
    draft.title, draft.body, draft.data = filled.get("title", ""), filled.get("body", ""), filled.get("data", {})
    if per_contact:
        draft.variables = dict(data.get("variables") or {})
    reserved = payloads.reserved_data_keys(draft.data)
    if reserved:
        raise UnprocessableEntity(
            [
                error_entry(
                    ["body", "template"],
                    f"the template's data uses {', '.join(reserved)}, reserved by APNs or FCM; rename those keys",
                    "value_error.reserved",
                )
            ]
        )


def _check_size(draft: services.PushDraft) -> None:
    content = content_of(
        PushMessage(
            title=draft.title,
            body=draft.body,
            data=draft.data,
            badge=draft.badge,
            sound=draft.sound,
            ttl_seconds=draft.ttl_seconds,
            collapse_key=draft.collapse_key,
            urgency=draft.urgency,
        )
    )
    problem = payloads.size_problem(content)
    if problem:
        raise UnprocessableEntity([error_entry(["body"], problem, "value_error.size")])


@extend_schema_view(
    list=extend_schema(
        summary="List pushes",
        description="Newest first. Filter by `status`, `target`, `contact`, `device`, `segment`, `tag`, "
        "`client_push_id`, `created_after` / `created_before`.",
        responses={200: PushSerializer(many=True), **common_responses()},
        examples=[
            OpenApiExample(
                "Page", value={"next": None, "previous": None, "results": [examples.PUSH]}, response_only=True
            )
        ],
    ),
)
class PushViewSet(AccountScopedMixin[PushMessage], mixins.ListModelMixin, viewsets.GenericViewSet):
    scoped_model = PushMessage
    serializer_class = PushSerializer
    filterset_class = PushFilter
    lookup_value_regex = _UUID

    def get_serializer_class(self) -> Any:
        return DeliverySerializer if self.action == "deliveries" else PushSerializer

    @extend_schema(
        summary="Send a push",
        description="To one device, a contact's enabled devices, or a saved segment's (fanned out in the "
        "background, contact by contact, without unsubscribed contacts). Each device gets one delivery, sent by "
        "priority at the connection's push rate; nothing is sent inside the request.",
        request=PushCreateSerializer,
        responses={
            200: PushAcceptedSerializer,
            409: OpenApiResponse(
                DetailSerializer,
                description="client_push_id was used before",
                examples=[OpenApiExample("Duplicate", value=examples.DUPLICATE)],
            ),
            422: unprocessable(),
            **common_responses(),
        },
        examples=[
            OpenApiExample("To a contact", value=examples.PUSH_REQUEST, request_only=True),
            OpenApiExample("To a segment", value=examples.SEGMENT_REQUEST, request_only=True),
            OpenApiExample("Accepted", value=examples.ACCEPTED, response_only=True),
        ],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = PushCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        account = request_account(request)
        try:
            message = services.push_accept(account=account, draft=_draft(account, payload.validated_data))
        except services.DuplicateClientPushId as error:
            return _conflict(str(error), id=str(error.existing_id))
        return Response(PushAcceptedSerializer(message).data)

    @extend_schema(
        summary="One push with its outcomes and per-device timelines",
        description=f"The first {selectors.DETAIL_DELIVERIES} deliveries inline; all at /v1/push/{{id}}/deliveries.",
        responses={200: PushDetailSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Push", value=examples.PUSH_DETAIL, response_only=True)],
    )
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        message = self.get_object()
        context = selectors.push_detail_context(message=message)
        return Response(PushDetailSerializer(message, context=context).data)

    @extend_schema(
        summary="A push's deliveries, one per device, with their timelines",
        responses={200: DeliverySerializer(many=True), **common_responses(with_not_found=True)},
        examples=[
            OpenApiExample(
                "Page", value={"next": None, "previous": None, "results": [examples.DELIVERY]}, response_only=True
            )
        ],
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: str | None = None) -> Response:
        message = get_object_or_404(self.get_queryset(), pk=pk)  # the list's filters are not the deliveries'
        filters = DeliveryFilter(request.query_params, selectors.push_deliveries(message=message))
        if not filters.is_valid():
            raise RequestValidationError(dict(filters.errors), location="query")
        self.extra_query_params = tuple(DeliveryFilter.base_filters)  # what this list knows (config/api/query.py)
        page = self.paginate_queryset(filters.qs)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(
        summary="Cancel what has not been sent",
        request=None,
        responses={
            200: PushSerializer,
            409: OpenApiResponse(
                DetailSerializer,
                description="Everything was sent already",
                examples=[
                    OpenApiExample(
                        "Too late",
                        value={
                            "detail": "Every delivery of this push has been sent or has failed; nothing is "
                            "left to cancel."
                        },
                    )
                ],
            ),
            **common_responses(with_not_found=True),
        },
        examples=[OpenApiExample("Cancelled", value={**examples.PUSH, "status": "cancelled"}, response_only=True)],
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        message = self.get_object()
        try:
            services.push_cancel(message=message)
        except services.NotCancellable as error:
            return _conflict(str(error))
        return Response(PushSerializer(message).data)
