"""/v1/templates: CRUD with versions, syntax errors with their line, uploads, previews, two accounts."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contacts.models import Contact
from emails.models import Template, TemplateVersion

pytestmark = pytest.mark.django_db

EMAIL = {
    "name": "order-shipped",
    "channel": "email",
    "subject": "Order {{ order_id }} has shipped",
    "html": '<p>Hi {{ first_name | default: "there" }},</p><p>Order {{ order_id }} is on its way.</p>',
    "variables": [{"name": "order_id", "type": "number"}],
}


def _create(client, **overrides):
    response = client.post("/v1/templates", {**EMAIL, **overrides}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_create_retrieve_and_list_by_channel(client_for):
    created = _create(client_for)
    assert created["version"] == 1
    assert created["current_version"]["variables"] == [
        {"name": "order_id", "type": "number", "required": True, "description": ""}
    ]
    assert created["current_version"]["text_derived"] is True
    assert "body" not in created["current_version"]  # an email version shows the email fields only
    sms = client_for.post("/v1/templates", {"name": "code", "channel": "sms", "body": "Hi {{ name }}"}, format="json")
    assert sms.status_code == 201
    detail = client_for.get(f"/v1/templates/{created['id']}").json()
    assert detail["current_version"]["html"] == EMAIL["html"]
    names = [t["name"] for t in client_for.get("/v1/templates?channel=sms").json()["results"]]
    assert names == ["code"]
    assert len(client_for.get("/v1/templates").json()["results"]) == 2


def test_update_makes_a_new_version_and_keeps_the_old(client_for):
    created = _create(client_for)
    renamed = client_for.patch(f"/v1/templates/{created['id']}", {"description": "Shipping"}, format="json").json()
    assert renamed["version"] == 1  # no new content, no new version
    updated = client_for.put(
        f"/v1/templates/{created['id']}", {"subject": "Shipped: {{ order_id }}"}, format="json"
    ).json()
    assert updated["version"] == 2
    assert updated["current_version"]["subject"] == "Shipped: {{ order_id }}"
    assert updated["current_version"]["html"] == EMAIL["html"]  # fields left out keep their text
    versions = client_for.get(f"/v1/templates/{created['id']}/versions").json()["results"]
    assert [(v["number"], v["subject"]) for v in versions] == [
        (2, "Shipped: {{ order_id }}"),
        (1, "Order {{ order_id }} has shipped"),
    ]


def test_syntax_error_is_a_422_at_the_field_naming_the_line(client_for):
    response = client_for.post(
        "/v1/templates", {**EMAIL, "html": "<p>Hi</p>\n{% if vip %}\n<p>Welcome back</p>"}, format="json"
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "html"]
    assert error["msg"] == "template syntax: line 3: expected tag endif, found end of expression"
    assert Template.objects.count() == 0

    created = _create(client_for)
    response = client_for.patch(f"/v1/templates/{created['id']}", {"subject": "{{ a | nope }}"}, format="json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "subject"]
    assert "line 1: unknown filter 'nope'" in response.json()["detail"][0]["msg"]
    assert TemplateVersion.objects.count() == 1


def test_channel_fields_and_declarations_are_checked(client_for):
    response = client_for.post(
        "/v1/templates",
        {
            "name": "x",
            "channel": "sms",
            "subject": "Hi",
            "variables": [{"name": "1bad"}, {"name": "n", "type": "date"}],
        },
        format="json",
    )
    assert response.status_code == 422
    locs = {tuple(e["loc"]) for e in response.json()["detail"]}
    assert locs == {
        ("body", "subject"),
        ("body", "body"),
        ("body", "variables", 0, "name"),
        ("body", "variables", 1, "type"),
    }


def test_name_is_unique_per_channel_until_archived(client_for):
    created = _create(client_for)
    assert client_for.post("/v1/templates", EMAIL, format="json").status_code == 409
    assert client_for.delete(f"/v1/templates/{created['id']}").status_code == 204
    assert client_for.get("/v1/templates").json()["results"] == []
    archived = client_for.get("/v1/templates?archived=true").json()["results"]
    assert [t["id"] for t in archived] == [created["id"]]
    assert client_for.patch(f"/v1/templates/{created['id']}", {"subject": "x"}, format="json").status_code == 409
    assert client_for.post("/v1/templates", EMAIL, format="json").status_code == 201


def test_html_can_be_uploaded_as_a_file(client_for):
    upload = SimpleUploadedFile("shipped.html", "<h1>Hi {{ first_name }}</h1><p>Straße</p>".encode(), "text/html")
    response = client_for.post(
        "/v1/templates",
        {"name": "uploaded", "channel": "email", "subject": "Hello", "html_file": upload},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    version = response.json()["current_version"]
    assert version["html"] == "<h1>Hi {{ first_name }}</h1><p>Straße</p>"
    assert version["text_derived"] is True
    preview = client_for.post(
        f"/v1/templates/{response.json()['id']}/preview", {"variables": {"first_name": "Ada"}}, format="json"
    )
    assert preview.json()["text"] == "Hi Ada\n\nStraße"

    bad = SimpleUploadedFile("bad.html", b"\xff\xfe<p>x</p>", "text/html")
    response = client_for.post(
        "/v1/templates", {"name": "bad", "channel": "email", "subject": "x", "html_file": bad}, format="multipart"
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "html_file"]


def test_preview_with_a_contact_and_sample_data_lists_missing_variables(client_for, account):
    Contact.objects.create(account=account, email="ada@example.net", full_name="Ada Lovelace")
    created = _create(client_for)
    url = f"/v1/templates/{created['id']}/preview"
    response = client_for.post(url, {"contact": "ada@example.net"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["html"] == "<p>Hi Ada,</p><p>Order  is on its way.</p>"
    assert body["missing"] == ["order_id"]
    assert body["version"] == 1
    response = client_for.post(url, {"contact": "ada@example.net", "variables": {"order_id": 7}}, format="json")
    assert response.json()["subject"] == "Order 7 has shipped"
    assert response.json()["missing"] == []
    assert response.json()["text"] == "Hi Ada,\n\nOrder 7 is on its way."
    wrong_type = client_for.post(url, {"variables": {"order_id": "seven"}}, format="json")
    assert wrong_type.status_code == 422
    assert wrong_type.json()["detail"][0]["loc"] == ["body", "variables", "order_id"]
    unknown = client_for.post(url, {"contact": "nobody@example.net"}, format="json")
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "contact"]


def test_another_accounts_template_is_404_and_never_listed(client_for, api, other_account):
    created = _create(client_for)
    intruder = api(other_account)
    assert intruder.get(f"/v1/templates/{created['id']}").status_code == 404
    assert intruder.post(f"/v1/templates/{created['id']}/preview", {}, format="json").status_code == 404
    assert intruder.get(f"/v1/templates/{created['id']}/versions").status_code == 404
    assert intruder.patch(f"/v1/templates/{created['id']}", {"subject": "x"}, format="json").status_code == 404
    assert intruder.delete(f"/v1/templates/{created['id']}").status_code == 404
    assert intruder.get("/v1/templates").json()["results"] == []
    # the same name is free in the other account
    assert intruder.post("/v1/templates", EMAIL, format="json").status_code == 201
    assert Template.objects.filter(archived_at__isnull=True).count() == 2


@pytest.mark.sqlite
def test_templates_api_smoke(client_for):
    created = _create(client_for)
    assert client_for.get("/v1/templates?channel=email&q=order").json()["results"][0]["id"] == created["id"]
    preview = client_for.post(f"/v1/templates/{created['id']}/preview", {"variables": {"order_id": 1}}, format="json")
    assert preview.status_code == 200
    assert client_for.get(f"/v1/templates/{created['id']}/versions").status_code == 200
