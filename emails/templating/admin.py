"""The operator console's view of message templates: read-only (customers edit through the API, which keeps
versions), with every version inline, an archive action and a preview page."""

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from config.api.errors import UnprocessableEntity
from emails.templating import services
from emails.templating.content import CHANNEL_FIELDS
from emails.templating.models import Template, TemplateVersion


class ArchivedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("live", "Live"), ("archived", "Archived")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Template]) -> QuerySet[Template]:
        if self.value() == "live":
            return queryset.filter(archived_at__isnull=True)
        if self.value() == "archived":
            return queryset.filter(archived_at__isnull=False)
        return queryset


class TemplateVersionInline(admin.StackedInline):
    model = TemplateVersion
    fk_name = "template"
    extra = 0
    can_delete = False
    ordering = ("-number",)
    fields = ("number", "created_at", "subject", "html", "text", "text_derived", "body", "title", "data", "variables")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "channel", "account", "current_number", "version_count", "state", "updated_at", "preview")
    list_filter = ("channel", ArchivedFilter)
    search_fields = ("name", "description", "account__name", "=id")
    list_select_related = ("account", "current_version")
    readonly_fields = ("id", "account", "channel", "name", "description", "current_version", "archived_at")
    fields = readonly_fields
    inlines = (TemplateVersionInline,)
    actions = ("archive",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Template]:
        return super().get_queryset(request).annotate(version_total=Count("versions"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # viewable; changed only through the API, which versions every edit

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="version", ordering="current_version__number")
    def current_number(self, template: Template) -> Any:
        return template.current_version.number if template.current_version else "-"

    @admin.display(description="versions", ordering="version_total")
    def version_count(self, template: Template) -> int:
        return int(getattr(template, "version_total", 0))

    @admin.display(description="state", ordering="archived_at")
    def state(self, template: Template) -> str:
        return "archived" if template.archived_at else "live"

    @admin.display(description="preview")
    def preview(self, template: Template) -> str:
        return format_html('<a href="{}">Preview</a>', reverse("admin:emails_template_preview", args=[template.pk]))

    @admin.action(description="Archive the selected templates (no more sends; versions kept)")
    def archive(self, request: HttpRequest, queryset: QuerySet[Template]) -> None:
        archived = 0
        for template in queryset.filter(archived_at__isnull=True):
            services.template_archive(template=template)
            archived += 1
        self.message_user(request, f"{archived} template(s) archived.", messages.SUCCESS)

    def get_urls(self) -> list[Any]:
        preview = path(
            "<uuid:template_id>/preview/",
            self.admin_site.admin_view(self.preview_view),
            name="emails_template_preview",
        )
        return [preview, *super().get_urls()]

    def preview_view(self, request: HttpRequest, template_id: Any) -> HttpResponse:
        """Render a version with sample variables (JSON) and/or a contact, as the API's preview does; a GET form,
        so the page changes nothing."""
        template = get_object_or_404(Template.objects.select_related("account", "current_version"), pk=template_id)
        raw_variables = request.GET.get("variables", "")
        contact = request.GET.get("contact", "").strip()
        version = request.GET.get("version", "").strip()
        errors: list[str] = []
        rendered = None
        variables: Any = None
        if raw_variables.strip():
            try:
                variables = json.loads(raw_variables)
            except json.JSONDecodeError as error:
                errors.append(f"variables: not JSON ({error.msg}, line {error.lineno})")
        if not errors:
            try:
                rendered = services.template_preview(
                    template=template,
                    variables=variables,
                    contact_ref=contact or None,
                    version_number=int(version) if version.isdigit() else None,
                )
            except UnprocessableEntity as problem:
                errors.extend(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in problem.entries)
        fields = [(name, getattr(rendered, name)) for name in CHANNEL_FIELDS[template.channel]] if rendered else []
        context = {
            **self.admin_site.each_context(request),
            "title": f"Preview of {template.name}",
            "template": template,
            "opts": self.model._meta,
            "variables": raw_variables,
            "contact": contact,
            "version": version,
            "errors": errors,
            "rendered": rendered,
            "fields": [(name, value) for name, value in fields if name != "html"],
            "html": rendered.html if rendered else "",
        }
        return TemplateResponse(request, "admin/emails/template_preview.html", context)
