"""POST /v1/push with `template` + `variables`: title, body and data rendered for the push's contact."""

import json

import pytest

from contacts.models import Contact
from emails.templating import template_create
from push.models import PushDelivery, PushMessage
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


@pytest.mark.django_db(transaction=True)
def test_a_templated_segment_push_is_rendered_for_each_contact_with_its_own_variables(
    api, account, connection, sns, publishes
):
    from config.delivery.engine import Engine
    from contacts.models import Segment
    from push.services import push_fanout_step

    template_create(
        account=account,
        channel="push",
        name="renewal",
        content={
            "title": "{{ first_name | default: 'Hello' }}",
            "body": "{% if nickname %}{{ nickname }}: your {{ plan }} plan renews on {{ date }}.{% endif %}",
            "data": {"screen": "{{ screen }}"},
        },
    )
    app = create_app(api, account, fcm_app_body())
    people = [("ada", "Ada Lovelace", {"nickname": "Countess", "plan": "pro"}), ("bob", "Bob Stone", {"plan": "free"})]
    for name, full_name, attributes in people:
        Contact.objects.create(account=account, email=f"{name}@example.net", full_name=full_name, attributes=attributes)
        register(api, account, app["id"], f"{FCM_TOKEN}-{name}", contact=f"{name}@example.net")
    Contact.objects.create(account=account, email="cy@example.net", attributes={"nickname": "Cy", "plan": "team"})
    register(api, account, app["id"], f"{FCM_TOKEN}-cy-phone", contact="cy@example.net")
    register(api, account, app["id"], f"{FCM_TOKEN}-cy-tablet", contact="cy@example.net")
    segment = Segment.objects.create(account=account, name="All", filters={})
    # Contact variables are unknown at accept: a segment push is not refused for them (a contact push would be).
    accepted = api(account).post(
        "/v1/push",
        {"to": {"segment": segment.pk}, "template": "renewal", "variables": {"date": "May 1", "screen": "billing"}},
        format="json",
    )
    assert accepted.status_code == 200, accepted.json()
    while push_fanout_step(message_id=accepted.json()["id"]):
        pass
    assert Engine().drain(timeout=10)
    fcm = [json.loads(json.loads(call["Message"])["GCM"])["fcmV1Message"]["message"] for call in publishes]
    shown = sorted((m["notification"]["title"], m["notification"]["body"], m["data"]["screen"]) for m in fcm)
    assert shown == [
        ("Ada", "Countess: your pro plan renews on May 1.", "billing"),
        ("Hello", "Cy: your team plan renews on May 1.", "billing"),
        ("Hello", "Cy: your team plan renews on May 1.", "billing"),
    ]
    detail = api(account).get(f"/v1/push/{accepted.json()['id']}").json()
    assert detail["outcomes"] == {"sent": 3, "failed": 1}
    [failed] = PushDelivery.objects.filter(status="failed")
    assert failed.contact_id == Contact.objects.get(email="bob@example.net").pk
    assert failed.failure_reason == "not sent: the template renders an empty body for this contact"
    deliveries = api(account).get(f"/v1/push/{accepted.json()['id']}/deliveries").json()["results"]
    ada = Contact.objects.get(email="ada@example.net").pk
    assert [d["content"] for d in deliveries if d["contact_id"] == ada] == [
        {"title": "Ada", "body": "Countess: your pro plan renews on May 1.", "data": {"screen": "billing"}}
    ]
