from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from accounts import services
from accounts.models import Account, ApiToken, AwsConnection, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)


class ApiTokenInline(admin.TabularInline):
    """Tokens are created from the token page (where the secret is shown once); here they are only listed."""

    model = ApiToken
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("name", "prefix", "scopes", "last_used_at", "revoked_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AwsConnectionInline(admin.TabularInline):
    model = AwsConnection
    extra = 0
    show_change_link = True
    can_delete = False
    fields = ("identifier", "region", "role_arn", "access_key_id", "is_default", "is_active")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# config/admin.py registers a subclass in its place: an account added there also gets its simulator connection.
@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "status", "plan", "owner_email", "token_count", "connection_count", "created_at")
    list_filter = ("status", "plan")
    search_fields = ("name", "owner_email", "=id", "=aws_external_id")
    list_select_related = ("plan",)
    readonly_fields = ("id", "aws_external_id", "created_at", "updated_at")
    inlines = (MembershipInline, ApiTokenInline, AwsConnectionInline)
    actions = ("suspend", "reactivate")
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Account]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                token_count=Count("api_tokens", filter=Q(api_tokens__revoked_at__isnull=True), distinct=True),
                connection_count=Count("aws_connections", distinct=True),
            )
        )

    @admin.display(description="Live tokens", ordering="token_count")
    def token_count(self, account: Account) -> int:
        return account.token_count  # type: ignore[attr-defined]

    @admin.display(description="AWS connections", ordering="connection_count")
    def connection_count(self, account: Account) -> int:
        return account.connection_count  # type: ignore[attr-defined]

    @admin.action(description="Suspend selected accounts (their tokens stop working)")
    def suspend(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        for account in queryset:
            services.account_set_status(account=account, status=Account.Status.SUSPENDED)
        self.message_user(request, f"Suspended {len(queryset)} account(s).", messages.SUCCESS)

    @admin.action(description="Reactivate selected accounts")
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        for account in queryset:
            services.account_set_status(account=account, status=Account.Status.ACTIVE)
        self.message_user(request, f"Reactivated {len(queryset)} account(s).", messages.SUCCESS)


class ApiTokenCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiToken.Scope.choices, initial=[ApiToken.Scope.FULL], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiToken
        fields = ("account", "name", "scopes")


class RevokedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("live", "Live"), ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> QuerySet[ApiToken]:
        if self.value() == "live":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix_display", "account", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = (RevokedFilter, "created_at")
    search_fields = ("name", "prefix", "account__name")
    list_select_related = ("account",)
    raw_id_fields = ("account",)
    actions = ("revoke",)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ApiTokenCreateForm
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        return ("account", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ("account", "name", "scopes")
        return ("account", "name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")

    @admin.display(description="Token", ordering="prefix")
    def prefix_display(self, token: ApiToken) -> str:
        return f"{token.prefix}…"

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        token, plaintext = services.api_token_create(
            account=form.cleaned_data["account"], name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"]
        )
        obj.pk = token.pk
        request._sesame_new_token = plaintext  # type: ignore[attr-defined]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if change:
            super().save_related(request, form, formsets, change)

    def response_add(self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None) -> HttpResponse:
        # Rendered straight into this response, never stored: the only moment the secret exists outside the caller.
        token = ApiToken.objects.select_related("account").get(pk=obj.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "API token created",
            "token": token,
            "plaintext": request._sesame_new_token,  # type: ignore[attr-defined]
            "opts": self.model._meta,
            "list_url": reverse("admin:accounts_apitoken_changelist"),
        }
        return TemplateResponse(request, "admin/accounts/apitoken/created.html", context)

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        live = list(queryset.filter(revoked_at__isnull=True))
        for token in live:
            services.api_token_revoke(token=token)
        self.message_user(request, f"Revoked {len(live)} token(s).", messages.SUCCESS)


class AwsConnectionForm(forms.ModelForm):
    # Write-only: the widget never renders the stored value, and blank keeps it unchanged.
    secret_access_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only. Leave blank to keep the stored secret.",
    )
    # Not a model field on the form: the old default is cleared by the service when this one takes over,
    # which the one-default constraint would otherwise refuse during form validation.
    is_default = forms.BooleanField(required=False, help_text="Use this connection when a send names none.")

    class Meta:
        model = AwsConnection
        fields = ("account", "identifier", "region", "role_arn", "access_key_id", "secret_access_key", "is_active")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["is_default"].initial = self.instance.is_default

    def clean_secret_access_key(self) -> str:
        entered: str = self.cleaned_data.get("secret_access_key", "")
        if not entered and self.instance.pk:
            stored: str = self.instance.secret_access_key
            return stored
        return entered


@admin.register(AwsConnection)
class AwsConnectionAdmin(admin.ModelAdmin):
    form = AwsConnectionForm
    list_display = ("identifier", "account", "region", "credentials", "is_default", "is_active", "created_at")
    list_filter = ("is_active", "is_default", "region")
    search_fields = ("identifier", "account__name", "role_arn", "access_key_id", "=id")
    list_select_related = ("account",)
    raw_id_fields = ("account",)
    readonly_fields = ("id", "external_id", "webhook_hint", "created_at", "updated_at")
    actions = ("make_default",)

    @admin.display(description="Credentials")
    def credentials(self, connection: AwsConnection) -> str:
        return "IAM role" if connection.uses_role else f"Access key {connection.access_key_id[:4]}…"

    @admin.display(description="External id for the role's trust policy")
    def external_id(self, connection: AwsConnection) -> str:
        return connection.account.aws_external_id if connection.account_id else "-"

    @admin.display(description="Webhook")
    def webhook_hint(self, connection: AwsConnection) -> str:
        return format_html("<code>/webhooks/sns/{}</code>", connection.pk)

    def save_model(self, request: HttpRequest, obj: AwsConnection, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if form.cleaned_data["is_default"]:
            services.aws_connection_make_default(connection=obj)
        elif obj.is_default:
            AwsConnection.objects.filter(pk=obj.pk).update(is_default=False)

    @admin.action(description="Make the selected connection its account's default")
    def make_default(self, request: HttpRequest, queryset: QuerySet[AwsConnection]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one connection.", messages.ERROR)
            return
        connection = queryset.get()
        services.aws_connection_make_default(connection=connection)
        self.message_user(request, f"{connection} is now the default for {connection.account}.", messages.SUCCESS)
