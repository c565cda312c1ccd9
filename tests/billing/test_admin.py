"""The operator's billing pages: subscriptions with usage bars and the near-cap filter, invoices with their lines
and the paid / void actions, the revenue view, and a plan change from the account page."""

import re
from datetime import UTC, date, datetime

import pytest

from billing.models import Invoice, PlanChange, UsageEntry
from billing.services import period_close
from tests.accounts.factories import AccountFactory, default_plan
from tests.billing.factories import subscribed, use

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


@pytest.fixture
def invoice():
    subscription = subscribed(plan_slug="paid", started_on=date(2026, 4, 1), name="Invoiced Co")
    use(subscription.account, 150_000)
    closed = period_close(period_id=subscription.periods.get().pk, now=datetime(2026, 5, 1, 1, tzinfo=UTC))
    assert closed is not None
    return closed


@pytest.mark.parametrize(
    "url",
    [
        "/admin/billing/plan/",
        "/admin/billing/subscription/",
        "/admin/billing/invoice/",
        "/admin/billing/usageentry/",
        "/admin/billing/usagealert/",
        "/admin/billing/subscription/revenue/",
    ],
)
def test_billing_pages_load(admin_client, invoice, url):
    assert admin_client.get(url).status_code == 200


def test_subscriptions_show_usage_bars_and_filter_accounts_near_their_cap(admin_client):
    near = AccountFactory.create(name="Nearly Full", plan_slug="free")
    AccountFactory.create(name="Barely Used", plan_slug="free")
    use(near, 2_700)
    page = admin_client.get("/admin/billing/subscription/").content.decode()
    assert "2,700 / 3,000 (90%)" in page and "0 / 3,000 (0%)" in page
    filtered = admin_client.get("/admin/billing/subscription/?usage=near").content.decode()
    assert "Nearly Full" in filtered and "Barely Used" not in filtered
    assert "Nearly Full" not in admin_client.get("/admin/billing/subscription/?usage=at_limit").content.decode()
    use(near, 3_000)
    assert "Nearly Full" in admin_client.get("/admin/billing/subscription/?usage=at_limit").content.decode()


def test_an_invoice_page_shows_its_lines(admin_client, invoice):
    page = admin_client.get(f"/admin/billing/invoice/{invoice.pk}/change/").content.decode()
    assert invoice.number in page
    assert "Base: Growth 128K plan, Apr 1 to Apr 30, 2026 (30 of 30 days)" in page
    assert "Overage: 22,000 emails beyond the 128,000 included, at $0.6 per 1,000" in page
    assert "13.20" in page and "62.20" in page


def test_mark_paid_then_void_is_refused_with_a_message(admin_client, invoice):
    url = "/admin/billing/invoice/"
    paid = admin_client.post(url, {"action": "mark_paid", "_selected_action": [invoice.pk]}, follow=True)
    assert "1 invoice(s) marked paid." in paid.content.decode()
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"
    refused = admin_client.post(url, {"action": "void", "_selected_action": [invoice.pk]}, follow=True)
    assert "only draft or open invoices can be voided" in refused.content.decode()
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"


def test_void_an_open_invoice(admin_client, invoice):
    admin_client.post("/admin/billing/invoice/", {"action": "void", "_selected_action": [invoice.pk]})
    assert Invoice.objects.get(pk=invoice.pk).status == "void"


def test_revenue_view_shows_mrr_by_plan_and_overage_this_period(admin_client):
    AccountFactory.create(plan_slug="paid")
    over = AccountFactory.create(plan_slug="paid")
    AccountFactory.create(plan_slug="scale")
    use(over, 150_000)
    page = admin_client.get("/admin/billing/subscription/revenue/").content.decode()
    row = re.search(r'<tr class="plan-paid">(.*?)</tr>', page, re.S)
    assert row is not None and re.findall(r"<td>(.*?)</td>", row[1]) == ["Growth 128K", "49.00", "2", "98.00"]
    assert '<td id="mrr-total"><b>247.00</b></td>' in page
    assert "22000 emails beyond the included ones" in page and "<b>13.20</b> USD" in page


def test_the_usage_ledger_is_read_only(admin_client):
    account = AccountFactory.create(plan_slug="free")
    page = admin_client.get("/admin/billing/usageentry/").content.decode()
    assert "Add usage entry" not in page
    assert not UsageEntry.objects.filter(account=account).exists()


def test_changing_the_plan_on_the_account_page_prorates_it_in_billing(admin_client):
    account = AccountFactory.create(name="Upgrader", plan_slug="free", owner_email="o@upgrader.test")
    form = admin_client.get(f"/admin/accounts/account/{account.pk}/change/")
    assert form.status_code == 200
    data = {
        "name": account.name,
        "status": "active",
        "owner_email": account.owner_email,
        "plan": default_plan("paid").pk,
    }
    for prefix in ("memberships", "api_tokens", "aws_connections"):
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    response = admin_client.post(f"/admin/accounts/account/{account.pk}/change/", data, follow=True)
    assert "moved to Growth 128K" in response.content.decode()
    change = PlanChange.objects.get(period__account=account)
    assert (change.from_plan.slug, change.to_plan.slug) == ("free", "paid")
    account.subscription.refresh_from_db()
    assert account.subscription.plan.slug == "paid"
