"""The public side of a sign-up form, for the visitors of the account's sites (no token):

- GET /f/<key>.js: the script that shows the form (templates/forms/popup.js);
- OPTIONS and POST /f/<key>: the sign-up, cross-origin from the form's allowed origins only;
- GET and POST /f/confirm/<token>: the confirmation page. GET only shows a button, so a mail scanner that
  follows links confirms nothing; POST confirms.
"""

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from config.api.boundary import ShapeError, decode, text_problems
from config.api.clients import client_ip
from config.api.errors import ErrorEntry, error_entry
from emails.forms import intake, services
from emails.forms.models import SignupForm
from emails.forms.selectors import signup_form_public
from emails.forms.validation import appearance_with_defaults, origin_allowed

MAX_BODY_BYTES = 16_384


def _escape_for_script(value: Any) -> str:
    """JSON that is safe inside a script: no `</script>`, no HTML comment opener, no JS line separators."""
    text = json.dumps(value, ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(raw, escaped)
    return text


def script_config(form: SignupForm) -> dict[str, Any]:
    """Everything the script needs; all of it is the account's (texts are put on the page as text, never HTML)."""
    return {
        "key": form.key,
        "endpoint": form.endpoint_url,
        "mode": form.mode,
        "trigger": form.trigger,
        "delay_seconds": form.delay_seconds,
        "scroll_percent": form.scroll_percent,
        "ask_name": form.ask_name,
        "require_name": form.require_name,
        "custom_fields": form.custom_fields,
        "consent_text": form.consent_text,
        "pow_bits": form.proof_of_work_bits,
        "honeypot": intake.HONEYPOT,
        "look": appearance_with_defaults(form.appearance),
    }


@require_http_methods(["GET", "HEAD"])
def form_script(request: HttpRequest, key: str) -> HttpResponse:
    form = signup_form_public(key)
    if form is None:
        return JsonResponse({"detail": "Not found."}, status=404)
    body = render_to_string("forms/popup.js", {"config": _escape_for_script(script_config(form))})
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _cors(response: HttpResponse, origin: str) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = origin
    response["Vary"] = "Origin"
    return response


def _parse(request: HttpRequest) -> tuple[dict[str, Any] | None, list[ErrorEntry]]:
    if len(request.body) > MAX_BODY_BYTES:
        return None, [error_entry(["body"], "the sign-up is too large", "value_error.size")]
    try:
        data = decode(request.body.decode("utf-8"), max_depth=4, max_items=200)
    except (UnicodeDecodeError, ValueError, ShapeError):
        return None, [error_entry(["body"], "send the sign-up as a JSON object", "value_error.jsondecode")]
    if not isinstance(data, dict):
        return None, [error_entry(["body"], "send the sign-up as a JSON object", "type_error.dict")]
    return data, text_problems(data, ["body"])


@csrf_exempt
@require_http_methods(["POST", "OPTIONS"])
def form_submit(request: HttpRequest, key: str) -> HttpResponse:
    form = signup_form_public(key)
    if form is None:
        return JsonResponse({"detail": "Not found."}, status=404)
    origin = request.headers.get("Origin", "")
    if not origin_allowed(origin, form.allowed_origins):
        # No CORS header: the browser hides even this answer from the page.
        shown = origin or "a request without an Origin header"
        return JsonResponse({"detail": f"{shown[:200]} is not one of this form's allowed origins."}, status=403)
    if request.method == "OPTIONS":
        preflight = _cors(HttpResponse(status=204), origin)
        preflight["Access-Control-Allow-Methods"] = "POST"
        preflight["Access-Control-Allow-Headers"] = "Content-Type"
        preflight["Access-Control-Max-Age"] = "600"
        return preflight
    ip = client_ip(request)
    rejection = intake.ip_rejection(ip)  # before reading the body: a flood costs as little as possible
    if rejection is None:
        data, problems = _parse(request)
        if data is None or problems:
            return _cors(JsonResponse({"detail": problems}, status=422), origin)
        rejection = intake.signup_receive(form=form, data=data, origin=origin, ip=ip)
    if rejection is None:
        success = appearance_with_defaults(form.appearance)["success"]
        return _cors(JsonResponse({"status": "pending", "detail": success}, status=202), origin)
    response = JsonResponse({"detail": rejection.detail}, status=rejection.status)
    if rejection.retry_after:
        response["Retry-After"] = str(rejection.retry_after)
    return _cors(response, origin)


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    page = HttpResponse(render_to_string(template, context, request=request), status=status)
    page["Cache-Control"] = "no-store"
    # The token is in the URL: never sent to another site (same-origin, not no-referrer, which would blank the
    # Origin header that the confirm button's CSRF check reads).
    page["Referrer-Policy"] = "same-origin"
    return page


@csrf_protect
@require_http_methods(["GET", "POST"])
def signup_confirm_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        signup = services.signup_request_for_token(token)
    except services.TokenExpired:
        days = settings.SESAME_FORMS_CONFIRM_DAYS
        return _page(request, "forms/confirm.html", {"state": "expired", "days": days}, status=410)
    except services.TokenInvalid:
        return _page(request, "forms/confirm.html", {"state": "invalid"}, status=404)
    context = {
        "signup": signup,
        "look": {"brand_color": appearance_with_defaults(signup.form.appearance)["accent"]},
        "brand": services.sender_name(signup.form),
    }
    if signup.confirmed_at:
        return _page(request, "forms/confirm.html", {**context, "state": "already"})
    if request.method == "POST":
        services.signup_confirm(request=signup, ip=client_ip(request))
        return _page(request, "forms/confirm.html", {**context, "state": "confirmed"})
    return _page(request, "forms/confirm.html", {**context, "state": "ask"})
