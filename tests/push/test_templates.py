"""POST /v1/push with `template` + `variables`: title, body and data rendered for the push's contact."""

import pytest

from contacts.models import Contact
from emails.templating import template_create
from push.models import PushMessage
from tests.push.factories import FCM_TOKEN, create_app, fcm_app_body, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def template(account):
    return template_create(
        account=account,
        channel="push",
        name="shipped",
        content={
            "title": "Order {{ order_id }}",
            "body": "On its way, {{ first_name | default: 'friend' }}!",
            "data": {"order": "{{ order_id }}", "screen": "orders"},
        },
        variables=[{"name": "order_id", "type": "number"}],
    )


def test_push_with_template_to_a_contact(api, account, connection, sns, template):
    app = create_app(api, account, fcm_app_body())
    Contact.objects.create(account=account, email="ada@example.net", full_name="Ada Lovelace")
    assert register(api, account, app["id"], FCM_TOKEN, contact="ada@example.net").status_code in (200, 201)
    response = api(account).post(
        "/v1/push",
        {"to": {"contact": "ada@example.net"}, "template": "shipped", "variables": {"order_id": 1234}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["device_count"] == 1
    message = PushMessage.objects.get(pk=response.json()["id"])
    assert (message.title, message.body, message.data) == (
        "Order 1234",
        "On its way, Ada!",
        {"order": "1234", "screen": "orders"},
    )
    assert message.template_version_id == template.current_version_id
    assert api(account).get(f"/v1/push/{message.pk}").json()["template_version"] == str(template.current_version_id)


def test_push_template_problems_are_422s(api, account, connection, sns, template):
    app = create_app(api, account, fcm_app_body())
    device = register(api, account, app["id"], FCM_TOKEN).json()
    client = api(account)
    missing = client.post("/v1/push", {"to": {"device": device["id"]}, "template": "shipped"}, format="json")
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "variables"]
    both = client.post(
        "/v1/push",
        {"to": {"device": device["id"]}, "template": "shipped", "body": "x", "variables": {"order_id": 1}},
        format="json",
    )
    assert [e["loc"] for e in both.json()["detail"]] == [["body", "body"]]
    neither = client.post("/v1/push", {"to": {"device": device["id"]}}, format="json")
    assert neither.json()["detail"][0]["loc"] == ["body", "body"]
    assert PushMessage.objects.count() == 0
