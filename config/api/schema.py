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


_HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


def _ref(component: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{component}"}


def _detail_response(description: str, example: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": _ref("Detail"),
                "examples": {"Example": {"value": {"detail": example}}},
            }
        },
    }


_STANDARD_RESPONSES: dict[str, dict[str, Any]] = {
    "403": _detail_response(
        "Missing, unknown or revoked token, or a suspended account.", "Invalid or revoked API token."
    ),
    "404": _detail_response("No such object in your account (or an id of the wrong form).", "Not found."),
    "413": _detail_response(
        "The body is larger than the API accepts, or holds too many values.", "The body is larger than 40 MB."
    ),
    "422": {
        "description": "The request failed validation; one entry per problem, `loc` says where.",
        "content": {
            "application/json": {
                "schema": _ref("ValidationError"),
                "examples": {
                    "Missing field": {
                        "value": {
                            "detail": [{"loc": ["body", "to"], "msg": "field required", "type": "value_error.missing"}]
                        }
                    },
                    "Bad cursor": {
                        "value": {
                            "detail": [
                                {
                                    "loc": ["query", "cursor"],
                                    "msg": "Invalid cursor: pass back the `next` or `previous` link of a list "
                                    "unchanged.",
                                    "type": "value_error.invalid",
                                }
                            ]
                        }
                    },
                },
            }
        },
    },
    "429": _detail_response(
        "Your plan's per-minute request budget is spent; retry after `Retry-After` seconds.", "Too Many Attempts."
    ),
}


def complete_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular post-processing: every operation documents the errors it can answer, without each view
    repeating them. 403 and 429 where a token is needed, 404 where the path names an object, 422 where a query
    string or body is validated, 413 where there is a body. What a view documents itself wins."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(
        "Detail", {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
    )
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in _HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            where = {parameter.get("in") for parameter in operation.get("parameters", [])}
            codes = []
            if operation.get("security"):
                codes += ["403", "429"]
            if "path" in where:
                codes.append("404")
            if "query" in where or "requestBody" in operation:
                codes.append("422")
            if "requestBody" in operation:
                codes.append("413")
            for code in codes:
                responses.setdefault(code, _STANDARD_RESPONSES[code])
            for response in responses.values():
                _unwrap_listed_examples(response)
    return result


def _unwrap_listed_examples(response: dict[str, Any]) -> None:
    """A list's examples may be written as one item, a list of items, or a whole page; drf-spectacular wraps each
    in a page, so the last two come out wrapped twice. Unwrap them."""
    for media in response.get("content", {}).values():
        for example in (media.get("examples") or {}).values():
            value = example.get("value")
            if not isinstance(value, dict) or not isinstance(value.get("results"), list):
                continue
            if len(value["results"]) != 1:
                continue
            inner = value["results"][0]
            if isinstance(inner, list):
                example["value"] = {**value, "results": inner}
            elif isinstance(inner, dict) and isinstance(inner.get("results"), list) and "next" in inner:
                example["value"] = inner
