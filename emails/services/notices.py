"""Notices to an account's owner (a paused app, a disabled endpoint, ...), sent as email through Sesame itself from
SESAME_NOTIFY_FROM of the operator account SESAME_NOTIFY_ACCOUNT_ID."""

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from rest_framework.exceptions import APIException

from accounts.models import Account, Membership
from emails.services.accept import email_accept

logger = logging.getLogger("sesame.emails")


def owner_address(account: Account) -> str:
    if account.owner_email:
        return account.owner_email
    owner = Membership.objects.filter(account=account, role=Membership.Role.OWNER).select_related("user").first()
    return str(getattr(owner.user, "email", "") or "") if owner else ""


def owner_notify(*, account: Account, subject: str, text: str) -> tuple[Any, str]:
    """Queue a plain-text notice to the account's owner at priority 1. Returns (email id or None, why not)."""
    notify_account, sender = settings.SESAME_NOTIFY_ACCOUNT_ID, settings.SESAME_NOTIFY_FROM
    if not (notify_account and sender):
        return None, "Not notified: set SESAME_NOTIFY_ACCOUNT_ID and SESAME_NOTIFY_FROM."
    to = owner_address(account)
    if not to:
        return None, "Not notified: the account has no owner email."
    operator = Account.objects.filter(pk=notify_account).first()
    if operator is None:
        return None, f"Not notified: SESAME_NOTIFY_ACCOUNT_ID {notify_account} is not an account."
    data: dict[str, Any] = {"from": sender, "to": to, "subject": subject, "text_body": text, "priority": 1}
    if settings.SESAME_NOTIFY_CONFIG_IDENTIFIER:
        data["config_identifier"] = settings.SESAME_NOTIFY_CONFIG_IDENTIFIER
    try:
        with transaction.atomic():
            email = email_accept(account=operator, data=data)
    except APIException as exc:
        logger.warning("Owner notice not accepted account=%s: %s", account.pk, exc.detail)
        return None, f"Not notified: {exc.detail}"[:2000]
    return email.pk, ""
