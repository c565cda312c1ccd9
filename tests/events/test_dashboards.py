import uuid

import pytest
from django.urls import reverse

from emails.models import Identity
from events.models import ConnectionProvisioning, ConnectionReputation
from events.services import health
from tests.events.conftest import sent_email
from tests.events.test_rollups import ses_event

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


@pytest.fixture
def traffic(connection, receive):
    """A tagged, a custom-field and a plain email, sent and delivered; one of them bounced."""
    emails = [
        sent_email(connection, ses_message_id=f"ses-{uuid.uuid4()}", tags=["receipt"]),
        sent_email(connection, ses_message_id=f"ses-{uuid.uuid4()}", custom_fields={"plan": "pro"}),
        sent_email(connection, ses_message_id=f"ses-{uuid.uuid4()}"),
    ]
    for email in emails:
        receive(connection, ses_event("send", email))
        receive(connection, ses_event("delivery", email))
    receive(connection, ses_event("bounce", emails[0]))
    return emails


def card(html: str, name: str) -> str:
    """The number on the dashboard card labelled `name`."""
    before = html.split(f'<div class="name">{name}</div>')[0]
    return before.rsplit('<div class="value">', 1)[1].split("</div>")[0]


def test_overview_shows_counts_rates_charts_queue_and_reputation(admin_client, traffic, connection):
    ConnectionReputation.objects.create(
        connection=connection, account=connection.account, state="throttled", bounce_rate=0.045, sends=400
    )
    sent_email(connection, ses_message_id=None, status="queued")
    html = admin_client.get(reverse("admin:dashboard")).content.decode()
    assert card(html, "sent today") == "3"
    assert card(html, "delivered in range") == "3"
    assert card(html, "bounced in range") == "1"
    assert card(html, "Bounce rate in range") == "33.33%"
    assert html.count('<svg class="sesame-chart"') == 3  # per day, rates per day, last 48 hours
    assert 'data-series="delivered"' in html
    assert 'id="queue"' in html and connection.identifier in html
    assert "Throttled" in html


def test_filters_by_tag_custom_field_and_both(admin_client, traffic):
    url = reverse("admin:dashboard")
    assert card(admin_client.get(url, {"tag": "receipt"}).content.decode(), "delivered in range") == "1"
    by_field = admin_client.get(url, {"field_key": "plan", "field_value": "pro"}).content.decode()
    assert card(by_field, "delivered in range") == "1"
    both = admin_client.get(url, {"tag": "receipt", "field_key": "plan", "field_value": "pro"}).content.decode()
    assert card(both, "delivered in range") == "0"
    assert "counted from the event table" in both


def test_bad_filters_are_explained_and_the_page_still_renders(admin_client, traffic):
    html = admin_client.get(reverse("admin:dashboard"), {"start": "2026-05-02", "end": "2026-05-01"}).content.decode()
    assert "The start date is after the end date." in html
    assert card(html, "delivered in range") == "3"  # the default range instead


def test_account_and_connection_pages_are_scoped(admin_client, traffic, connection, other_account, receive):
    from tests.events.conftest import provisioned

    theirs = provisioned(other_account)
    receive(theirs, ses_event("delivery", sent_email(theirs, ses_message_id=f"ses-{uuid.uuid4()}")))
    overview = admin_client.get(reverse("admin:dashboard")).content.decode()
    assert card(overview, "delivered in range") == "4"
    mine = admin_client.get(reverse("admin:dashboard_account", args=[connection.account_id])).content.decode()
    assert card(mine, "delivered in range") == "3"
    page = admin_client.get(reverse("admin:dashboard_connection", args=[theirs.pk])).content.decode()
    assert card(page, "delivered in range") == "1"
    assert reverse("admin:accounts_awsconnection_health", args=[theirs.pk]) in page


def test_admin_index_summarises_today(admin_client, traffic):
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert 'id="console-summary"' in html and "delivered <b>3</b>" in html
    assert reverse("admin:dashboard") in html


@pytest.fixture
def dns(monkeypatch):
    """DNS as the world would answer: DKIM published, SPF present, DMARC missing, one name failing to resolve."""
    import dns.resolver

    published = {
        ("tok1._domainkey.example.com", "CNAME"): ["tok1.dkim.amazonses.com"],
        ("example.com", "TXT"): ["v=spf1 include:amazonses.com ~all"],
    }

    def lookup(name, record_type):
        if name == "tok2._domainkey.example.com":
            raise dns.resolver.LifetimeTimeout()
        if (name, record_type) in published:
            return published[(name, record_type)]
        raise dns.resolver.NXDOMAIN()

    monkeypatch.setattr(health, "dns_lookup", lookup)


def test_connection_health_in_the_api_and_the_admin(admin_client, client_for, connection, dns):
    Identity.objects.create(
        account=connection.account,
        connection=connection,
        name="example.com",
        kind="domain",
        status="verified",
        dkim_tokens=["tok1", "tok2"],
    )
    ConnectionProvisioning.objects.create(
        connection=connection,
        account=connection.account,
        ran_at="2026-11-22T10:00:00Z",
        steps=[
            {
                "name": "SNS topic",
                "status": "failed",
                "detail": "AuthorizationError: User is not authorized to perform: SNS:CreateTopic on resource",
                "permission": "SNS:CreateTopic",
            }
        ],
    )
    response = client_for.get(f"/v1/aws-connections/{connection.pk}/health")
    assert response.status_code == 200
    body = response.json()
    assert {check["name"]: check["status"] for check in body["checks"]}["SES account"] == "ok"
    records = {(r["purpose"], r["name"]): r["published"] for r in body["identities"][0]["records"]}
    assert records == {
        ("DKIM", "tok1._domainkey.example.com"): True,
        ("DKIM", "tok2._domainkey.example.com"): None,
        ("SPF", "example.com"): True,
        ("DMARC", "_dmarc.example.com"): False,
    }
    assert body["permissions_failed"] == ["SNS:CreateTopic"]

    page = admin_client.get(reverse("admin:accounts_awsconnection_health", args=[connection.pk])).content.decode()
    assert "v=DMARC1; p=none;" in page and "SNS:CreateTopic" in page and "unknown: Could not resolve" in page


def test_another_accounts_connection_health_is_404(api, connection, other_account):
    stranger = api(other_account)
    assert stranger.get(f"/v1/aws-connections/{connection.pk}/health").status_code == 404
