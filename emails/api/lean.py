"""`POST /v1/emails` without DRF's request cycle, for the requests that need none of it.

Sending one email is the API's hottest call, and DRF's cycle (wrapping the request, negotiating content, running
the authentication, permission and throttle classes, rendering) cost about a quarter of its CPU. This path runs the
same pieces as plain functions: `bearer_client` (accounts/authentication.py), `scope_refusal`, `rate_decision`,
the API's JSON parser and `email_accept`, and builds every error through the API's own exception handler, so
statuses, bodies and headers are the same byte for byte. The OpenAPI schema still comes from `EmailViewSet.create`.

Only the plain case takes it: a POST with a JSON body and a Bearer token, no query string, and a response the
client accepts as JSON. Anything else (another method, a form, an empty body, a missing or `template-key` token,
an Accept header DRF would negotiate) is handed to the DRF view before anything is counted or stored.
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.urls import URLPattern
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from accounts.authentication import bearer_client
from accounts.models import ApiToken
from accounts.permissions import scope_refusal
from accounts.throttling import rate_decision
from config.api.errors import exception_handler
from config.api.middleware import allowed_methods
from config.api.parsers import JsonParser
from emails import services
from emails.api.emails import duplicate_response
from emails.serializers import EmailAcceptedSerializer

_JSON_ACCEPTS = frozenset(("", "*/*", "application/json", "application/*"))
_COMPACT = {"separators": (",", ":"), "ensure_ascii": False}


def _takes_lean_path(request: HttpRequest) -> bool:
    return (
        request.method == "POST"
        and request.content_type == "application/json"
        and request.META.get("CONTENT_LENGTH", "0") not in ("", "0")
        and request.headers.get("Authorization", "")[:7].lower() == "bearer "
        and not request.META.get("QUERY_STRING")
        and request.headers.get("Accept", "").partition(";")[0].strip() in _JSON_ACCEPTS
    )


def _rendered(response: Response) -> Response:
    """A DRF Response rendered as the DRF view would (JSONRenderer is the API's only renderer)."""
    response.accepted_renderer = JSONRenderer()
    response.accepted_media_type = "application/json"
    response.renderer_context = {}  # type: ignore[attr-defined]  # read by render(), not in the stubs
    response.render()
    return response


def _accept(request: HttpRequest) -> HttpResponse:
    client = bearer_client(request, request.headers["Authorization"][7:].strip())
    refusal = scope_refusal(client.token, ApiToken.Scope.FULL.value)
    if refusal is not None:
        raise exceptions.PermissionDenied(refusal)
    decision = rate_decision(request, client.token)
    if not decision.allowed:
        raise exceptions.Throttled(wait=decision.retry_after)
    encoding = request.encoding or settings.DEFAULT_CHARSET  # what DRF's Request hands its parsers
    data = JsonParser().parse(request, "application/json", {"request": request, "encoding": encoding})
    try:
        email = services.email_accept(account=client.account, data=data)
    except services.DuplicateClientEmailId as error:
        return _rendered(duplicate_response(error))
    # DRF's JSONRenderer writes compact JSON, UTF-8 as is.
    return JsonResponse(EmailAcceptedSerializer.of(email), json_dumps_params=_COMPACT)


def lean_accept(full_view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """`full_view` (the DRF route of /v1/emails or /emails) with the lean path in front of it. The route keeps
    the DRF view's attributes, so the schema, OPTIONS and the allowed methods still describe the DRF view."""

    allow = ", ".join(allowed_methods(full_view) or ())  # DRF sets Allow on every answer of its views

    @csrf_exempt
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not _takes_lean_path(request):
            return full_view(request, *args, **kwargs)
        try:
            response: HttpResponse = _accept(request)
        except exceptions.APIException as exc:
            error = exception_handler(exc, {"request": request, "view": None})
            assert error is not None  # the handler answers every APIException
            response = _rendered(error)
        response["Allow"] = allow
        return response

    view.__dict__.update(full_view.__dict__)  # cls, initkwargs, actions: what the schema and the edge read
    return view


def lean_route(pattern: URLPattern) -> URLPattern:
    """The same route (path, name, arguments) served through `lean_accept`."""
    return URLPattern(pattern.pattern, lean_accept(pattern.callback), pattern.default_args, pattern.name)
