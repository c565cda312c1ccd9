"""The billing API, with two accounts: each sees only its own billing and invoices."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.models import Invoice
from billing.services import period_close
from tests.accounts.factories import AccountFactory
from tests.billing.factories import current_period, subscribed, use
from tests.emails.factories import email_body, sending_connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoiced():
    """Two accounts, each with one closed period and its invoice."""
    ours = subscribed(plan_slug="paid", started_on=date(2026, 4, 1), name="Ours")
    theirs = subscribed(plan_slug="paid", started_on=date(2026, 4, 1), name="Theirs")
    use(ours.account, 150_000)
    for subscription in (ours, theirs):
        period_close(period_id=subscription.periods.get().pk, now=datetime(2026, 5, 1, 1, tzinfo=UTC))
    return ours.account, theirs.account


@pytest.mark.sqlite
def test_billing_shows_plan_period_usage_overage_and_projected_invoice(api):
    account = AccountFactory.create(plan_slug="paid")
    use(account, 150_000)
    body = api(account).get("/v1/billing").json()
    assert body["plan"]["slug"] == "paid" and body["plan"]["overage_price_per_1000"] == "0.6000"
    assert (body["used"], body["included"], body["limit"]) == (150_000, 128_000, None)
    assert (body["overage_emails"], body["overage_amount"]) == (22_000, "13.20")
    assert body["projected_invoice"]["total"] == "62.20"
    assert [line["kind"] for line in body["projected_invoice"]["lines"]] == ["base", "overage"]
    period = current_period(account)
    assert body["period"]["starts_on"] == period.starts_on.isoformat()
    assert body["period"]["renews_on"] == period.ends_on.isoformat()


def test_invoices_are_listed_and_read_only_by_their_account(api, invoiced):
    ours, theirs = invoiced
    client = api(ours)
    listed = client.get("/v1/invoices").json()["results"]
    assert len(listed) == 1 and listed[0]["total"] == "62.20"
    assert [line["amount"] for line in listed[0]["lines"]] == ["49.00", "13.20"]
    own = Invoice.objects.get(account=ours)
    other = Invoice.objects.get(account=theirs)
    assert client.get(f"/v1/invoices/{own.pk}").json()["number"] == own.number
    assert client.get(f"/v1/invoices/{other.pk}").status_code == 404
    hidden = client.get(f"/v1/invoices/{other.pk}?format=html")
    assert (hidden.status_code, hidden.json()) == (404, {"detail": "Not found."})
    assert api(theirs).get("/v1/invoices").json()["results"][0]["total"] == "49.00"


def test_an_invoice_has_a_printable_html_page_behind_the_token(api, invoiced):
    ours, _ = invoiced
    invoice = Invoice.objects.get(account=ours)
    page = api(ours).get(f"/v1/invoices/{invoice.pk}?format=html")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    assert f"Invoice {invoice.number}" in html
    assert "Overage: 22,000 emails beyond the 128,000 included" in html
    assert '<td class="num" id="invoice-total">62.20</td>' in html
    assert api().get(f"/v1/invoices/{invoice.pk}?format=html").status_code == 403


def test_change_plan_previews_then_applies_and_the_new_rate_limit_applies_at_once(api):
    account = AccountFactory.create(plan_slug="free")
    client = api(account)
    assert client.get("/v1/billing")["x-ratelimit-limit"] == "60"
    preview = client.post("/v1/billing/change-plan", {"plan": "paid"}, format="json")
    assert preview.status_code == 200
    assert preview.json()["applied"] is False and preview.json()["credit"] == "0.00"
    assert client.get("/v1/billing").json()["plan"]["slug"] == "free"
    applied = client.post("/v1/billing/change-plan", {"plan": "paid", "confirm": True}, format="json").json()
    assert applied["applied"] is True and applied["to_plan"] == "paid"
    after = client.get("/v1/billing")
    assert after.json()["plan"]["slug"] == "paid"
    assert after["x-ratelimit-limit"] == "1800"  # the tenant cache saw the change
    account.refresh_from_db()
    assert account.plan.slug == "paid"


def test_change_plan_refuses_unknown_or_same_plans_with_422(api):
    client = api(AccountFactory.create(plan_slug="free"))
    unknown = client.post("/v1/billing/change-plan", {"plan": "gold"}, format="json")
    assert unknown.status_code == 422 and "Unknown plan 'gold'" in unknown.json()["detail"][0]["msg"]
    same = client.post("/v1/billing/change-plan", {"plan": "free", "confirm": True}, format="json")
    assert same.status_code == 422 and "already on the Free plan" in same.json()["detail"][0]["msg"]
    typo = client.post("/v1/billing/change-plan", {"plan": "paid", "confirmed": True}, format="json")
    assert typo.status_code == 422 and typo.json()["detail"][0]["loc"] == ["body", "confirmed"]


def test_an_overage_cap_stops_sending_at_its_amount(api):
    account = AccountFactory.create(plan_slug="paid")
    sending_connection(account)
    client = api(account)
    capped = client.post("/v1/billing/overage-cap", {"overage_cap": "0.60"}, format="json").json()
    assert (capped["overage_cap"], capped["limit"]) == ("0.60", 129_000)  # $0.60 buys 1,000 emails
    use(account, 128_999)
    assert client.post("/v1/emails", email_body(), format="json").status_code == 200
    refused = client.post("/v1/emails", email_body(), format="json")
    assert refused.status_code == 402 and "overage cap of $0.60" in refused.json()["detail"]
    assert client.post("/v1/billing/overage-cap", {"overage_cap": None}, format="json").json()["limit"] is None
    assert client.post("/v1/emails", email_body(), format="json").status_code == 200
    free = api(AccountFactory.create(plan_slug="free"))
    assert free.post("/v1/billing/overage-cap", {"overage_cap": "5"}, format="json").status_code == 422


def test_the_billing_endpoints_are_in_the_schema_with_examples(client):
    schema = client.get("/v1/schema", {"format": "json"}).json()
    for route, method in [
        ("/v1/billing", "get"),
        ("/v1/billing/change-plan", "post"),
        ("/v1/billing/cancel", "post"),
        ("/v1/invoices", "get"),
        ("/v1/invoices/{id}", "get"),
    ]:
        operation = schema["paths"][route][method]
        content = operation["responses"]["200"]["content"]["application/json"]
        assert content.get("examples") or content.get("example"), route
    assert Decimal(
        schema["paths"]["/v1/billing"]["get"]["responses"]["200"]["content"]["application/json"]["examples"]["Billing"][
            "value"
        ]["overage_amount"]
    ) == Decimal("13.20")


def test_the_402_of_sending_is_documented(client):
    schema = client.get("/v1/schema", {"format": "json"}).json()
    for route in ("/v1/emails", "/v1/emails/batch"):
        documented = schema["paths"][route]["post"]["responses"]["402"]["content"]["application/json"]
        assert "POST /v1/billing/change-plan" in documented["examples"]["QuotaSpent"]["value"]["detail"]
