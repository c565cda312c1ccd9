import pytest

from emails.models import Email, EmailEvent, Identity, SimulatedMessage
from emails.services import email_accept, suppression_add
from tests.emails.factories import email_body, sending_connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def email(account) -> Email:
    sending_connection(account)
    return email_accept(
        account=account, data=email_body(html_body="<script>alert(1)</script><p>Hi</p>", tags=["vip"], priority=3)
    )


@pytest.mark.parametrize(
    "query",
    ["", "?status__exact=queued", "?band=high", "?tag=vip", "?q=jon%40example.net", "?q=Your+receipt"],
)
def test_email_changelist_filters_and_search(admin_client, email, query):
    response = admin_client.get(f"/admin/emails/email/{query}")
    assert response.status_code == 200
    assert "Your receipt" in response.content.decode()


def test_email_changelist_filters_by_account_name(admin_client, email, other_account):
    from urllib.parse import quote

    assert (
        "Your receipt"
        in admin_client.get(f"/admin/emails/email/?account_name={quote(email.account.name)}").content.decode()
    )
    assert (
        "Your receipt"
        not in admin_client.get(f"/admin/emails/email/?account_name={quote(other_account.name)}").content.decode()
    )


def test_email_changelist_finds_an_email_by_its_id(admin_client, email):
    response = admin_client.get(f"/admin/emails/email/?q={email.pk}")
    assert "Your receipt" in response.content.decode()


def test_email_page_shows_html_sandboxed_and_the_timeline(admin_client, email):
    EmailEvent.objects.create(
        account=email.account,
        email=email,
        source="ses",
        event_type="delivery",
        recipient="jon@example.net",
        detail="250 OK",
        occurred_at=email.created_at,
    )
    page = admin_client.get(f"/admin/emails/email/{email.pk}/change/").content.decode()
    assert '<iframe sandbox=""' in page
    assert "<script>alert(1)</script>" not in page  # only ever inside the escaped srcdoc attribute
    assert "&lt;script&gt;" in page
    assert "Timeline" in page and "250 OK" in page


def test_cancel_and_resend_actions(admin_client, email, account):
    admin_client.post("/admin/emails/email/", {"action": "cancel", "_selected_action": [email.pk]})
    email.refresh_from_db()
    assert email.status == Email.Status.CANCELLED
    response = admin_client.post(
        "/admin/emails/email/", {"action": "resend", "_selected_action": [email.pk]}, follow=True
    )
    assert "Resent 1 email(s)." in response.content.decode()
    assert Email.objects.filter(resent_from=email).count() == 1


@pytest.mark.parametrize("model", ["suppression", "blockeddomain", "identity", "simulatedmessage"])
def test_policy_pages_load(admin_client, email, account, model):
    suppression_add(account=account, address="x@example.net", reason="manual")
    SimulatedMessage.objects.create(
        message_id="m-1",
        email=email,
        connection=email.connection,
        destinations=["jon@example.net"],
        raw=b"Subject: hi\r\n\r\nbody",
    )
    response = admin_client.get(f"/admin/emails/{model}/")
    assert response.status_code == 200


def test_identity_page_lists_dkim_records(admin_client, account):
    connection = sending_connection(account)
    identity = Identity.objects.create(
        account=account,
        connection=connection,
        name="acme.test",
        kind=Identity.Kind.DOMAIN,
        dkim_tokens=["tok1", "tok2"],
    )
    page = admin_client.get(f"/admin/emails/identity/{identity.pk}/change/").content.decode()
    assert "tok1._domainkey.acme.test" in page and "tok2.dkim.amazonses.com" in page


def test_simulated_message_shows_the_raw_mime(admin_client, email):
    message = SimulatedMessage.objects.create(
        message_id="m-2",
        email=email,
        connection=email.connection,
        destinations=["jon@example.net"],
        raw=b"Subject: hello there\r\n\r\nb",
    )
    page = admin_client.get(f"/admin/emails/simulatedmessage/{message.pk}/change/").content.decode()
    assert "Subject: hello there" in page
