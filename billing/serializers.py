from datetime import timedelta
from typing import Any

from rest_framework import serializers

from billing.models import Invoice, InvoiceLine, Plan
from billing.selectors import BillingOverview
from billing.services import LineDraft, Proration
from config.api.serializers import StrictSerializer


class PlanSerializer(serializers.ModelSerializer):
    class Meta:
        model = Plan
        fields = (
            "slug", "name", "monthly_price", "included_emails", "overage_price_per_1000", "api_requests_per_minute",
            "email_storage_limit",
        )  # fmt: skip


class LineSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=InvoiceLine.Kind.choices)
    description = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=6)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    starts_on = serializers.DateField(allow_null=True)
    ends_on = serializers.DateField(allow_null=True)


def lines_data(lines: list[LineDraft]) -> list[dict[str, Any]]:
    return [LineSerializer({"number": n, **vars(line)}).data for n, line in enumerate(lines, start=1)]


class PeriodSerializer(serializers.Serializer):
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(help_text="The period's last day.")
    renews_on = serializers.DateField(help_text="The first day of the next period.")


class BillingSerializer(serializers.Serializer):
    """GET /v1/billing."""

    plan = PlanSerializer()
    status = serializers.CharField()
    cancel_at_period_end = serializers.BooleanField()
    overage_cap = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    period = PeriodSerializer(allow_null=True)
    used = serializers.IntegerField(help_text="Emails counted this period (accepted, less those released).")
    included = serializers.IntegerField(help_text="Emails the period includes (prorated after a plan change).")
    limit = serializers.IntegerField(allow_null=True, help_text="Most emails the period accepts; null: no limit.")
    sms_sent = serializers.IntegerField()
    push_sent = serializers.IntegerField()
    overage_emails = serializers.IntegerField()
    overage_amount = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="Overage so far, USD.")
    projected_invoice = serializers.DictField(help_text="The period's invoice if it closed now: lines and total.")

    @staticmethod
    def of(overview: BillingOverview) -> dict[str, Any]:
        subscription, period = overview.subscription, overview.period
        return BillingSerializer(
            {
                "plan": subscription.plan,
                "status": subscription.status,
                "cancel_at_period_end": subscription.cancel_at_period_end,
                "overage_cap": subscription.overage_cap,
                "period": {
                    "starts_on": period.starts_on, "ends_on": period.ends_on - timedelta(days=1),
                    "renews_on": period.ends_on,
                } if period else None,
                "used": period.emails_used if period else 0,
                "included": period.included_emails if period else 0,
                "limit": period.email_limit if period else 0,
                "sms_sent": period.sms_sent if period else 0,
                "push_sent": period.push_sent if period else 0,
                "overage_emails": overview.overage_emails,
                "overage_amount": overview.overage_amount,
                "projected_invoice": {
                    "lines": lines_data(overview.lines), "total": str(overview.projected_total), "currency": "USD",
                },
            }
        ).data  # fmt: skip


class ChangePlanSerializer(StrictSerializer):
    plan = serializers.SlugField(help_text="The slug of the plan to move to (see GET /v1/billing/plans).")
    confirm = serializers.BooleanField(
        default=False, help_text="Apply the change; without it only the proration is shown."
    )


class OverageCapSerializer(StrictSerializer):
    overage_cap = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=0, allow_null=True,
        help_text="Most overage (USD) per period; null removes the cap.",
    )  # fmt: skip


class ProrationSerializer(serializers.Serializer):
    applied = serializers.BooleanField()
    from_plan = serializers.SlugField()
    to_plan = serializers.SlugField()
    effective_on = serializers.DateField()
    days_remaining = serializers.IntegerField()
    period_days = serializers.IntegerField()
    credit = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="The old plan's unused days.")
    charge = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="The new plan's remaining days.")
    net = serializers.DecimalField(max_digits=12, decimal_places=2)
    included_emails = serializers.IntegerField(help_text="The period's included emails after the change.")
    email_limit = serializers.IntegerField(allow_null=True)

    @staticmethod
    def of(proration: Proration, *, applied: bool) -> dict[str, Any]:
        return ProrationSerializer(
            {
                "applied": applied, "from_plan": proration.from_plan.slug, "to_plan": proration.to_plan.slug,
                "effective_on": proration.effective_on, "days_remaining": proration.days_remaining,
                "period_days": proration.period_days, "credit": proration.credit, "charge": proration.charge,
                "net": proration.net, "included_emails": proration.included_emails,
                "email_limit": proration.email_limit,
            }
        ).data  # fmt: skip


class InvoiceLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvoiceLine
        fields = ("number", "kind", "description", "quantity", "unit_price", "amount", "starts_on", "ends_on")


class InvoiceSerializer(serializers.ModelSerializer):
    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta:
        model = Invoice
        fields = (
            "id", "number", "status", "currency", "period_start", "period_end", "emails_used", "included_emails",
            "total", "issued_at", "paid_at", "voided_at", "lines",
        )  # fmt: skip
