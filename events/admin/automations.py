"""Automations in the operator console: each one's steps as a vertical flow with counts, runs with their step
history, and a contact's runs on its page. Runs are changed only through actions that call services."""

from collections.abc import Iterator
from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from config.admin_logs import ReadOnlyLogAdmin
from contacts.admin.contacts import ContactAdmin
from events.admin.common import pretty
from events.automations import selectors, services
from events.automations.models import Automation, AutomationRun, AutomationRunStep


def _label(step: dict[str, Any]) -> str:
    match step["type"]:
        case "wait":
            return f"Wait {step['seconds']} s" if "seconds" in step else f"Wait until {step['until']} (contact's time)"
        case "condition":
            if "segment" in step:
                return f"If in segment #{step['segment']}"
            tests = " and ".join(f"{t['field']} {t['op']} {t.get('value', '')}".strip() for t in step["tests"])
            return f"If {tests}"
        case "send":
            topic = f", topic {step['topic']}" if step.get("topic") else ""
            return f"Send {step['channel']} template “{step['template']}”{topic}"
        case "add_tag":
            return f"Add tag “{step['tag']}”"
        case "remove_tag":
            return f"Remove tag “{step['tag']}”"
    return "Exit"


def _rows(steps: list[dict[str, Any]], counts: dict[str, dict[str, Any]], depth: int = 0) -> Iterator[dict[str, Any]]:
    for step in steps:
        yield {
            **counts.get(step["id"], {}),
            "id": step["id"],
            "type": step["type"],
            "label": _label(step),
            "indent": depth * 2,
            "branch": "",
        }
        if step["type"] == "condition":
            for branch in ("yes", "no"):
                inner = list(_rows(step[branch], counts, depth + 1))
                if inner:
                    inner[0]["branch"] = branch
                yield from inner


def _trigger_text(automation: Automation) -> str:
    match automation.trigger:
        case Automation.Trigger.TAG_ADDED | Automation.Trigger.TAG_REMOVED:
            verb = "added" if automation.trigger == Automation.Trigger.TAG_ADDED else "removed"
            return f"tag “{automation.trigger_tag}” {verb}"
        case Automation.Trigger.EVENT:
            tests = " and ".join(
                f"{t['property']} {t['op']} {t.get('value', '')}".strip() for t in automation.trigger_conditions
            )
            return f"event “{automation.trigger_event}”" + (f" where {tests}" if tests else "")
        case Automation.Trigger.SEGMENT_ENTERED:
            return f"enters segment “{automation.trigger_segment}”"
    return "a contact is created"


class RunStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return [("live", "In flight (waiting or paused)"), *AutomationRun.Status.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AutomationRun]) -> QuerySet[AutomationRun]:
        if self.value() == "live":
            return queryset.filter(status__in=AutomationRun.LIVE)
        return queryset.filter(status=self.value()) if self.value() else queryset


@admin.register(Automation)
class AutomationAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "status", "trigger", "version_number", "runs_in_flight", "created_at")
    list_filter = ("status", "trigger")
    search_fields = ("name", "account__name", "trigger_event")
    list_select_related = ("account", "version")
    fields = ("name", "account", "status", "trigger", "reentry", "reentry_min_gap_seconds", "priority", "flow")
    readonly_fields = fields
    actions = ("activate", "pause")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Automation]:
        live = Q(runs__status__in=AutomationRun.LIVE)
        return super().get_queryset(request).annotate(in_flight=Count("runs", filter=live))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made through the API, where every problem is reported at once

    @admin.display(description="version")
    def version_number(self, automation: Automation) -> int:
        return automation.version.number if automation.version else 0

    @admin.display(description="runs in flight", ordering="in_flight")
    def runs_in_flight(self, automation: Automation) -> int:
        return int(getattr(automation, "in_flight", 0))

    @admin.display(description="Steps (current version)")
    def flow(self, automation: Automation) -> SafeString:
        counts = {row["id"]: row for row in selectors.automation_step_counts(automation=automation)}
        ended = dict(
            AutomationRun.objects.filter(automation=automation).values_list("status").annotate(n=Count("id")).order_by()
        )
        runs_url = (
            reverse("admin:events_automationrun_changelist") + f"?automation__id__exact={automation.pk}&status=live"
        )
        version = automation.version
        return SafeString(
            render_to_string(
                "admin/events/automation/flow.html",
                {
                    "trigger": _trigger_text(automation),
                    "goal": version.goal_event if version else "",
                    "rows": list(_rows(version.steps if version else [], counts)),
                    "runs_url": runs_url,
                    **{status: ended.get(status, 0) for status in ("completed", "converted", "exited", "failed")},
                },
            )
        )

    @admin.action(description="Activate the selected automations")
    def activate(self, request: HttpRequest, queryset: QuerySet[Automation]) -> None:
        done, refused = 0, []
        for automation in queryset:
            try:
                services.automation_activate(automation=automation)
                done += 1
            except services.AutomationConflict as exc:
                refused.append(f"{automation.name}: {exc}")
        self.message_user(request, f"{done} automation(s) active.", messages.SUCCESS)
        for problem in refused:
            self.message_user(request, problem, messages.WARNING)

    @admin.action(description="Pause the selected automations (runs hold where they are)")
    def pause(self, request: HttpRequest, queryset: QuerySet[Automation]) -> None:
        done = 0
        for automation in queryset.exclude(status=Automation.Status.DRAFT):
            services.automation_pause(automation=automation)
            done += 1
        self.message_user(request, f"{done} automation(s) paused.", messages.SUCCESS)


