from datetime import date

from django.db import migrations
from django.utils import timezone

from billing.defaults import DEFAULT_PLANS
from billing.periods import next_period_start


def seed(apps, schema_editor):
    """Price the plans, and give every existing account a subscription on its plan starting today."""
    Plan = apps.get_model("billing", "Plan")
    for values in DEFAULT_PLANS:
        Plan.objects.update_or_create(slug=values["slug"], defaults=values)
    Account = apps.get_model("accounts", "Account")
    Subscription = apps.get_model("billing", "Subscription")
    BillingPeriod = apps.get_model("billing", "BillingPeriod")
    today: date = timezone.now().date()
    for account in Account.objects.filter(subscription__isnull=True).select_related("plan"):
        plan = account.plan
        subscription = Subscription.objects.create(account=account, plan=plan, anchor_day=today.day, started_on=today)
        limit = plan.included_emails if plan.overage_price_per_1000 is None else None
        BillingPeriod.objects.create(
            account=account,
            subscription=subscription,
            plan=plan,
            starts_on=today,
            ends_on=next_period_start(today, anchor_day=today.day),
            included_emails=plan.included_emails,
            email_limit=limit,
        )


def unseed(apps, schema_editor):
    apps.get_model("billing", "Subscription").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_subscriptions_ledger_invoices"), ("accounts", "0003_connection_ordering")]
    operations = [migrations.RunPython(seed, unseed)]
