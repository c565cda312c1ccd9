"""Bearer-token authentication. Every failure answers 403 with a `detail` saying what is wrong."""

from dataclasses import dataclass
from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts.models import Account, ApiToken
from accounts.services import api_token_touch
from accounts.tenant_cache import token_resolve
from accounts.tokens import TOKEN_PREFIX, hash_token

# Where a request keeps its rate-limit decision, for the throttle and the x-ratelimit-* headers.
RATE_DECISION_ATTR = "sesame_ratelimit"


@dataclass(frozen=True)
class ApiClient:
    """The caller behind a token; DRF's request.user for API requests."""

    account: Account
    token: ApiToken
    is_authenticated: bool = True
    is_staff: bool = False


class BearerTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>`; views that set `accepts_template_key = True` (Send With SES's contact
    calls) also take the token in a `template-key` header."""

    def authenticate(self, request: Request) -> tuple[ApiClient, ApiToken] | None:
        plaintext = self._token_from(request)
        if plaintext is None:
            return None
        token, decision = token_resolve(hash_token(plaintext)) if plaintext.startswith(TOKEN_PREFIX) else (None, None)
        if decision is not None:  # counted in the same round trip that checked the cached context
            setattr(request._request, RATE_DECISION_ATTR, decision)
        if token is None or token.is_revoked:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        if not token.account.is_active:
            raise exceptions.AuthenticationFailed("This account is suspended; contact your Sesame operator.")
        api_token_touch(token=token)
        return ApiClient(account=token.account, token=token), token

    def _token_from(self, request: Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise exceptions.AuthenticationFailed(
                    "Malformed Authorization header; expected `Authorization: Bearer <token>`."
                )
            return value.strip()
        view: Any = request.parser_context.get("view") if request.parser_context else None
        if getattr(view, "accepts_template_key", False):
            key = request.headers.get("template-key", "").strip()
            return key or None
        return None
