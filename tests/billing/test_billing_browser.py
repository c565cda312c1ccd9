"""The billing pages in a real browser (headless Chromium via Selenium, as tests/events/test_console_browser.py):
an operator finds the account near its cap by its usage bar, reads the revenue view, opens an invoice with its
lines, prints it and marks it paid."""

from datetime import UTC, date, datetime

import pytest
from django.contrib.auth import get_user_model

from billing.models import Invoice
from billing.services import period_close
from tests.accounts.factories import AccountFactory
from tests.billing.factories import subscribed, use
from tests.events.test_console_browser import browser, visit  # noqa: F401  (the browser fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_works_the_billing_pages(live_server, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    near = AccountFactory.create(name="Nearly Full", plan_slug="free")
    AccountFactory.create(name="Barely Used", plan_slug="free")
    use(near, 2_700)
    subscription = subscribed(plan_slug="paid", started_on=date(2026, 4, 1), name="Invoiced Co")
    use(subscription.account, 150_000)
    invoice = period_close(period_id=subscription.periods.get().pk, now=datetime(2026, 5, 1, 1, tzinfo=UTC))
    assert invoice is not None
    get_user_model().objects.create_superuser("operator", "ops@example.com", "a-long-test-password")

    visit(browser, f"{live_server.url}/admin/login/", "billing-login")
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys("a-long-test-password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 15).until(expected_conditions.url_matches(r"/admin/$"))

    visit(browser, f"{live_server.url}/admin/billing/subscription/?usage=near", "billing-subscriptions-near")
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert [row.find_element(By.CSS_SELECTOR, "th").text for row in rows] == ["Nearly Full"]
    bar = rows[0].find_element(By.CSS_SELECTOR, ".usage-bar > div")
    assert bar.is_displayed() and bar.value_of_css_property("width") == "144px"  # 90% of 10rem

    browser.find_element(By.CSS_SELECTOR, '.object-tools a[href$="/revenue/"]').click()
    WebDriverWait(browser, 15).until(expected_conditions.url_contains("/revenue/"))
    visit(browser, browser.current_url, "billing-revenue")
    assert browser.find_element(By.ID, "mrr-total").text == "49.00"
    assert "worth 0.00 USD" in browser.find_element(By.ID, "overage").text
    assert "62.20" in browser.find_element(By.ID, "receivable").text

    visit(browser, f"{live_server.url}/admin/billing/invoice/{invoice.pk}/change/", "billing-invoice")
    assert "Overage: 22,000 emails beyond the 128,000 included" in browser.page_source
    browser.find_element(By.CSS_SELECTOR, 'a[href$="/print/"]').click()
    WebDriverWait(browser, 15).until(expected_conditions.url_contains("/print/"))
    visit(browser, browser.current_url, "billing-invoice-print")
    assert browser.find_element(By.ID, "invoice-total").text == "62.20"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#invoice-lines tbody tr")) == 2

    visit(browser, f"{live_server.url}/admin/billing/invoice/", "billing-invoices")
    browser.find_element(By.CSS_SELECTOR, f'input[name="_selected_action"][value="{invoice.pk}"]').click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("mark_paid")
    browser.find_element(By.CSS_SELECTOR, 'button[name="index"]').click()
    WebDriverWait(browser, 15).until(
        expected_conditions.text_to_be_present_in_element(
            (By.CSS_SELECTOR, ".messagelist"), "1 invoice(s) marked paid."
        )
    )
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"
