from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.dateparse import parse_datetime
from django.utils.safestring import mark_safe

from contacts import services
from contacts.admin.common import CappedCountPaginator
from contacts.models import Contact, ContactEvent, Segment, Tag
from contacts.normalize import clean_tag_names, normalize_email, normalize_mobile
from contacts.selectors import segment_contacts
from contacts.subscriptions import Source, contact_unsubscribe
from contacts.tagging import tag_names_by_id, tags_recount

TIMELINE_PAGE = 25


class TimelineFormSet(BaseInlineFormSet):
    """One page of the timeline, newest first, found by keyset (`?timeline_before=<time>_<id>`), never counted."""

    before: tuple[datetime, int] | None = None

    def get_queryset(self) -> Any:
        if not hasattr(self, "_page"):
            events = super().get_queryset().order_by("-occurred_at", "-id")
            if self.before is not None:
                moment, pk = self.before
                events = events.filter(Q(occurred_at__lt=moment) | Q(occurred_at=moment, id__lt=pk))
            rows = list(events[: TIMELINE_PAGE + 1])
            self._page = rows[:TIMELINE_PAGE]
            self.has_older = len(rows) > TIMELINE_PAGE
        return self._page

    @property
    def older_cursor(self) -> str | None:
        page = self.get_queryset()
        if not self.has_older or not page:
            return None
        return f"{page[-1].occurred_at.isoformat()}_{page[-1].pk}"


class TimelineInline(admin.TabularInline):
    model = ContactEvent
    formset = TimelineFormSet
    template = "admin/contacts/contact/timeline_inline.html"
    verbose_name_plural = "Timeline (newest first)"
    fields = ("occurred_at", "name", "source", "properties")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        moment_text, _, pk = request.GET.get("timeline_before", "").rpartition("_")
        moment = parse_datetime(moment_text) if moment_text else None
        formset.before = (moment, int(pk)) if moment and pk.isdigit() else None  # type: ignore[attr-defined]
        return formset


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return Contact.Status.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Contact]) -> QuerySet[Contact]:
        return queryset.filter(status=self.value()) if self.value() else queryset


class TagFilter(admin.SimpleListFilter):
    """The most used tags (of the account being looked at, when one is)."""

    title = "tag"
    parameter_name = "tag"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        tags = Tag.objects.select_related("account").order_by("-contact_count")
        account = request.GET.get("account__id__exact")
        if account:
            tags = tags.filter(account_id=account)
        return [(str(tag.pk), f"{tag.name} ({tag.account}, {tag.contact_count:,})") for tag in tags[:40]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Contact]) -> QuerySet[Contact]:
        value = self.value()
        return queryset.filter(tag_ids__has_any=[int(value)]) if value and value.isdigit() else queryset


class SegmentFilter(admin.SimpleListFilter):
    """Members of a saved segment (segment pages link here)."""

    title = "segment"
    parameter_name = "segment"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        segments = Segment.objects.select_related("account").order_by("-updated_at")[:20]
        return [(str(segment.pk), f"{segment.name} ({segment.account})") for segment in segments]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Contact]) -> QuerySet[Contact]:
        value = self.value()
        segment = Segment.objects.filter(pk=value).first() if value and value.isdigit() else None
        if segment is None:
            return queryset
        try:
            return queryset.filter(pk__in=segment_contacts(segment=segment).values("pk"))
        except ValidationError:
            return queryset.none()


class ContactChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        # One query for the page's tag names, shared by every row (no per-row lookups).
        by_account: dict[Any, list[Contact]] = defaultdict(list)
        for contact in self.result_list:
            by_account[contact.account_id].append(contact)
        for account_id, contacts in by_account.items():
            names = tag_names_by_id(account_id=account_id, contacts=contacts)
            for contact in contacts:
                contact.tag_names = sorted(names[i] for i in contact.tag_ids if i in names)  # type: ignore[attr-defined]


class ContactAdminForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ("account", "email", "mobile", "status", "full_name", "dob", "gender", "city", "country", "attributes")

    def clean_email(self) -> str | None:
        value = self.cleaned_data.get("email")
        return normalize_email(value) if value else None

    def clean_mobile(self) -> str | None:
        value = self.cleaned_data.get("mobile")
        return normalize_mobile(value) if value else None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("email") and not data.get("mobile"):
            raise ValidationError("A contact needs an email or a mobile number.")
        return data


