"""The team inbox in the operator console: conversations (search, filters, the thread with sanitised HTML, reply,
notes, status and assignee) and inbound domains (provision their receipt rule). Every change calls a service."""

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from config.admin_logs import NoCountPaginator
from config.api.errors import UnprocessableEntity
from emails.inbox import services
from emails.inbox.models import Conversation, InboundDomain, InboxAttachment
from emails.inbox.selectors import conversations_search


def _operator(request: HttpRequest) -> User:
    """The signed-in operator (the admin's views only serve staff who signed in)."""
    assert isinstance(request.user, User)
    return request.user


class AssigneeFilter(admin.SimpleListFilter):
    title = "assignee"
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("me", "Assigned to me"), ("none", "Unassigned"), ("any", "Assigned")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        value = self.value()
        if value == "me":
            return queryset.filter(assignee_id=request.user.pk)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if value == "any":
            return queryset.filter(assignee__isnull=False)
        return queryset


class ConversationUpdateForm(forms.Form):
    status = forms.ChoiceField(choices=Conversation.Status.choices)
    snoozed_until = forms.DateTimeField(required=False, help_text="UTC, e.g. 2026-12-01 09:00. Only for snoozed.")
    assignee = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False)

    def __init__(self, *args: Any, conversation: Conversation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = get_user_model().objects.filter(memberships__account_id=conversation.account_id)


class ReplyForm(forms.Form):
    text_body = forms.CharField(widget=forms.Textarea(attrs={"rows": 6, "cols": 90}), label="Reply")


class NoteForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 90}), label="Note (never sent)")


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = (
        "subject_short", "correspondent_email", "account", "status", "assignee", "flagged", "message_count",
        "last_message_at",
    )  # fmt: skip
    list_filter = ("status", AssigneeFilter, "flagged", "connection__identifier", "last_message_at")
    search_fields = ("correspondent_email", "subject")
    search_help_text = "An address, a subject, or text of any message."
    list_select_related = ("account", "assignee")
    actions = ("assign_to_me", "close", "reopen")
    paginator = NoCountPaginator
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # conversations start with received mail

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        return super().get_queryset(request).annotate(message_count=Count("messages"))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Conversation], search_term: str
    ) -> tuple[QuerySet[Conversation], bool]:
        if not search_term.strip():
            return queryset, False
        return conversations_search(queryset, search_term), False

    @admin.display(description="Subject", ordering="subject")
    def subject_short(self, conversation: Conversation) -> str:
        return conversation.subject[:70] or "(no subject)"

    @admin.display(description="Messages", ordering="message_count")
    def message_count(self, conversation: Conversation) -> int:
        return int(getattr(conversation, "message_count", 0))

    def _update(self, request: HttpRequest, queryset: QuerySet[Conversation], verb: str, **changes: Any) -> None:
        done, problems = 0, []
        for conversation in queryset:
            try:
                services.conversation_update(conversation=conversation, **changes)
                done += 1
            except UnprocessableEntity as error:
                problems.append(f"{conversation}: {'; '.join(e['msg'] for e in error.entries)}")
        self.message_user(request, f"{verb} {done} conversation{'s' if done != 1 else ''}.", messages.SUCCESS)
        for problem in problems[:10]:
            self.message_user(request, problem, messages.ERROR)

    @admin.action(description="Assign selected conversations to me")
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        self._update(request, queryset, "Assigned to you:", assignee=request.user)

    @admin.action(description="Close selected conversations")
    def close(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        self._update(request, queryset, "Closed", status=Conversation.Status.CLOSED)

    @admin.action(description="Reopen selected conversations")
    def reopen(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        self._update(request, queryset, "Reopened", status=Conversation.Status.OPEN)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.attachment_view)
        return [
            path("attachment/<int:attachment_id>/", view, name="emails_conversation_attachment"),
            *super().get_urls(),
        ]

    def attachment_view(self, request: HttpRequest, attachment_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise Http404
        attachment = get_object_or_404(InboxAttachment, pk=attachment_id, content__isnull=False)
        # Always a download, never rendered in the console's origin (an HTML or SVG attachment could script it).
        response = HttpResponse(bytes(attachment.content or b""), content_type="application/octet-stream")
        name = (attachment.filename or f"attachment-{attachment.pk}").replace('"', "")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        conversation = self.get_object(request, object_id)
        if conversation is None or not self.has_view_permission(request, conversation):
            raise Http404
        initial = {"status": conversation.status, "snoozed_until": conversation.snoozed_until,
                   "assignee": conversation.assignee_id}  # fmt: skip
        update = ConversationUpdateForm(initial=initial, conversation=conversation)
        reply, note = ReplyForm(), NoteForm()
        if request.method == "POST" and self.has_change_permission(request, conversation):
            done = self._post(request, conversation)
            if done:
                return HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": str(conversation),
            "conversation": conversation,
            "messages_in_thread": conversation.messages.select_related("email", "author")
            .prefetch_related("attachments")
            .order_by("occurred_at", "id"),
            "notes": conversation.notes.select_related("author"),
            "update_form": update,
            "reply_form": reply,
            "note_form": note,
            "can_change": self.has_change_permission(request, conversation),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/emails/conversation/thread.html", context)

    def _post(self, request: HttpRequest, conversation: Conversation) -> bool:
        """One of the page's three forms; True when it was done (then the page is shown again, fresh)."""
        op = request.POST.get("op")
        try:
            if op == "reply":
                form: forms.Form = ReplyForm(request.POST)
                if form.is_valid():
                    message = services.conversation_reply(
                        conversation=conversation, text_body=form.cleaned_data["text_body"], author=_operator(request)
                    )
                    self.message_user(request, f"Reply queued (email {message.email_id}, priority 1).")
                    return True
            elif op == "note":
                form = NoteForm(request.POST)
                if form.is_valid():
                    services.conversation_note_add(
                        conversation=conversation, body=form.cleaned_data["body"], author=_operator(request)
                    )
                    self.message_user(request, "Note added.")
                    return True
            elif op == "update":
                form = ConversationUpdateForm(request.POST, conversation=conversation)
                if form.is_valid():
                    until: datetime | None = form.cleaned_data["snoozed_until"]
                    status = form.cleaned_data["status"]
                    services.conversation_update(
                        conversation=conversation,
                        status=status,
                        snoozed_until=until if status == Conversation.Status.SNOOZED else None,
                        assignee=form.cleaned_data["assignee"],
                    )
                    self.message_user(request, "Conversation updated.")
                    return True
            else:
                return False
            self.message_user(request, f"Not done: {form.errors.as_text()}", messages.ERROR)
        except UnprocessableEntity as error:
            self.message_user(request, "Not done: " + "; ".join(e["msg"] for e in error.entries), messages.ERROR)
        return False


@admin.register(InboundDomain)
class InboundDomainAdmin(admin.ModelAdmin):
    list_display = ("domain", "account", "connection", "bucket", "rule_set_name", "provisioned_at", "mx")
    list_filter = ("provisioned_at", "connection__region")
    search_fields = ("domain", "account__name")
    list_select_related = ("account", "connection")
    raw_id_fields = ("account", "connection")
    readonly_fields = ("rule_set_name", "rule_name", "provisioned_at", "last_report", "mx")
    fields = ("account", "connection", "domain", "bucket", "acknowledgement_text", *readonly_fields)
    actions = ("provision",)

    @admin.display(description="MX record to publish")
    def mx(self, inbound: InboundDomain) -> str:
        name, kind, value = inbound.mx_record
        return f"{name}  {kind}  {value}"

    @admin.action(description="Create or repair the SES receipt rule")
    def provision(self, request: HttpRequest, queryset: QuerySet[InboundDomain]) -> None:
        for inbound in queryset.select_related("connection", "connection__account"):
            report = services.inbound_domain_provision(
                connection=inbound.connection, domain=inbound.domain, bucket=inbound.bucket
            )
            level = messages.SUCCESS if report.ok else messages.ERROR
            self.message_user(request, f"Receipt rule of {inbound.domain}: " + " | ".join(report.lines()), level)
