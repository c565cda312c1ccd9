"""The billing API: the account's plan and usage, plan changes (proration shown before it applies), the overage cap,
cancelling, and invoices (JSON, or a printable page with `?format=html`)."""

from datetime import date
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import request_account
from accounts.scoping import AccountScopedMixin
from billing import examples, selectors, services
from billing.models import Invoice, Plan
from billing.serializers import (
    BillingSerializer,
    ChangePlanSerializer,
    InvoiceSerializer,
    OverageCapSerializer,
    PlanSerializer,
    ProrationSerializer,
)
from config.api.errors import UnprocessableEntity, error_entry
from config.api.schema import common_responses, unprocessable

TAGS = ["billing"]


def _billing(request: Request) -> Response:
    return Response(BillingSerializer.of(selectors.billing_overview(account=request_account(request))))


class BillingRetrieveApi(APIView):
    @extend_schema(
        summary="Plan, period and usage",
        description="The plan, the current billing period, the emails used and included, the overage so far, and "
        "the invoice the period would get if it closed now.",
        responses={200: BillingSerializer, **common_responses()},
        examples=[OpenApiExample("Billing", value=examples.BILLING, response_only=True)],
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        return _billing(request)


class PlanListApi(APIView):
    @extend_schema(
        summary="Plans to choose from",
        responses={200: PlanSerializer(many=True), **common_responses()},
        examples=[OpenApiExample("Plans", value=[examples.PLAN], response_only=True)],
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        return Response(PlanSerializer(Plan.objects.all(), many=True).data)


def _refused(loc: str, error: Exception) -> UnprocessableEntity:
    return UnprocessableEntity([error_entry(["body", loc], str(error), "value_error")])


class BillingChangePlanApi(APIView):
    @extend_schema(
        summary="Change plan (prorated)",
        description="Without `confirm: true` this only shows the proration: the old plan's unused days credited, "
        "the new plan's remaining days charged, and the period's included emails after the change. With it, the "
        "change applies at once (the API rate too) and both amounts become lines of this period's invoice.",
        request=ChangePlanSerializer,
        responses={200: ProrationSerializer, 422: unprocessable(), **common_responses()},
        examples=[
            OpenApiExample("Preview", value={"plan": "scale"}, request_only=True),
            OpenApiExample("Apply", value={"plan": "scale", "confirm": True}, request_only=True),
            OpenApiExample("Proration", value=examples.PRORATION, response_only=True),
        ],
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        body = ChangePlanSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        account = request_account(request)
        try:
            plan = services.plan_by_slug(body.validated_data["plan"])
            subscription = services.subscription_for_account(account_id=account.pk, today=_today())
            proration = services.subscription_change_plan(
                subscription=subscription, plan=plan, confirm=body.validated_data["confirm"]
            )
        except (services.PlanNotFound, services.PlanChangeRefused) as error:
            raise _refused("plan", error) from None
        return Response(ProrationSerializer.of(proration, applied=body.validated_data["confirm"]))


class BillingOverageCapApi(APIView):
    @extend_schema(
        summary="Set the overage cap",
        description="The most overage (USD) the account may run up per period; sending answers 402 beyond it. "
        "`null` removes the cap. Plans without overage stop at their included emails and take no cap.",
        request=OverageCapSerializer,
        responses={200: BillingSerializer, 422: unprocessable(), **common_responses()},
        examples=[
            OpenApiExample("Cap", value={"overage_cap": "25.00"}, request_only=True),
            OpenApiExample("Billing", value=examples.BILLING, response_only=True),
        ],
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        body = OverageCapSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        account = request_account(request)
        subscription = services.subscription_for_account(account_id=account.pk, today=_today())
        try:
            services.subscription_set_overage_cap(subscription=subscription, cap=body.validated_data["overage_cap"])
        except services.PlanChangeRefused as error:
            raise _refused("overage_cap", error) from None
        return _billing(request)


class BillingCancelApi(APIView):
    @extend_schema(
        summary="Cancel at the end of the period",
        description="Sending stops when the current period ends (its invoice is still issued); reads keep working "
        "and the account's data stays until an operator deletes the account.",
        request=None,
        responses={200: BillingSerializer, **common_responses()},
        examples=[
            OpenApiExample("Billing", value={**examples.BILLING, "cancel_at_period_end": True}, response_only=True)
        ],
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        account = request_account(request)
        services.subscription_cancel(
            subscription=services.subscription_for_account(account_id=account.pk, today=_today())
        )
        return _billing(request)


def _today() -> date:
    return timezone.now().date()


class InvoiceHtmlRenderer(TemplateHTMLRenderer):
    """`?format=html`: the invoice as a printable page."""

    template_name = "billing/invoice.html"


@extend_schema_view(
    list=extend_schema(
        summary="List invoices",
        description="Newest first, cursor-paginated, with their lines.",
        responses={200: InvoiceSerializer(many=True), **common_responses()},
        examples=[OpenApiExample("Page", value=examples.INVOICE_PAGE, response_only=True)],
        tags=TAGS,
    ),
    retrieve=extend_schema(
        summary="One invoice",
        description="JSON; with `?format=html`, a printable HTML page of the same invoice.",
        parameters=[
            OpenApiParameter("format", str, enum=["json", "html"], description="`html` for the printable page.")
        ],
        responses={200: InvoiceSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Invoice", value=examples.INVOICE, response_only=True)],
        tags=TAGS,
    ),
)
class InvoiceViewSet(
    AccountScopedMixin[Invoice], mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    scoped_model = Invoice
    serializer_class = InvoiceSerializer

    def get_renderers(self) -> list[Any]:
        # Only one invoice has a page; lists, and every error, are JSON like the rest of the API.
        return [JSONRenderer(), InvoiceHtmlRenderer()] if self.action == "retrieve" else [JSONRenderer()]

    def handle_exception(self, exc: Exception) -> Response:
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return super().handle_exception(exc)

    def scoped_queryset(self, queryset: QuerySet[Invoice]) -> QuerySet[Invoice]:
        return queryset.select_related("account").prefetch_related("lines")

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        invoice = self.get_object()
        data = self.get_serializer(invoice).data
        if request.accepted_renderer.format == "html":
            return Response({"invoice": invoice, "lines": invoice.lines.all()})
        return Response(data)
