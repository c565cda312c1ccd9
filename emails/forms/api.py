"""/v1/forms: an account's sign-up forms (CRUD), each with its counts and the script tag to paste."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import request_account
from accounts.scoping import AccountScopedMixin
from config.api.schema import common_responses, unprocessable
from emails.forms import services
from emails.forms.models import SignupForm
from emails.forms.selectors import with_stats
from emails.forms.serializers import SignupFormSerializer, SignupFormWriteSerializer

FORM_WRITE = {
    "name": "Newsletter popup",
    "sender": "Acme <news@acme.test>",
    "ask_name": True,
    "custom_fields": [{"key": "company", "label": "Company", "required": False}],
    "consent_text": "I agree to receive Acme's monthly newsletter. I can unsubscribe at any time.",
    "tags": ["newsletter", "website"],
    "topic": "newsletter",
    "allowed_origins": ["https://www.acme.test", "https://*.acme.test"],
    "mode": "popup",
    "trigger": "exit_intent",
    "appearance": {"accent": "#0a7d4f", "title": "Get our monthly newsletter", "button": "Sign me up"},
    "proof_of_work_bits": 16,
}
FORM = {
    "id": "5d0e6f0a-3c2b-4a55-9b8e-2f1f7f0f6a11",
    "key": "Hk3v9x2QpL0aTz7m",
    "is_active": True,
    "config_identifier": "",
    "require_name": False,
    "delay_seconds": 5,
    "scroll_percent": 50,
    **FORM_WRITE,
    "script_url": "https://sesame.example.com/f/Hk3v9x2QpL0aTz7m.js",
    "embed_snippet": '<script src="https://sesame.example.com/f/Hk3v9x2QpL0aTz7m.js" async></script>',
    "signups": 240,
    "confirmations": 180,
    "conversion_rate": 0.75,
    "created_at": "2026-11-22T10:00:00Z",
    "updated_at": "2026-11-22T10:00:00Z",
}
UNVERIFIED = OpenApiExample(
    "Unverified sender",
    value={
        "detail": [
            {
                "loc": ["body", "sender"],
                "msg": "news@acme.test is not a verified identity of the AWS connection 'default', so the confirmation "
                "email could not be sent; verify the address or its domain first (POST /v1/identities or manage.py "
                "add_identity)",
                "type": "value_error.unverified_sender",
            }
        ]
    },
)


@extend_schema_view(
    list=extend_schema(
        summary="List sign-up forms",
        description="Newest first, each with its sign-ups, confirmations and conversion rate.",
        responses={200: SignupFormSerializer(many=True), **common_responses()},
        examples=[
            OpenApiExample("Page", response_only=True, value={"next": None, "previous": None, "results": [FORM]})
        ],
    ),
    retrieve=extend_schema(
        summary="One sign-up form, with the script tag to embed",
        responses={200: SignupFormSerializer, **common_responses(with_not_found=True)},
        examples=[OpenApiExample("Form", value=FORM, response_only=True)],
    ),
    destroy=extend_schema(
        summary="Delete a sign-up form",
        description="Its script stops showing anything; pending sign-ups can no longer be confirmed. Contacts stay.",
        responses={204: None, **common_responses(with_not_found=True)},
    ),
)
class SignupFormViewSet(
    AccountScopedMixin[SignupForm],
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    scoped_model = SignupForm
    serializer_class = SignupFormSerializer
    lookup_value_regex = r"[0-9a-fA-F-]{36}"
    http_method_names = ["get", "post", "patch", "delete"]

    def scoped_queryset(self, queryset: QuerySet[SignupForm]) -> QuerySet[SignupForm]:
        return with_stats(queryset)

    def _answer(self, form: SignupForm, code: int = status.HTTP_200_OK) -> Response:
        return Response(SignupFormSerializer(self.get_queryset().get(pk=form.pk)).data, status=code)

    @extend_schema(
        summary="Create a sign-up form",
        description="The confirmation email goes out from `sender`, which must be a verified identity of the "
        "connection (`config_identifier`, else the default). Visitors' browsers may post only from "
        "`allowed_origins`. Embed the answer's `embed_snippet` in your pages.",
        request=SignupFormWriteSerializer,
        responses={201: SignupFormSerializer, 422: unprocessable(UNVERIFIED), **common_responses()},
        examples=[
            OpenApiExample("Popup", value=FORM_WRITE, request_only=True),
            OpenApiExample(
                "Created", value={**FORM, "signups": 0, "confirmations": 0, "conversion_rate": None}, response_only=True
            ),
        ],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = SignupFormWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        form = services.signup_form_create(account=request_account(request), values=dict(payload.validated_data))
        return self._answer(form, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a sign-up form",
        description="Only the fields given change; the same rules as on creation apply to the result.",
        request=SignupFormWriteSerializer,
        responses={200: SignupFormSerializer, 422: unprocessable(UNVERIFIED), **common_responses(with_not_found=True)},
        examples=[
            OpenApiExample("Inline", value={"mode": "inline", "tags": ["newsletter"]}, request_only=True),
            OpenApiExample("Changed", value={**FORM, "mode": "inline", "tags": ["newsletter"]}, response_only=True),
        ],
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = self.get_object()
        payload = SignupFormWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        form = services.signup_form_update(form=form, changes=dict(payload.validated_data))
        return self._answer(form)

    def perform_destroy(self, instance: SignupForm) -> None:
        services.signup_form_delete(form=instance)
