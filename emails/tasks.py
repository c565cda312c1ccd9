"""Celery doors into the email pipeline. Tasks take ids, call services, and never raise into the worker."""

from celery import shared_task

from accounts.models import AwsConnection
from emails import services
from emails.forms.services import signup_requests_forget_expired


@shared_task(ignore_result=True)
def refresh_send_quotas() -> None:
    for connection in AwsConnection.objects.filter(is_active=True).select_related("account"):
        services.connection_refresh_send_quota(connection=connection)


@shared_task(ignore_result=True)
def refresh_identities() -> None:
    for connection in AwsConnection.objects.filter(is_active=True, identities__isnull=False).distinct():
        services.identity_refresh(connection=connection)


@shared_task(ignore_result=True)
def prune_email_bodies() -> None:
    services.email_bodies_prune()


@shared_task(ignore_result=True)
def forget_expired_signups() -> None:
    signup_requests_forget_expired()


@shared_task(ignore_result=True)
def conversations_wake() -> None:
    from emails.inbox.services import conversations_wake as wake

    wake()