class TagActionForm(forms.Form):
    tags = forms.CharField(help_text="Comma-separated tag names.")

    def clean_tags(self) -> list[str]:
        names = clean_tag_names(self.cleaned_data["tags"])
        if not names:
            raise ValidationError("Name at least one tag.")
        return names


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    form = ContactAdminForm
    list_display = ("__str__", "full_name", "mobile", "status", "tags", "account", "created_at", "last_seen_at")
    list_filter = (StatusFilter, TagFilter, SegmentFilter)
    search_fields = ("email", "mobile", "full_name")
    search_help_text = "An email or a mobile finds that contact exactly; other words search names."
    list_select_related = ("account",)
    raw_id_fields = ("account",)
    readonly_fields = ("tags", "created_at", "updated_at", "last_seen_at", "elsewhere")
    inlines = (TimelineInline,)
    # What the floors above show about a contact (its automation runs), registered by their admin modules: contacts
    # never imports them. Each takes the contact and returns safe HTML, or "" when it has nothing to show.
    extra_panels: list[Callable[[Contact], str]] = []
    actions = ("add_tags", "remove_tags", "unsubscribe", "delete_contacts")
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return ContactChangeList

    @admin.display(description="Elsewhere")
    def elsewhere(self, contact: Contact) -> str:
        if contact.pk is None:
            return "-"
        return mark_safe("".join(panel(contact) for panel in self.extra_panels) or "-")  # noqa: S308  (panels escape)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # replaced by delete_contacts, which keeps tag counts exact
        return actions

    @admin.display(description="Tags")
    def tags(self, contact: Contact) -> str:
        names = getattr(contact, "tag_names", None)
        if names is None:  # the change form: one contact, one query
            names = sorted(Tag.objects.filter(pk__in=contact.tag_ids).values_list("name", flat=True))
        return ", ".join(names)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Contact], search_term: str
    ) -> tuple[QuerySet[Contact], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        if "@" in term:
            return queryset.filter(email=term.lower()), False
        if term.startswith("+") or term.replace(" ", "").isdigit():
            try:
                return queryset.filter(mobile=normalize_mobile(term.replace(" ", ""))), False
            except ValidationError:
                return queryset.filter(mobile=term), False
        return queryset.filter(full_name__icontains=term), False

    def save_model(self, request: HttpRequest, obj: Contact, form: Any, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in form.changed_data if name != "account"}
        try:
            if change:
                services.contact_update(contact=obj, fields=fields, method="admin")  # type: ignore[arg-type]
            else:
                created = services.contact_create(account=form.cleaned_data["account"], fields=fields)  # type: ignore[arg-type]
                obj.pk = created.pk
        except services.ContactError as exc:
            raise ValidationError({exc.field: str(exc)}) from exc

    def delete_model(self, request: HttpRequest, obj: Contact) -> None:
        services.contact_delete(contact=obj)

    def _tag_action(self, request: HttpRequest, queryset: QuerySet[Contact], *, adding: bool) -> HttpResponse | None:
        form = TagActionForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            by_account: dict[Any, list[int]] = defaultdict(list)
            for account_id, pk in queryset.values_list("account_id", "pk"):
                by_account[account_id].append(pk)
            changed = 0
            for account_id, ids in by_account.items():
                names = form.cleaned_data["tags"]
                changed += services.contacts_tags_change(
                    account_id=account_id, contact_ids=ids, add=names if adding else (), remove=() if adding else names
                )
            verb = "Tagged" if adding else "Untagged"
            self.message_user(
                request, f"{verb} {changed} contact(s) ({', '.join(form.cleaned_data['tags'])}).", messages.SUCCESS
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Add tags" if adding else "Remove tags",
            "form": form,
            "contacts": queryset[:20],
            "count": queryset.count(),
            "action": "add_tags" if adding else "remove_tags",
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/contacts/contact/tag_action.html", context)

    @admin.action(description="Add tags to the selected contacts…")
    def add_tags(self, request: HttpRequest, queryset: QuerySet[Contact]) -> HttpResponse | None:
        return self._tag_action(request, queryset, adding=True)

    @admin.action(description="Remove tags from the selected contacts…")
    def remove_tags(self, request: HttpRequest, queryset: QuerySet[Contact]) -> HttpResponse | None:
        return self._tag_action(request, queryset, adding=False)

    @admin.action(description="Unsubscribe the selected contacts from all bulk mail")
    def unsubscribe(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        changed = sum(
            contact_unsubscribe(contact=contact, topic=None, source=Source.ADMIN) for contact in queryset.iterator()
        )
        self.message_user(request, f"Unsubscribed {changed} contact(s).", messages.SUCCESS)

    @admin.action(description="Delete the selected contacts and their timelines", permissions=["delete"])
    def delete_contacts(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        deleted = 0
        by_account: dict[Any, list[int]] = defaultdict(list)
        for account_id, pk in queryset.values_list("account_id", "pk"):
            by_account[account_id].append(pk)
        for account_id, ids in by_account.items():
            deleted += services.contacts_delete(account_id=account_id, contact_ids=ids)
        self.message_user(request, f"Deleted {deleted} contact(s).", messages.SUCCESS)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "contact_count", "created_at")
    search_fields = ("name", "account__name")
    list_select_related = ("account",)
    raw_id_fields = ("account",)
    readonly_fields = ("key", "contact_count", "created_at")
    ordering = ("-contact_count",)
    fields = ("account", "name", "key", "contact_count", "created_at")
    actions = ("recount",)

    @admin.action(description="Recount the contacts of every tag of the selected tags' accounts")
    def recount(self, request: HttpRequest, queryset: QuerySet[Tag]) -> None:
        accounts = set(queryset.values_list("account_id", flat=True))
        tags = sum(tags_recount(account_id=account_id) for account_id in accounts)
        self.message_user(request, f"Recounted {tags} tag(s) in {len(accounts)} account(s).", messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tags are made by tagging contacts
