from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from accounts.models import Account
        from accounts.tenant_cache import tenant_track
        from billing.models import Plan

        # A plan's API rate is part of every cached tenant context on it.
        tenant_track(Plan, account_of=lambda plan: Account.objects.filter(plan=plan).values_list("pk", flat=True))
