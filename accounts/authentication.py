"""Bearer-token authentication. Every failure answers 403 with a `detail` saying what is wrong.

`bearer_client` does the work on a plain Django request, so the lean accept path (emails/api/lean.py) and DRF's
authentication class share every rule."""

from dataclasses import dataclass

from django.http import HttpRequest
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


def bearer_token(request: HttpRequest, *, template_key: bool = False) -> str | None:
    """The token a request presents: `Authorization: Bearer <token>`, or a `template-key` header where the view
    takes one. None when there is none; a malformed header is refused."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header; expected `Authorization: Bearer <token>`."
            )
        return value.strip()
    if template_key:
        return request.headers.get("template-key", "").strip() or None
    return None


def bearer_client(request: HttpRequest, plaintext: str) -> ApiClient:
    """The caller behind a token, or AuthenticationFailed. The rate-limit decision made in the same Redis round
    trip is left on the request (RATE_DECISION_ATTR)."""
    token, decision = token_resolve(hash_token(plaintext)) if plaintext.startswith(TOKEN_PREFIX) else (None, None)
    if decision is not None:
        setattr(request, RATE_DECISION_ATTR, decision)
    if token is None or token.is_revoked:
        raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
    if not token.account.is_active:
        raise exceptions.AuthenticationFailed("This account is suspended; contact your Sesame operator.")
    api_token_touch(token=token)
    return ApiClient(account=token.account, token=token)


class BearerTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>`; views that set `accepts_template_key = True` (Send With SES's contact
    calls) also take the token in a `template-key` header."""

    def authenticate(self, request: Request) -> tuple[ApiClient, ApiToken] | None:
        view = request.parser_context.get("view") if request.parser_context else None
        plaintext = bearer_token(request._request, template_key=getattr(view, "accepts_template_key", False))
        if plaintext is None:
            return None
        client = bearer_client(request._request, plaintext)
        return client, client.token
