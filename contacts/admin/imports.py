from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from accounts.models import Account
from contacts import services
from contacts.csv_import import encoding_named
from contacts.csv_import.jobs import blob_chunks
from contacts.models import ContactImport, ContactImportBlob
from contacts.normalize import clean_tag_names, normalize_region


class UploadForm(forms.Form):
    account = forms.ModelChoiceField(Account.objects.order_by("name"))
    file = forms.FileField(help_text="A CSV with a header row: email and/or mobile, then any other columns.")
    encoding = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Detect (UTF-8, UTF-16 with a byte order mark, or cp1252)"),
            ("utf-8", "UTF-8"),
            ("utf-16", "UTF-16 (with a byte order mark)"),
            ("cp1252", "Windows-1252 (cp1252, Excel on Windows)"),
            ("latin-1", "Latin-1 (ISO-8859-1)"),
        ],
        help_text="Detected unless chosen; a byte the encoding cannot read makes only its row an error.",
    )
    tags = forms.CharField(required=False, help_text="Comma-separated tags added to every imported contact.")
    update_existing = forms.BooleanField(required=False, help_text="Overwrite fields of contacts that exist.")
    default_region = forms.CharField(
        required=False, max_length=2, help_text="For national mobile numbers, e.g. GB (else E.164 is required)."
    )

    def clean_tags(self) -> list[str]:
        return clean_tag_names(self.cleaned_data.get("tags") or "")

    def clean_default_region(self) -> str:
        value = self.cleaned_data.get("default_region") or ""
        return normalize_region(value) if value else ""

    def clean_encoding(self) -> str:
        value = self.cleaned_data.get("encoding") or ""
        try:
            return encoding_named(value).name if value else ""
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


@admin.register(ContactImport)
class ContactImportAdmin(admin.ModelAdmin):
    list_display = (
        "filename",
        "account",
        "source",
        "status",
        "progress",
        "rows_read",
        "created_count",
        "updated_count",
        "error_count",
        "created_at",
    )
    list_filter = ("status", "source")
    search_fields = ("filename", "account__name")
    list_select_related = ("account",)
    raw_id_fields = ("account", "created_by")
    fields = (
        "account",
        "filename",
        "status",
        "progress",
        "rows_read",
        "created_count",
        "updated_count",
        "unchanged_count",
        "error_count",
        "error_file",
        "failure",
        "tags",
        "update_existing",
        "default_region",
        "encoding",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("upload/", view(self.upload_view), name="contacts_contactimport_upload"),
            path("<uuid:pk>/errors.csv", view(self.errors_view), name="contacts_contactimport_errors"),
            *super().get_urls(),
        ]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:contacts_contactimport_upload"))

    @admin.display(description="Progress")
    def progress(self, job: ContactImport) -> str:
        if job.status == ContactImport.Status.FAILED:
            return "failed"
        return f"{job.percent}%"

    @admin.display(description="Error file")
    def error_file(self, job: ContactImport) -> str:
        if not job.error_count:
            return "-"
        url = reverse("admin:contacts_contactimport_errors", args=[job.pk])
        return format_html('<a href="{}">Download {} bad row(s) as CSV</a>', url, job.error_count)

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = services.contact_import_create(
                    account=form.cleaned_data["account"],
                    upload=upload,
                    filename=upload.name,
                    tags=form.cleaned_data["tags"],
                    update_existing=form.cleaned_data["update_existing"],
                    default_region=form.cleaned_data["default_region"],
                    encoding=form.cleaned_data["encoding"],
                    created_by=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return HttpResponseRedirect(reverse("admin:contacts_contactimport_change", args=[job.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Import contacts from CSV",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/contacts/contactimport/upload.html", context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        job = ContactImport.objects.filter(pk=object_id).first()
        running = job is not None and job.status in (ContactImport.Status.QUEUED, ContactImport.Status.RUNNING)
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "refresh": running})

    def errors_view(self, request: HttpRequest, pk: str) -> HttpResponseBase:
        job = get_object_or_404(ContactImport, pk=pk)
        response = StreamingHttpResponse(blob_chunks(job, ContactImportBlob.Kind.ERRORS), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{job.filename}.errors.csv"'
        return response
