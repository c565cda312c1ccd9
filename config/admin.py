"""Admin pages whose saves span apps: the roof, like config/onboarding.py."""

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils import timezone

from accounts import admin as accounts_admin
from accounts.models import Account
from billing import services as billing_services
from config import onboarding

# Importing accounts.admin above registered its account page; this subclass takes its place.
admin.site.unregister(Account)


@admin.register(Account)
class AccountAdmin(accounts_admin.AccountAdmin):
    """The account page; a new account also gets what `create_account` gives it (config/onboarding.py), and a
    change of plan goes through billing (prorated, like the API's change-plan)."""

    def save_model(self, request: HttpRequest, obj: Account, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        today = timezone.now().date()
        if change:
            if "plan" in form.changed_data:
                subscription = billing_services.subscription_for_account(account_id=obj.pk, today=today)
                if subscription.plan_id != obj.plan_id:
                    try:
                        proration = billing_services.subscription_change_plan(
                            subscription=subscription, plan=obj.plan, confirm=True, today=today
                        )
                    except billing_services.PlanChangeRefused as error:
                        self.message_user(request, f"The plan was not changed in billing: {error}", messages.ERROR)
                        return
                    self.message_user(
                        request,
                        f"{obj} moved to {obj.plan}: {proration.credit} credited and {proration.charge} charged "
                        f"for the {proration.days_remaining} days left in the period.",
                    )
            return
        billing_services.subscription_start(account_id=obj.pk, plan=obj.plan, today=today)
        connection = onboarding.simulator_connection_ensure(account=obj)
        if connection is None:
            self.message_user(
                request,
                f"{obj} has no AWS connection yet: add one (AWS connections) before it can send.",
                messages.WARNING,
            )
        else:
            self.message_user(
                request,
                f"{obj} sends through the local simulator as {connection.identifier!r}, "
                f"at {connection.max_send_rate:g} recipients per second.",
                messages.INFO,
            )
