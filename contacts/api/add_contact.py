"""Send With SES's `POST /add-contact`, answered in its own `{"success": ..., "message": ...}` shape."""

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import request_account
from config.api.errors import flatten_errors
from config.api.parsers import FormParser, JsonParser, MultiPartParser
from contacts import services
from contacts.api.base import ContactsApiMixin
from contacts.api.serializers import AddContactResultSerializer, AddContactSerializer

SEED_BODY = {
    "email": "example@gmail.com",
    "status": "Unsubscribe",
    "full_name": "John Due",
    "mobile": "+918098763849",
    "dob": "10-10-1990",
    "gender": "Male",
    "city": "Hyderabad",
    "country": "India",
    "add_tags": "aaa,bbb,ccc",
    "remove_tags": "ddd,eee,fff",
}

# What Send With SES's clients show their users, per failing status.
_MESSAGES = {
    status.HTTP_403_FORBIDDEN: "Authentication failed",
    status.HTTP_404_NOT_FOUND: "Not found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "Method not allowed",
    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE: "Request too large",
    status.HTTP_429_TOO_MANY_REQUESTS: "Rate limit exceeded",
}


def failure(message: str, error: str, code: int) -> Response:
    return Response({"success": False, "message": message, "error": error}, status=code)


def _describe(entries: list[dict[str, Any]]) -> str:
    parts = []
    for entry in entries:
        where = ".".join(str(part) for part in entry["loc"] if part != "body")
        parts.append(f"{where}: {entry['msg']}" if where else entry["msg"])
    return "; ".join(parts)


class AddContactApi(ContactsApiMixin, APIView):
    parser_classes = [JsonParser, FormParser, MultiPartParser]

    @extend_schema(
        summary="Add or update a contact (Send With SES)",
        description="Send With SES's contacts call, unchanged: the contact upload key goes in the `template-key` "
        "header (or `Authorization: Bearer`), the body is JSON or a form, `add_tags` / `remove_tags` are "
        "comma-separated and `dob` is DD-MM-YYYY. Upserts by email, else mobile. Failures answer 4xx with "
        '`{"success": false, "message": ..., "error": ...}`.',
        request={"application/json": AddContactSerializer, "application/x-www-form-urlencoded": AddContactSerializer},
        responses={
            200: OpenApiResponse(
                AddContactResultSerializer,
                examples=[
                    OpenApiExample("Added", value={"success": True, "message": "Contact added"}),
                    OpenApiExample("Updated", value={"success": True, "message": "Contact updated"}),
                ],
            ),
            422: OpenApiResponse(
                AddContactResultSerializer,
                examples=[
                    OpenApiExample(
                        "Bad mobile",
                        value={
                            "success": False,
                            "message": "Invalid mobile",
                            "error": "mobile: '+44 20 7183 8750' is not in E.164 format … Send '+442071838750'.",
                        },
                    )
                ],
            ),
            403: OpenApiResponse(AddContactResultSerializer, description="Missing or wrong template-key."),
            413: OpenApiResponse(AddContactResultSerializer, description="The body is too large."),
            429: OpenApiResponse(AddContactResultSerializer, description="Your plan's per-minute budget is spent."),
        },
        examples=[OpenApiExample("The Send With SES example", value=SEED_BODY, request_only=True)],
        tags=["contacts"],
    )
    def post(self, request: Request) -> Response:
        payload = AddContactSerializer(data=request.data)
        if not payload.is_valid():
            entries = flatten_errors(payload.errors, [])
            fields = sorted({str(entry["loc"][0]) for entry in entries if entry["loc"]})
            message = f"Invalid {', '.join(fields)}" if fields else "Invalid request"
            return failure(message, _describe(entries), status.HTTP_422_UNPROCESSABLE_ENTITY)
        data = dict(payload.validated_data)
        add_tags = data.pop("add_tags", [])
        remove_tags = data.pop("remove_tags", [])
        try:
            _, created = services.contact_upsert(
                account=request_account(request),
                fields=data,  # type: ignore[arg-type]
                add_tags=add_tags,
                remove_tags=remove_tags,
            )
        except services.ContactError as exc:
            return failure(f"Invalid {exc.field}", f"{exc.field}: {exc}", status.HTTP_422_UNPROCESSABLE_ENTITY)
        return Response({"success": True, "message": "Contact added" if created else "Contact updated"})

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        detail = response.data.get("detail") if isinstance(response.data, dict) else response.data
        if isinstance(detail, list):
            return failure("Invalid request", _describe(detail), response.status_code)
        message = _MESSAGES.get(response.status_code, "Request failed")
        reshaped = failure(message, str(detail), response.status_code)
        for header in ("Retry-After",):
            if header in response:
                reshaped[header] = response[header]
        return reshaped
