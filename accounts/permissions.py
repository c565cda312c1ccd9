from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import Account, ApiToken
from config.api.messages import MISSING_TOKEN


class _ScopePermission(BasePermission):
    scope: str = ApiToken.Scope.FULL.value
    message = MISSING_TOKEN

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            self.message = MISSING_TOKEN
            return False
        if not token.allows(self.scope):
            self.message = f"This token's scopes ({', '.join(token.scopes)}) do not include {self.scope!r}."
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
