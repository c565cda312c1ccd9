"""Sign-up forms in the operator console: forms with their sign-ups, confirmations and conversion rate, the
snippet to embed; sign-ups as a read-only log."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from config.admin_logs import ReadOnlyLogAdmin
from emails.forms import services
from emails.forms.models import SignupForm, SignupRequest
from emails.forms.selectors import with_stats
from emails.forms.validation import form_problems


class SignupFormAdminForm(forms.ModelForm):
    class Meta:
        model = SignupForm
        fields = ("account", *services.EDITABLE)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        account = data.get("account")
        if account is None or self.errors:
            return data
        values = {name: data.get(name, getattr(self.instance, name)) for name in services.EDITABLE}
        problems: dict[str, list[str]] = {}
        for entry in form_problems(account=account, values=values):
            name = entry["loc"][1] if len(entry["loc"]) > 1 else "__all__"
            where = "".join(f"[{part}]" for part in entry["loc"][2:])
            problems.setdefault(name if name in self.fields else "__all__", []).append(
                f"{where} {entry['msg']}".strip()
            )
        if problems:
            raise ValidationError(problems)
        return data


class ConfirmedFilter(admin.SimpleListFilter):
    title = "confirmed"
    parameter_name = "confirmed"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Confirmed"), ("no", "Waiting")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[SignupRequest]) -> QuerySet[SignupRequest]:
        if self.value() in ("yes", "no"):
            return queryset.filter(confirmed_at__isnull=self.value() == "no")
        return queryset


@admin.register(SignupForm)
class SignupFormAdmin(admin.ModelAdmin):
    form = SignupFormAdminForm
    list_display = ("name", "account", "mode", "trigger", "is_active", "signups", "confirmations", "conversion")
    list_filter = ("is_active", "mode", "trigger", "created_at")
    search_fields = ("name", "=key", "account__name")
    list_select_related = ("account",)
    raw_id_fields = ("account", "topic")
    readonly_fields = ("key", "embed", "signups", "confirmations", "conversion", "created_at", "updated_at")
    actions = ("deactivate", "activate")
    fieldsets = (
        (None, {"fields": ("account", "name", "is_active", "key", "embed")}),
        ("Sign-ups", {"fields": ("signups", "confirmations", "conversion")}),
        ("What it asks", {"fields": ("ask_name", "require_name", "custom_fields", "consent_text")}),
        ("Confirmation email", {"fields": ("sender", "config_identifier")}),
        ("What a confirmed sign-up gets", {"fields": ("tags", "topic")}),
        ("Where and how it shows", {"fields": ("allowed_origins", "mode", "trigger", "delay_seconds",
                                               "scroll_percent", "appearance", "proof_of_work_bits")}),
        (None, {"fields": ("created_at", "updated_at")}),
    )  # fmt: skip

    def get_queryset(self, request: HttpRequest) -> QuerySet[SignupForm]:
        return with_stats(super().get_queryset(request))

    @admin.display(description="Sign-ups", ordering="signups")
    def signups(self, form: SignupForm) -> int:
        return getattr(form, "signups", 0)

    @admin.display(description="Confirmed", ordering="confirmations")
    def confirmations(self, form: SignupForm) -> int:
        return getattr(form, "confirmations", 0)

    @admin.display(description="Conversion", ordering="conversion_rate")
    def conversion(self, form: SignupForm) -> str:
        rate = getattr(form, "conversion_rate", None)
        return "-" if rate is None else f"{rate:.0%}"

    @admin.display(description="Embed snippet")
    def embed(self, form: SignupForm) -> str:
        if form.pk is None:
            return "Save the form to get its snippet."
        return format_html(
            '<textarea id="embed-snippet" readonly rows="2" cols="90" onclick="this.select()">{}</textarea> '
            '<button type="button" class="button" onclick="navigator.clipboard.writeText('
            "document.getElementById('embed-snippet').value); this.textContent='Copied'\">Copy</button>"
            '<p class="help">Paste it into the pages of an allowed origin; an inline form appears where it is '
            "pasted.</p>",
            form.embed_snippet,
        )

    def save_model(self, request: HttpRequest, obj: SignupForm, form: Any, change: bool) -> None:
        values = {name: form.cleaned_data[name] for name in services.EDITABLE if name in form.cleaned_data}
        if change:
            services.signup_form_update(form=obj, changes=values)
        else:
            created = services.signup_form_create(account=form.cleaned_data["account"], values=values)
            obj.pk, obj.key = created.pk, created.key

    @admin.action(description="Deactivate the selected forms (their script shows nothing)")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[SignupForm]) -> None:
        for form in queryset:
            services.signup_form_update(form=form, changes={"is_active": False})
        self.message_user(request, f"Deactivated {len(queryset)} forms.", messages.SUCCESS)

    @admin.action(description="Activate the selected forms")
    def activate(self, request: HttpRequest, queryset: QuerySet[SignupForm]) -> None:
        for form in queryset:
            services.signup_form_update(form=form, changes={"is_active": True})
        self.message_user(request, f"Activated {len(queryset)} forms.", messages.SUCCESS)


@admin.register(SignupRequest)
class SignupRequestAdmin(ReadOnlyLogAdmin, admin.ModelAdmin):
    list_display = ("email", "form", "account", "created_at", "confirmed_at", "requested_ip", "confirmed_ip")
    list_filter = (ConfirmedFilter, "created_at")
    search_fields = ("=email", "form__name", "=form__key")
    list_select_related = ("form", "account")
    readonly_fields = (
        "email", "form", "account", "full_name", "answers", "consent_text", "origin", "requested_ip", "created_at",
        "confirmation_email", "confirmed_at", "confirmed_ip", "contact",
    )  # fmt: skip