class RunStepInline(ReadOnlyLogAdmin, admin.TabularInline):
    model = AutomationRunStep
    extra = 0
    fields = ("occurred_at", "step_id", "kind", "outcome", "detail_display")
    readonly_fields = fields
    verbose_name_plural = "Steps taken"

    @admin.display(description="detail")
    def detail_display(self, step: AutomationRunStep) -> str:
        return pretty(step.detail)


class RunActions:
    """Pause, resume and exit runs: on the runs list and on a contact's page alike."""

    message_user: Any

    @admin.action(description="Pause the selected runs")
    def pause_runs(self, request: HttpRequest, queryset: QuerySet[AutomationRun]) -> None:
        paused = services.runs_pause(run_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"{paused} run(s) paused.", messages.SUCCESS)

    @admin.action(description="Resume the selected runs")
    def resume_runs(self, request: HttpRequest, queryset: QuerySet[AutomationRun]) -> None:
        resumed = services.runs_resume(run_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"{resumed} run(s) resumed.", messages.SUCCESS)

    @admin.action(description="Exit the selected runs")
    def exit_runs(self, request: HttpRequest, queryset: QuerySet[AutomationRun]) -> None:
        ended = services.runs_exit(run_ids=queryset.values_list("pk", flat=True), by=f"operator {request.user}")
        self.message_user(request, f"{ended} run(s) exited.", messages.SUCCESS)


@admin.register(AutomationRun)
class AutomationRunAdmin(RunActions, ReadOnlyLogAdmin, admin.ModelAdmin):
    list_display = ("id", "automation", "contact", "status", "step_id", "due_at", "enrolled_at", "finished_at")
    list_filter = (RunStatusFilter, "automation")
    search_fields = ("contact__email", "contact__mobile", "automation__name")
    search_help_text = "A contact's email or mobile, or an automation's name."
    list_select_related = ("automation", "contact")
    raw_id_fields = ("contact",)
    fields = (
        "automation",
        "version",
        "contact",
        "status",
        "step_id",
        "due_at",
        "trigger_detail",
        "attempts",
        "last_error",
        "enrolled_at",
        "finished_at",
        "exit_reason",
    )
    readonly_fields = fields
    inlines = (RunStepInline,)
    actions = ("pause_runs", "resume_runs", "exit_runs")


def contact_runs_panel(contact: Any) -> str:
    """A contact's newest runs, for its page (contacts' ContactAdmin.extra_panels)."""
    runs = list(
        selectors.contact_runs(contact_id=contact.pk, account_id=contact.account_id).order_by("-enrolled_at")[:20]
    )
    if not runs:
        return ""
    rows = format_html_join(
        "",
        '<tr><td><a href="{}">run {}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
        (
            (
                reverse("admin:events_automationrun_change", args=[run.pk]),
                run.pk,
                run.automation.name,
                run.get_status_display(),
                run.step_id or "-",
                run.enrolled_at.strftime("%Y-%m-%d %H:%M:%S"),
                run.exit_reason or "",
            )
            for run in runs
        ),
    )
    more = reverse("admin:events_automationrun_changelist") + f"?contact={contact.pk}"
    return format_html(
        '<div class="contact-automation-runs"><strong>Automation runs (newest first)</strong> · '
        '<a href="{}">all, with pause, resume and exit</a><table><tr><th>run</th><th>automation</th><th>status</th>'
        "<th>step</th><th>enrolled</th><th>ended because</th></tr>{}</table></div>",
        more,
        rows,
    )


ContactAdmin.extra_panels.append(contact_runs_panel)
