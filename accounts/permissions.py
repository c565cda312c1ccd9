from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import Account, ApiToken
from config.api.messages import MISSING_TOKEN


def scope_refusal(token: ApiToken, scope: str) -> str | None:
    """Why this token may not call a view needing `scope`, or None when it may."""
    if token.allows(scope):
        return None
    return f"This token's scopes ({', '.join(token.scopes)}) do not include {scope!r}."


class _ScopePermission(BasePermission):
    scope: str = ApiToken.Scope.FULL.value
    message = MISSING_TOKEN

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            self.message = MISSING_TOKEN
            return False
        refusal = scope_refusal(token, self.scope)
        if refusal is not None:
            self.message = refusal
            return False
        return True


class HasFullScope(_ScopePermission):
    scope = ApiToken.Scope.FULL.value


class HasContactsScope(_ScopePermission):
    """Full tokens and Send With SES-style contact upload keys."""

    scope = ApiToken.Scope.CONTACTS.value


def request_account(request: Request) -> Account:
    """The account of the authenticated caller; views use it to scope every query."""
    token = request.auth
    assert isinstance(token, ApiToken), "request_account() called on an unauthenticated request"
    return token.account
