"""/v1/templates: an account's message templates of every channel, their versions, and previews."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import request_account
from accounts.scoping import AccountScopedMixin
from config.api.errors import Conflict, UnprocessableEntity, error_entry
from config.api.parsers import JsonParser, MultiPartParser
from config.api.schema import common_responses, unprocessable
from config.api.serializers import DetailSerializer
from emails.templating import examples, services
from emails.templating.content import CHANNEL_FIELDS
from emails.templating.engine import MAX_SOURCE_CHARS
from emails.templating.filters import TemplateFilter
from emails.templating.models import Template, TemplateVersion
from emails.templating.serializers import (
    PreviewResultSerializer,
    PreviewSerializer,
    TemplateCreateSerializer,
    TemplateDetailSerializer,
    TemplateSerializer,
    TemplateUpdateSerializer,
    TemplateVersionSerializer,
)

_UUID = r"[0-9a-fA-F-]{36}"
_CONTENT = ("subject", "html", "text", "body", "title", "data")

CONFLICT = OpenApiResponse(
    DetailSerializer,
    description="Another live template of the channel has that name.",
    examples=[OpenApiExample("Name taken", value=examples.NAME_TAKEN)],
)
SYNTAX = unprocessable(OpenApiExample("Template syntax error", value=examples.SYNTAX_ERROR))


_UPDATE_DOC: dict[str, Any] = {
    "description": "New content or variables make a new version (the fields left out keep their current text); "
    "the old versions stay, and messages keep pointing at the version they used. A new name or description alone "
    "changes the template only. PUT and PATCH both take any subset of the fields.",
    "request": {"application/json": TemplateUpdateSerializer, "multipart/form-data": TemplateUpdateSerializer},
    "responses": {
        200: TemplateDetailSerializer,
        409: OpenApiResponse(
            DetailSerializer,
            description="Another live template of the channel has that name, or the template is archived.",
            examples=[
                OpenApiExample("Name taken", value=examples.NAME_TAKEN),
                OpenApiExample("Archived", value={"detail": "the template is archived; create a new one"}),
            ],
        ),
        422: SYNTAX,
        **common_responses(with_not_found=True),
    },
    "examples": [
        OpenApiExample("New HTML", value=examples.UPDATE, request_only=True),
        OpenApiExample(
            "Version 2",
            value={**examples.TEMPLATE_DETAIL, "version": 2, "current_version": {**examples.VERSION, "number": 2}},
            response_only=True,
        ),
    ],
}


def _content(values: dict[str, Any]) -> dict[str, Any]:
    """The template fields of a validated request, with an uploaded HTML file read as the `html` field."""
    content = {name: values[name] for name in _CONTENT if name in values}
    upload = values.get("html_file")
    if upload is None:
        return content
    if "html" in values:
        raise UnprocessableEntity(
            [error_entry(["body", "html_file"], "give html or html_file, not both", "value_error.conflict")]
        )
    if upload.size and upload.size > MAX_SOURCE_CHARS * 4:  # 4 bytes per character at most in UTF-8
        raise UnprocessableEntity(
            [error_entry(["body", "html_file"], f"at most {MAX_SOURCE_CHARS // 1024} KB", "value_error.size")]
        )
    raw = upload.read()
    try:
        content["html"] = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnprocessableEntity(
            [error_entry(["body", "html_file"], "the file is not UTF-8 text; save it as UTF-8", "value_error.encoding")]
        ) from None
    return content


@extend_schema_view(
    list=extend_schema(
        summary="List templates",
        description="Newest first. Live templates unless `archived=true`; filter by `channel`, `name`, `q`.",
        responses={200: TemplateSerializer(many=True), **common_responses()},
        examples=[OpenApiExample("Page", value=examples.PAGE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One template with its current version",
        responses={200: TemplateDetailSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Template", value=examples.TEMPLATE_DETAIL, response_only=True)],
    ),
    destroy=extend_schema(
        summary="Archive a template",
        description="It can no longer be sent and leaves the default list; its versions stay for the messages "
        "that used them, and its name is free again.",
        responses={204: None, **common_responses(with_not_found=True)},
    ),
)
class TemplateViewSet(
    AccountScopedMixin[Template],
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    scoped_model = Template
    filterset_class = TemplateFilter
    lookup_value_regex = _UUID
    parser_classes = [JsonParser, MultiPartParser]

    def scoped_queryset(self, queryset: QuerySet[Template]) -> QuerySet[Template]:
        return queryset.select_related("current_version")

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        # The list's filters (live templates by default) are not a detail route's: an archived one is still found.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def get_serializer_class(self) -> Any:
        return TemplateDetailSerializer if self.action == "retrieve" else TemplateSerializer

    @extend_schema(
        summary="Create a template",
        description="Email: `subject` and `html` and/or `text` (the text part is derived from the HTML when left "
        "out); the HTML may be uploaded as `html_file` in a multipart/form-data request. SMS: `body`. Push: "
        "`title`, `body`, `data`. Every text is a Liquid template; a syntax error is a 422 at its field, naming the "
        "line.",
        request={"application/json": TemplateCreateSerializer, "multipart/form-data": TemplateCreateSerializer},
        responses={201: TemplateDetailSerializer, 409: CONFLICT, 422: SYNTAX, **common_responses()},
        examples=[
            OpenApiExample("Email", value=examples.CREATE_EMAIL, request_only=True),
            OpenApiExample("SMS", value=examples.CREATE_SMS, request_only=True),
            OpenApiExample("Push", value=examples.CREATE_PUSH, request_only=True),
            OpenApiExample("Created", value=examples.TEMPLATE_DETAIL, response_only=True),
        ],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = TemplateCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        values = dict(payload.validated_data)
        template = services.template_create(
            account=request_account(request),
            channel=values["channel"],
            name=values["name"],
            description=values.get("description", ""),
            content=_content(values),
            variables=values.get("variables"),
        )
        return Response(TemplateDetailSerializer(template).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Change a template", **_UPDATE_DOC)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        template = self.get_object()
        if template.archived_at is not None:
            raise Conflict("the template is archived; create a new one")
        payload = TemplateUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        values = dict(payload.validated_data)
        template = services.template_update(
            template=template,
            content=_content(values),
            variables=values.get("variables"),
            name=values.get("name"),
            description=values.get("description"),
        )
        return Response(TemplateDetailSerializer(template).data)

    @extend_schema(summary="Change a template (same as PUT)", **_UPDATE_DOC)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, **kwargs)

    def perform_destroy(self, instance: Template) -> None:
        services.template_archive(template=instance)

    @extend_schema(
        summary="A template's versions",
        description="Newest first; each with its full text and declared variables.",
        responses={200: TemplateVersionSerializer(many=True), **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Page", value=examples.VERSIONS_PAGE, response_only=True)],
    )
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, pk: str | None = None) -> Response:
        template = self.get_object()
        self.extra_query_params: tuple[str, ...] = ()  # this list takes only cursor and limit
        versions = TemplateVersion.objects.filter(template=template).select_related("template")
        page = self.paginate_queryset(versions)
        return self.get_paginated_response(TemplateVersionSerializer(page, many=True).data)

    @extend_schema(
        summary="Preview a template",
        description="Renders the current version (or `version`) with a contact's values (`contact`: id, email or "
        "mobile) and/or sample `variables` (which win), as a send would. Missing variables are listed in "
        "`missing` instead of refused.",
        request=PreviewSerializer,
        responses={
            200: PreviewResultSerializer,
            422: unprocessable(
                OpenApiExample(
                    "Unknown contact",
                    value={
                        "detail": [
                            {
                                "loc": ["body", "contact"],
                                "msg": "no such contact in your account",
                                "type": "value_error.unknown",
                            }
                        ]
                    },
                )
            ),
            **common_responses(with_not_found=True),
        },
        examples=[
            OpenApiExample("Contact and variables", value=examples.PREVIEW_REQUEST, request_only=True),
            OpenApiExample("Rendered", value=examples.PREVIEW, response_only=True),
            OpenApiExample("A variable missing", value=examples.PREVIEW_MISSING, response_only=True),
        ],
    )
    @action(detail=True, methods=["post"])
    def preview(self, request: Request, pk: str | None = None) -> Response:
        template = self.get_object()
        payload = PreviewSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        values = payload.validated_data
        rendered = services.template_preview(
            template=template,
            variables=values.get("variables"),
            contact_ref=values.get("contact"),
            version_number=values.get("version"),
        )
        body: dict[str, Any] = {"template": str(template.pk), "version": rendered.version.number}
        body["channel"] = template.channel
        body.update({name: getattr(rendered, name) for name in CHANNEL_FIELDS[template.channel]})
        body["missing"] = rendered.missing
        return Response(body)
