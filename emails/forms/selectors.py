"""Reads of sign-up forms: the public lookup by key, and the account's forms with their counts."""

from django.db.models import Count, F, FloatField, Q, QuerySet
from django.db.models.functions import Cast, NullIf

from accounts.models import Account
from emails.forms.models import SignupForm


def signup_form_public(key: str) -> SignupForm | None:
    """An active form by its public key (the script tag's), with its account; None for anything else."""
    return SignupForm.objects.select_related("account").filter(key=key, is_active=True).first()


def with_stats(queryset: QuerySet[SignupForm]) -> QuerySet[SignupForm]:
    """Annotates `signups`, `confirmations` and `conversion_rate` (confirmations / sign-ups; None without any)."""
    return queryset.annotate(
        signups=Count("requests"),
        confirmations=Count("requests", filter=Q(requests__confirmed_at__isnull=False)),
    ).annotate(conversion_rate=Cast(F("confirmations"), FloatField()) / Cast(NullIf(F("signups"), 0), FloatField()))


def signup_forms_for_account(*, account: Account) -> QuerySet[SignupForm]:
    return with_stats(SignupForm.objects.filter(account=account))
