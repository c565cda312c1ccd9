"""The yardstick for accept (issue 10): the least a Django view can do to accept an email, served by the same
gunicorn as Sesame (see bench/accept_bench.py), under /bench/minimal and /bench/minimal-batch.

It looks the token's hash up together with the account's default connection (one query), parses the JSON, inserts
the same Email row through the ORM and returns the id. No validation, no policy, no rate limit, no DRF: what is
left is the floor of Django, the ORM insert and PostgreSQL on this machine.
"""

import json
import uuid
from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from accounts.tokens import hash_token
from emails.models import Email

_TENANT_SQL = """
SELECT t.account_id, c.id FROM accounts_apitoken t
JOIN accounts_awsconnection c ON c.account_id = t.account_id AND c.is_default
WHERE t.token_hash = %s
"""


def _tenant(request: HttpRequest) -> tuple[Any, Any] | None:
    plaintext = request.headers.get("Authorization", "")[len("Bearer ") :]
    with connection.cursor() as cursor:
        cursor.execute(_TENANT_SQL, [hash_token(plaintext)])
        return cursor.fetchone()


def _row(account_id: Any, connection_id: Any, body: dict[str, Any], now: Any) -> Email:
    return Email(
        id=uuid.uuid4(),
        account_id=account_id,
        connection_id=connection_id,
        from_address=body["from"],
        to_address=body["to"],
        to_email=body["to"].lower(),
        subject=body["subject"],
        text_body=body.get("text_body", ""),
        priority=body.get("priority", 50),
        tags=body.get("tags", []),
        send_at=now,
        status=Email.Status.QUEUED,
    )


@csrf_exempt
def minimal(request: HttpRequest) -> JsonResponse:
    tenant = _tenant(request)
    if tenant is None:
        return JsonResponse({"detail": "Invalid token."}, status=403)
    email = _row(*tenant, json.loads(request.body), timezone.now())
    email.save(force_insert=True)
    return JsonResponse({"id": str(email.id)})


@csrf_exempt
def minimal_batch(request: HttpRequest) -> JsonResponse:
    tenant = _tenant(request)
    if tenant is None:
        return JsonResponse({"detail": "Invalid token."}, status=403)
    now = timezone.now()
    emails = [_row(*tenant, body, now) for body in json.loads(request.body)["emails"]]
    Email.objects.bulk_create(emails)
    return JsonResponse({"accepted": len(emails), "ids": [str(email.id) for email in emails]})


urlpatterns = [
    path("bench/minimal", minimal),
    path("bench/minimal-batch", minimal_batch),
    path("", include("config.urls")),
]
