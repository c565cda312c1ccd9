"""/v1/automations: CRUD, activate and pause, runs with their step history."""

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import request_account
from accounts.scoping import AccountScopedMixin
from config.api.errors import Conflict
from config.api.filters import IsoDateTimeFilter
from config.api.pagination import CreatedCursorPagination, CursorPagination
from config.api.schema import common_responses, unprocessable
from config.api.serializers import DetailSerializer
from events.automations import examples, selectors, services
from events.automations.models import Automation, AutomationRun, AutomationRunStep


class AutomationSerializer(serializers.ModelSerializer):
    trigger = serializers.SerializerMethodField()
    steps = serializers.SerializerMethodField()
    goal_event = serializers.SerializerMethodField()
    reentry = serializers.SerializerMethodField()
    version = serializers.SerializerMethodField()

    class Meta:
        model = Automation
        fields: tuple[str, ...] = (
            "id",
            "name",
            "status",
            "trigger",
            "steps",
            "goal_event",
            "reentry",
            "priority",
            "version",
            "created_at",
            "updated_at",
        )

    def get_trigger(self, automation: Automation) -> dict[str, Any]:
        trigger: dict[str, Any] = {"type": automation.trigger}
        if automation.trigger_tag is not None:
            trigger["tag"] = automation.trigger_tag.name
        if automation.trigger == Automation.Trigger.EVENT:
            trigger["event"] = automation.trigger_event
            trigger["conditions"] = automation.trigger_conditions
        if automation.trigger_segment_id is not None:
            trigger["segment"] = automation.trigger_segment_id
        return trigger

    def get_steps(self, automation: Automation) -> list[dict[str, Any]]:
        return automation.version.steps if automation.version else []

    def get_goal_event(self, automation: Automation) -> str | None:
        return (automation.version.goal_event or None) if automation.version else None

    def get_reentry(self, automation: Automation) -> dict[str, Any]:
        return {"mode": automation.reentry, "min_gap_seconds": automation.reentry_min_gap_seconds}

    def get_version(self, automation: Automation) -> int:
        return automation.version.number if automation.version else 0


class AutomationDetailSerializer(AutomationSerializer):
    step_counts = serializers.SerializerMethodField()

    class Meta(AutomationSerializer.Meta):
        fields: tuple[str, ...] = (*AutomationSerializer.Meta.fields, "step_counts")

    def get_step_counts(self, automation: Automation) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in row.items() if k not in ("step", "depth")}
            for row in selectors.automation_step_counts(automation=automation)
        ]


class AutomationWriteSerializer(serializers.Serializer):
    """Documentation only: bodies are checked by events.automations.services, every problem at once."""

    name = serializers.CharField(max_length=200)
    trigger = serializers.DictField(
        help_text="type: tag_added | tag_removed (tag), event (event, conditions), "
        "contact_created, segment_entered (segment id)."
    )
    steps = serializers.ListField(child=serializers.DictField(), required=False)
    goal_event = serializers.CharField(required=False, allow_null=True)
    reentry = serializers.DictField(required=False, help_text='{"mode": "once" | "every_trigger", "min_gap_seconds"}')
    priority = serializers.IntegerField(required=False, min_value=1, max_value=100, default=60)


class RunStepSerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="kind")

    class Meta:
        model = AutomationRunStep
        fields = ("step_id", "type", "outcome", "detail", "occurred_at")


class RunSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version.number")
    contact = serializers.SerializerMethodField()
    trigger = serializers.JSONField(source="trigger_detail")

    class Meta:
        model = AutomationRun
        fields: tuple[str, ...] = (
            "id",
            "automation",
            "version",
            "contact",
            "status",
            "step_id",
            "due_at",
            "trigger",
            "attempts",
            "last_error",
            "enrolled_at",
            "finished_at",
            "exit_reason",
        )

    def get_contact(self, run: AutomationRun) -> dict[str, Any]:
        return {"id": run.contact_id, "email": run.contact.email, "mobile": run.contact.mobile}


class RunDetailSerializer(RunSerializer):
    steps = RunStepSerializer(many=True, read_only=True)

    class Meta(RunSerializer.Meta):
        fields: tuple[str, ...] = (*RunSerializer.Meta.fields, "steps")


class RunFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=AutomationRun.Status.choices, help_text="Repeat for several.")
    contact = django_filters.NumberFilter(field_name="contact_id", help_text="A contact's id.")
    email = django_filters.CharFilter(field_name="contact__email", lookup_expr="iexact")
    step = django_filters.CharFilter(field_name="step_id", help_text="Runs now at this step.")
    version = django_filters.NumberFilter(field_name="version__number")
    enrolled_after = IsoDateTimeFilter(field_name="enrolled_at", lookup_expr="gte")
    enrolled_before = IsoDateTimeFilter(field_name="enrolled_at", lookup_expr="lt")

    class Meta:
        model = AutomationRun
        fields: list[str] = []


class RunCursorPagination(CursorPagination):
    ordering = ("-enrolled_at", "-id")


NOT_NOW = OpenApiResponse(
    DetailSerializer,
    description="Not possible in the automation's state; `detail` says why.",
    examples=[
        OpenApiExample("No steps", value={"detail": "Add at least one step before activating the automation."}),
        OpenApiExample("A draft", value={"detail": "A draft automation is not running; activate it first."}),
    ],
)


