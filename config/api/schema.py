"""OpenAPI helpers: the bearer scheme and the error responses every endpoint shares."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse

from config.api.serializers import DetailSerializer, ValidationErrorSerializer


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.BearerTokenAuthentication"
    name = "BearerToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token from `python manage.py create_account` or the admin (Tokens).",
        }


FORBIDDEN = OpenApiResponse(
    DetailSerializer,
    description="Missing, unknown or revoked token, or a suspended account.",
    examples=[OpenApiExample("Bad token", value={"detail": "Invalid or revoked API token."})],
)
NOT_FOUND = OpenApiResponse(
    DetailSerializer,
    description="No such object in your account.",
    examples=[OpenApiExample("Not found", value={"detail": "Not found."})],
)
TOO_MANY = OpenApiResponse(
    DetailSerializer,
    description="Your plan's per-minute request budget is spent; retry after `Retry-After` seconds.",
    examples=[OpenApiExample("Rate limited", value={"detail": "Too Many Attempts."})],
)


def unprocessable(*examples: OpenApiExample) -> OpenApiResponse:
    return OpenApiResponse(
        ValidationErrorSerializer,
        description="The request failed validation; one entry per problem.",
        examples=list(examples)
        or [
            OpenApiExample(
                "Missing field",
                value={"detail": [{"loc": ["body", "to"], "msg": "field required", "type": "value_error.missing"}]},
            )
        ],
    )


def common_responses(*, with_not_found: bool = False) -> dict[int, OpenApiResponse]:
    responses = {403: FORBIDDEN, 429: TOO_MANY}
    if with_not_found:
        responses[404] = NOT_FOUND
    return responses
