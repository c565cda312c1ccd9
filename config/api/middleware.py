"""The API's edge, for what happens before or around DRF views.

- Errors Django answers itself (a path that matches no route, e.g. a non-numeric id; a method a plain view does
  not take; a CSRF or host refusal; an unhandled exception) carry the API's `{"detail": ...}` JSON body, not an
  HTML page. The operator console under /admin/, the recipients' pages under /u/ and the sign-up confirmation
  pages under /f/confirm/ keep their HTML pages.
- OPTIONS answers the same way on every API view: 200 with the methods in `Allow` and in the body, no token
  needed (it reveals nothing else), and no view-specific metadata.
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from rest_framework.views import APIView

_DETAIL = {
    400: "Bad request.",
    403: "Forbidden.",
    404: "Not found.",
    405: "Method not allowed.",
    413: "The request body is too large.",
    500: "Server error.",
}
_HTML_PAGES = ("/admin/", "/u/", "/f/confirm/")
# Headers of the original answer that still hold for its JSON replacement.
_KEPT_HEADERS = ("Allow", "Retry-After", "x-ratelimit-limit", "x-ratelimit-remaining")


def allowed_methods(view_func: Any) -> list[str] | None:
    """The methods a DRF view answers (None for a plain Django view, which knows its own)."""
    cls = getattr(view_func, "cls", None)
    if not isinstance(cls, type) or not issubclass(cls, APIView):
        return None
    names = [name for name in cls.http_method_names if name not in ("options", "trace")]
    actions = getattr(view_func, "actions", None)
    if actions is not None:  # a ViewSet route: the methods mapped to actions on this path
        served = [name for name in names if name in actions or (name == "head" and "get" in actions)]
    else:
        served = [name for name in names if hasattr(cls, name) or (name == "head" and hasattr(cls, "get"))]
    return [*(name.upper() for name in served), "OPTIONS"]


class ApiEdgeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if response.status_code < 400 or request.path.startswith(_HTML_PAGES) or _is_json(response):
            return response
        if response.status_code >= 500 and settings.DEBUG:
            return response  # keep Django's debug page for the developer
        detail = _DETAIL.get(response.status_code) or f"{getattr(response, 'reason_phrase', 'Error')}."
        replacement = JsonResponse({"detail": detail}, status=response.status_code)
        for header in _KEPT_HEADERS:
            if header in response:
                replacement[header] = response[header]
        return replacement

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        if request.method != "OPTIONS":
            return None
        methods = allowed_methods(view_func)
        if methods is None:
            return None
        response = JsonResponse({"methods": methods})
        response["Allow"] = ", ".join(methods)
        return response


def _is_json(response: HttpResponseBase) -> bool:
    content_type = str(response.get("Content-Type", ""))
    return content_type.startswith("application/json") or content_type.startswith("application/problem+json")
