from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import slugify

from contacts.csv_export import export_lines
from contacts.models import Segment
from contacts.selectors import contacts_matching, segment_contacts, segment_count


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ("account", "name", "description", "filters")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        account, filters = data.get("account"), data.get("filters")
        if account is not None and isinstance(filters, dict):
            try:
                contacts_matching(account=account, filters=filters)
            except ValidationError as exc:
                raise ValidationError(
                    {"filters": [f"{key}: {' '.join(m)}" for key, m in exc.message_dict.items()]}
                ) from exc
        elif filters is not None and not isinstance(filters, dict):
            raise ValidationError({"filters": 'Give a JSON object, e.g. {"tags": ["vip"]}.'})
        return data


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    list_display = ("name", "account", "contacts", "filters", "updated_at")
    search_fields = ("name", "account__name")
    list_select_related = ("account",)
    raw_id_fields = ("account",)
    readonly_fields = ("contacts", "created_at", "updated_at")
    actions = ("export_csv",)
    list_per_page = 20  # each row counts its segment live

    @admin.display(description="Contacts now")
    def contacts(self, segment: Segment) -> str:
        if segment.pk is None:
            return "-"
        count = segment_count(segment=segment)
        if count is None:
            return "filters no longer valid"
        url = reverse("admin:contacts_contact_changelist") + f"?segment={segment.pk}"
        return format_html('<a href="{}">{}</a>', url, f"{count:,}")

    @admin.action(description="Export the selected segment's contacts as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Segment]) -> HttpResponseBase | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one segment to export.", messages.ERROR)
            return None
        segment = queryset.select_related("account").get()
        try:
            contacts = segment_contacts(segment=segment)
        except ValidationError:
            self.message_user(request, f"{segment}'s filters are no longer valid; fix them first.", messages.ERROR)
            return None
        response = StreamingHttpResponse(export_lines(contacts, account_id=segment.account_id), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{slugify(segment.name) or "segment"}.csv"'
        return response
