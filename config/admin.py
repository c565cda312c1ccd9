"""Admin pages whose saves span apps: the roof, like config/onboarding.py."""

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from accounts import admin as accounts_admin
from accounts.models import Account
from config import onboarding

# Importing accounts.admin above registered its account page; this subclass takes its place.
admin.site.unregister(Account)


@admin.register(Account)
class AccountAdmin(accounts_admin.AccountAdmin):
    """The account page; a new account also gets what `create_account` gives it (config/onboarding.py)."""

    def save_model(self, request: HttpRequest, obj: Account, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change:
            return
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
