"""The API keeps its own contract: Schemathesis fuzzes every operation of /v1/schema through the WSGI app.

Each operation gets the schema's examples, boundary cases and about 25 generated requests (valid and invalid),
sent with a full-scope token of an account whose default AWS connection has a verified sender domain
(example.com, the domain of the schema's own examples), so valid emails are really accepted. Every answer must be:
not a 5xx; a status the operation documents; a documented content type; a body matching the documented schema.

Runs in the normal suite, bounded (fixed seed, derandomized, ~1 minute). Deselect with `-m "not schemathesis"`.
Nothing is excluded: AWS is the local simulator (SESAME_AWS_MODE=simulator), nothing leaves the process, and
accepted emails are never dispatched (the test's transaction is never committed, so no task is enqueued).
"""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import Account
from tests.accounts.factories import token_for
from tests.emails.factories import sending_connection

pytestmark = [pytest.mark.django_db, pytest.mark.schemathesis]

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SEED = 20261122

# Loaded from the running app, exactly as a client would see it (the schema view touches no database).
schema = schemathesis.openapi.from_wsgi("/v1/schema", WSGIHandler(), config=SchemathesisConfig(seed=SEED))


@pytest.fixture
def _requests_share_the_test_transaction() -> Iterator[None]:
    """Django closes the database connection around each WSGI request; inside a test's transaction that would
    lose the fixtures' rows. Django's own test client does the same as this."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def sender(account: Account) -> Account:
    sending_connection(account, domain="example.com")
    return account


@schema.parametrize()
@settings(max_examples=25, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_documented_contract(
    case: Any, sender: Account, _requests_share_the_test_transaction: None
) -> None:
    # A fresh token per request: generated DELETE /v1/tokens/{id} calls may revoke the previous one.
    token = token_for(sender)
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    case.validate_response(response, checks=CHECKS)
