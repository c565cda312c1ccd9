"""Schema, docs, health and start-up checks."""

import pytest
from django.core.checks import run_checks
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_openapi_schema_lists_every_v1_route_with_examples(client):
    response = client.get("/v1/schema", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"
    missing_examples = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            success = [code for code in operation["responses"] if code.startswith("2")]
            has_example = any(
                "examples" in content
                for code in success
                for content in operation["responses"][code].get("content", {}).values()
            ) or success == ["204"]
            if not has_example:
                missing_examples.append(f"{method.upper()} {path}")
    assert missing_examples == []
    assert "/v1/account" in schema["paths"]


def test_interactive_docs_render(client):
    response = client.get("/v1/docs")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True, "vendor": "postgresql", "latency_ms": body["database"]["latency_ms"]}
    assert body["broker"]["ok"] is True and body["broker"]["transport"] == "redis"


@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_healthz_answers_503_when_the_broker_is_down(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == {
        "ok": False,
        "transport": "redis",
        "url": "redis://127.0.0.1:1/0",
        "error": "ConnectionError",
    }


@override_settings(SECRET_KEY="", SESAME_ENCRYPTION_KEY="")
def test_missing_production_secrets_fail_the_checks_by_name():
    messages = {problem.id: problem.msg for problem in run_checks()}
    assert "SESAME_SECRET_KEY" in messages["sesame.E001"]
    assert "SESAME_ENCRYPTION_KEY" in messages["sesame.E002"]


@override_settings(SESAME_ENCRYPTION_KEY="not-a-fernet-key")
def test_malformed_encryption_key_fails_the_checks():
    assert "sesame.E003" in {problem.id for problem in run_checks()}


@override_settings(SESAME_ENV="production", DEBUG=True, ALLOWED_HOSTS=[])
def test_production_refuses_debug_and_open_hosts():
    ids = {problem.id for problem in run_checks()}
    assert {"sesame.E010", "sesame.E011"} <= ids