@extend_schema_view(
    list=extend_schema(
        summary="List automations",
        responses={200: AutomationSerializer(many=True), **common_responses()},
        examples=[OpenApiExample("Automations", value=[examples.AUTOMATION], response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One automation, with per-step counts",
        responses={200: AutomationDetailSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Automation", value=examples.AUTOMATION_DETAIL, response_only=True)],
    ),
    create=extend_schema(
        summary="Create an automation (a draft)",
        description=examples.DESCRIPTION,
        request=AutomationWriteSerializer,
        responses={
            201: AutomationSerializer,
            422: unprocessable(OpenApiExample("Bad step", value=examples.BAD_STEP)),
            **common_responses(),
        },
        examples=[
            OpenApiExample("Red sneakers", value=examples.RED_SNEAKERS, request_only=True),
            OpenApiExample("Event with a branch", value=examples.BRANCHING, request_only=True),
            OpenApiExample("Created", value=examples.AUTOMATION, response_only=True, status_codes=["201"]),
        ],
    ),
    partial_update=extend_schema(
        summary="Change an automation",
        description="Only the fields given change. New `steps` or `goal_event` on an automation whose current "
        "version has runs make a new version: runs in flight finish on the version they started on, new runs start "
        "on the new one.",
        request=AutomationWriteSerializer,
        responses={200: AutomationSerializer, 422: unprocessable(), **common_responses(with_not_found=True)},
        examples=[
            OpenApiExample("Wait longer", request_only=True, value={"steps": examples.RED_SNEAKERS["steps"]}),
            OpenApiExample("Automation", value={**examples.AUTOMATION, "version": 2}, response_only=True),
        ],
    ),
    destroy=extend_schema(
        summary="Delete an automation and its runs", responses={204: None, **common_responses(with_not_found=True)}
    ),
)
class AutomationViewSet(
    AccountScopedMixin[Automation],
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    scoped_model = Automation
    pagination_class = CreatedCursorPagination
    http_method_names = ["get", "post", "patch", "delete"]

    def scoped_queryset(self, queryset: QuerySet[Automation]) -> QuerySet[Automation]:
        return queryset.select_related("version", "trigger_tag")

    def get_serializer_class(self) -> Any:
        return AutomationDetailSerializer if self.action == "retrieve" else AutomationSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        automation = services.automation_create(account=request_account(request), data=request.data)
        return Response(AutomationSerializer(automation).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        automation = services.automation_update(automation=self.get_object(), data=request.data)
        return Response(AutomationSerializer(automation).data)

    def perform_destroy(self, instance: Automation) -> None:
        services.automation_delete(automation=instance)

    @extend_schema(
        summary="Activate an automation",
        description="From now on its trigger enrols contacts; a paused automation's runs go on where they stopped.",
        request=None,
        responses={200: AutomationSerializer, 409: NOT_NOW, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Active", value={**examples.AUTOMATION, "status": "active"}, response_only=True)],
    )
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk: str | None = None) -> Response:
        try:
            automation = services.automation_activate(automation=self.get_object())
        except services.AutomationConflict as exc:
            raise Conflict(str(exc)) from None
        return Response(AutomationSerializer(automation).data)

    @extend_schema(
        summary="Pause an automation",
        description="No new enrolments; runs in flight hold where they are (a goal event still ends them).",
        request=None,
        responses={200: AutomationSerializer, 409: NOT_NOW, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Paused", value={**examples.AUTOMATION, "status": "paused"}, response_only=True)],
    )
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        try:
            automation = services.automation_pause(automation=self.get_object())
        except services.AutomationConflict as exc:
            raise Conflict(str(exc)) from None
        return Response(AutomationSerializer(automation).data)


class _AutomationRunsBase(generics.GenericAPIView):
    def automation(self) -> Automation:
        return generics.get_object_or_404(
            Automation.objects.filter(account=request_account(self.request)), pk=self.kwargs["pk"]
        )


@extend_schema(
    summary="An automation's runs",
    description="Newest enrolment first. Filter by `status` (repeat for several), `contact` (id), `email`, `step` "
    "(runs now at that step), `version`, `enrolled_after`, `enrolled_before`.",
    responses={200: RunSerializer(many=True), **common_responses(with_not_found=True)},
    examples=[OpenApiExample("Runs", value=[examples.RUN], response_only=True)],
)
class AutomationRunsApi(_AutomationRunsBase, generics.ListAPIView):
    serializer_class = RunSerializer
    filterset_class = RunFilter
    pagination_class = RunCursorPagination

    def get_queryset(self) -> QuerySet[AutomationRun]:
        if getattr(self, "swagger_fake_view", False):
            return AutomationRun.objects.none()
        return selectors.automation_runs(automation=self.automation())


@extend_schema(
    summary="One run with its step history",
    responses={200: RunDetailSerializer, **common_responses(with_not_found=True)},
    examples=[OpenApiExample("Run", value=examples.RUN_DETAIL, response_only=True)],
)
class AutomationRunApi(_AutomationRunsBase, generics.RetrieveAPIView):
    serializer_class = RunDetailSerializer

    def get_object(self) -> AutomationRun:
        runs = selectors.automation_runs(automation=self.automation()).prefetch_related("steps")
        return generics.get_object_or_404(runs, pk=self.kwargs["run_id"])
