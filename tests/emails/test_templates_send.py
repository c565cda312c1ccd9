"""POST /v1/emails (single and batch) with `template` + `variables`: rendered at accept for the contact at `to`,
the version recorded, missing variables refused with their names."""

import pytest

from contacts.models import Contact
from emails.models import Email
from emails.templating import template_create, template_update
from tests.emails.factories import sending_connection

pytestmark = pytest.mark.django_db

SEND = {"from": "Acme <hello@example.com>", "to": "Ada <ada@example.net>", "template": "order-shipped"}


@pytest.fixture
def template(account):
    sending_connection(account)
    return template_create(
        account=account,
        channel="email",
        name="order-shipped",
        content={
            "subject": "Order {{ order_id }} has shipped",
            "html": '<p>Hi {{ first_name | default: "there" }} &amp; welcome,</p><p>{{ note }}</p>',
        },
        variables=[{"name": "order_id", "type": "number"}, {"name": "note", "type": "string", "default": "Enjoy"}],
    )


def test_send_with_template_renders_for_the_contact_and_records_the_version(client_for, account, template):
    Contact.objects.create(account=account, email="ada@example.net", full_name="Ada Lovelace")
    response = client_for.post("/v1/emails", {**SEND, "variables": {"order_id": 1234}}, format="json")
    assert response.status_code == 200, response.json()
    email = Email.objects.get(pk=response.json()["id"])
    assert email.subject == "Order 1234 has shipped"
    assert email.html_body == "<p>Hi Ada &amp; welcome,</p><p>Enjoy</p>"
    assert email.text_body == "Hi Ada & welcome,\n\nEnjoy"
    assert email.template_version == template.current_version
    detail = client_for.get(f"/v1/emails/{email.pk}").json()
    assert detail["template_version"] == str(template.current_version.pk)


def test_a_send_keeps_the_version_it_used_after_the_template_changes(client_for, account, template):
    first = client_for.post("/v1/emails", {**SEND, "variables": {"order_id": 1}}, format="json").json()
    template_update(template=template, content={"subject": "Shipped!"})
    second = client_for.post(
        "/v1/emails", {**SEND, "template": str(template.pk), "variables": {"order_id": 2}}, format="json"
    ).json()
    old, new = (Email.objects.select_related("template_version").get(pk=r["id"]) for r in (first, second))
    assert old.template_version is not None and new.template_version is not None
    assert (old.template_version.number, old.subject) == (1, "Order 1 has shipped")
    assert (new.template_version.number, new.subject) == (2, "Shipped!")


def test_missing_variables_are_a_422_listing_them(client_for, template):
    response = client_for.post("/v1/emails", SEND, format="json")
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "variables"]
    assert error["type"] == "value_error.missing_variables"
    assert "order_id" in error["msg"]
    assert Email.objects.count() == 0


def test_template_problems_are_422s_at_their_field(client_for, template):
    cases = [
        ({**SEND, "template": "nope", "variables": {"order_id": 1}}, ["body", "template"]),
        ({**SEND, "variables": {"order_id": "one"}}, ["body", "variables", "order_id"]),
        ({**SEND, "subject": "Mine", "variables": {"order_id": 1}}, ["body", "subject"]),
        ({"from": SEND["from"], "to": SEND["to"], "variables": {"order_id": 1}}, ["body", "template"]),
    ]
    for body, loc in cases:
        response = client_for.post("/v1/emails", body, format="json")
        assert response.status_code == 422, body
        assert [e["loc"] for e in response.json()["detail"]] == [loc], response.json()
    assert Email.objects.count() == 0


def test_another_accounts_template_cannot_be_used(api, other_account, template):
    sending_connection(other_account)
    response = api(other_account).post(
        "/v1/emails", {**SEND, "template": str(template.pk), "variables": {"order_id": 1}}, format="json"
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "template"]
    assert "no email template" in response.json()["detail"][0]["msg"]


def test_batch_renders_each_item_and_reports_each_problem(client_for, account, template):
    plain = {"from": SEND["from"], "to": "b@example.net", "subject": "Plain", "text_body": "Hi"}
    response = client_for.post(
        "/v1/emails/batch",
        {"emails": [{**SEND, "variables": {"order_id": 1}}, {**SEND, "to": "c@example.net"}, plain]},
        format="json",
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["queued", "rejected", "queued"]
    assert results[1]["errors"][0]["loc"] == ["body", "emails", 1, "variables"]
    templated = Email.objects.get(pk=results[0]["id"])
    assert (templated.subject, templated.template_version_id) == ("Order 1 has shipped", template.current_version_id)
    assert Email.objects.get(pk=results[2]["id"]).template_version_id is None


def test_resend_keeps_the_template_version(client_for, template):
    first = client_for.post("/v1/emails", {**SEND, "variables": {"order_id": 1}}, format="json").json()
    copy = client_for.post(f"/v1/emails/{first['id']}/resend").json()
    assert Email.objects.get(pk=copy["id"]).template_version_id == template.current_version_id
