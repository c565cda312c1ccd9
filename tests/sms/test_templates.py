"""POST /v1/sms and /v1/sms/batch with `template` + `variables`."""

import pytest

from contacts.models import Contact
from emails.templating import template_create
from sms.models import SmsMessage
from tests.sms.factories import DELIVERED, sms_connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def template(account):
    sms_connection(account)
    return template_create(
        account=account,
        channel="sms",
        name="shipped",
        content={"body": "Hi {{ first_name | default: 'there' }}, order {{ order_id }} shipped."},
        variables=[{"name": "order_id", "type": "number"}],
    )


def test_sms_with_template_is_rendered_for_the_contact_and_records_the_version(api, account, template):
    Contact.objects.create(account=account, mobile=DELIVERED, full_name="Ada Lovelace")
    response = api(account).post(
        "/v1/sms", {"to": DELIVERED, "template": "shipped", "variables": {"order_id": 7}}, format="json"
    )
    assert response.status_code == 200, response.json()
    message = SmsMessage.objects.get(pk=response.json()["id"])
    assert message.body == "Hi Ada, order 7 shipped."
    assert message.template_version_id == template.current_version_id
    assert response.json()["segments"] == 1
    detail = api(account).get(f"/v1/sms/{message.pk}").json()
    assert detail["template_version"] == str(template.current_version_id)


def test_sms_template_problems_are_422s(api, account, template):
    client = api(account)
    missing = client.post("/v1/sms", {"to": DELIVERED, "template": "shipped"}, format="json")
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "variables"]
    assert "order_id" in missing.json()["detail"][0]["msg"]
    both = client.post(
        "/v1/sms", {"to": DELIVERED, "body": "x", "template": "shipped", "variables": {"order_id": 1}}, format="json"
    )
    assert [e["loc"] for e in both.json()["detail"]] == [["body", "body"]]
    email_template = template_create(
        account=account, channel="email", name="mail", content={"subject": "s", "text": "t"}
    )
    wrong_channel = client.post("/v1/sms", {"to": DELIVERED, "template": str(email_template.pk)}, format="json")
    assert wrong_channel.json()["detail"][0]["loc"] == ["body", "template"]
    assert client.post("/v1/sms", {"to": DELIVERED}, format="json").json()["detail"][0]["loc"] == ["body", "body"]
    assert SmsMessage.objects.count() == 0


def test_sms_batch_with_templates(api, account, template):
    response = api(account).post(
        "/v1/sms/batch",
        {
            "sms": [
                {"to": DELIVERED, "template": "shipped", "variables": {"order_id": 1}},
                {"to": DELIVERED, "template": "shipped"},
                {"to": DELIVERED, "body": "plain"},
            ]
        },
        format="json",
    )
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["queued", "rejected", "queued"]
    assert results[1]["errors"][0]["loc"] == ["body", "sms", 1, "variables"]
    bodies = dict(SmsMessage.objects.values_list("body", "template_version_id"))
    assert bodies == {"Hi there, order 1 shipped.": template.current_version_id, "plain": None}
