"""One query-parameter rule for every list (config/api/query.py), and the email filters on every database."""

import pytest
from django.urls import reverse

from emails.services import email_accept
from events.models import WebhookEndpoint
from tests.contacts.factories import contact_for
from tests.emails.factories import email_body, sending_connection
from tests.test_tenancy import _v1_routes

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


def test_every_list_refuses_an_unknown_parameter_naming_the_valid_ones(client_for):
    checked = []
    for route, pattern in _v1_routes():
        if pattern.pattern.regex.groupindex:
            continue
        plain = client_for.get(reverse(pattern.name))
        if plain.status_code == 405 or "results" not in plain.json():
            continue  # not a list (e.g. /v1/account)
        response = client_for.get(reverse(pattern.name), {"stauts": "delivered"})
        checked.append(route)
        assert response.status_code == 422, (route, response.status_code)
        [error] = response.json()["detail"]
        assert error["loc"] == ["query", "stauts"], route
        assert "this list takes: " in error["msg"] and "cursor" in error["msg"] and "limit" in error["msg"], route
    assert "^emails$" in checked and "^contacts$" in checked and "^tokens$" in checked


def test_list_actions_of_an_object_follow_the_rule_too(client_for, account):
    contact = contact_for(account, email="ada@example.com")
    endpoint = WebhookEndpoint.objects.create(
        account=account, url="https://hooks.example.test/x", event_types=["*"], secret="s", secret_prefix="whsec_"
    )
    for url in (f"/v1/contacts/{contact.pk}/timeline", f"/v1/webhooks/{endpoint.pk}/deliveries"):
        response = client_for.get(url, {"sorce": "api"})
        assert response.status_code == 422, url
        assert response.json()["detail"][0]["loc"] == ["query", "sorce"]
    assert client_for.get(f"/v1/contacts/{contact.pk}/timeline", {"source": "api"}).status_code == 200


def test_email_filters_work_on_this_database(client_for, account):
    sending_connection(account)
    receipt = email_accept(account=account, data=email_body(tags=["receipt", "march"], custom_fields={"order": 1234}))
    email_accept(account=account, data=email_body(tags=["newsletter"], subject="News"))
    email_accept(account=account, data=email_body(tags=['receipt", "x'], subject="Tricky tag"))

    def ids(**params):
        response = client_for.get("/v1/emails", params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids(tag="receipt") == [str(receipt.pk)]
    assert ids(tag="receipt", custom_fields__order="1234") == [str(receipt.pk)]
    assert ids(custom_fields__order="99") == []
    assert ids(**{"from": "hello@example.com", "status": "queued", "tag": "march"}) == [str(receipt.pk)]
    assert len(ids()) == 3


def test_admin_tag_filter_works_on_this_database(admin_client, account):
    sending_connection(account)
    email_accept(account=account, data=email_body(tags=["receipt"]))
    email_accept(account=account, data=email_body(tags=["other"], subject="Not this one"))
    html = admin_client.get("/admin/emails/email/", {"tag": "receipt"}).content.decode()
    assert "Your receipt" in html and "Not this one" not in html
