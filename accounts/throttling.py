"""The per-plan API budget (a DRF throttle) and the x-ratelimit-* headers on every API response."""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from accounts.authentication import RATE_DECISION_ATTR
from accounts.models import ApiToken
from accounts.ratelimit import Decision, rate_counter


def rate_decision(request: HttpRequest, token: ApiToken) -> Decision:
    """This request's place in the account's budget: decided at authentication when Redis holds the cached
    context, counted here otherwise (no Redis: nothing is cached)."""
    decision: Decision | None = getattr(request, RATE_DECISION_ATTR, None)
    if decision is None:
        account = token.account
        decision = rate_counter().hit(f"account:{account.pk}", limit=account.plan.api_requests_per_minute)
        setattr(request, RATE_DECISION_ATTR, decision)
    return decision


class AccountRateThrottle(BaseThrottle):
    """Counts every authenticated call against the account's plan, per rolling minute."""

    def allow_request(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        self._decision = rate_decision(request._request, token)
        return self._decision.allowed

    def wait(self) -> float | None:
        return float(self._decision.retry_after)


class RateLimitHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        decision: Decision | None = getattr(request, RATE_DECISION_ATTR, None)
        if decision is not None:
            response["x-ratelimit-limit"] = str(decision.limit)
            response["x-ratelimit-remaining"] = str(decision.remaining)
            if not decision.allowed:
                response["Retry-After"] = str(decision.retry_after)
        return response
