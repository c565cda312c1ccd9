"""The operator console in a real browser: headless Chromium (Debian's chromium and chromium-driver) via Selenium.

Screenshots of every page land in var/test-artifacts/browser/ (git-ignored), for a person to look at after CI.
"""

import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from contacts.services import contact_timeline_append_for_address
from tests.contacts.factories import contact_for
from tests.events.conftest import provisioned, sent_email
from tests.events.test_rollups import ses_event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ARTIFACTS = Path(settings.BASE_DIR) / "var" / "test-artifacts" / "browser"


@pytest.fixture
def browser():
    if not (CHROMIUM and DRIVER):
        pytest.fail("Install Debian's chromium and chromium-driver (manage.py runtests does).")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1800"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.implicitly_wait(5)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def visit(driver, url: str, shot: str) -> None:
    """Open a page, save its screenshot, and fail on any error the browser's console reported."""
    driver.get(url)
    driver.save_screenshot(str(ARTIFACTS / f"{shot}.png"))
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], errors


def click_through(driver, element, *, until: str) -> None:
    """Click, then wait for the next page: a click returns before the browser has loaded what the form posted, and
    reading the page at once can see the old one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    element.click()
    WebDriverWait(driver, 15).until(expected_conditions.staleness_of(element))
    WebDriverWait(driver, 15).until(expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "body"), until))


@pytest.fixture
def console_data(account, receive):
    connection = provisioned(account)
    contact = contact_for(account, email="recipient@example.com")
    emails = [
        sent_email(connection, ses_message_id=f"ses-{uuid.uuid4()}", tags=["receipt"], custom_fields={"plan": "pro"}),
        sent_email(connection, ses_message_id=f"ses-{uuid.uuid4()}", tags=["receipt"]),
        sent_email(connection, ses_message_id=f"ses-{uuid.uuid4()}"),
    ]
    for email in emails:
        receive(connection, ses_event("send", email))
        receive(connection, ses_event("delivery", email))
    receive(connection, ses_event("open", emails[0]))
    contact_timeline_append_for_address(
        account_id=account.pk,
        email="recipient@example.com",
        name="purchase",
        properties={"total": 12},
        occurred_at=timezone.now(),
    )
    return {"email": emails[0], "contact": contact}


def test_an_operator_sees_the_console_and_the_docs(live_server, browser, console_data):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    get_user_model().objects.create_superuser("operator", "ops@example.com", "a-long-test-password")
    visit(browser, f"{live_server.url}/", "landing")
    assert {a.text for a in browser.find_elements(By.TAG_NAME, "a")} >= {"Operator console", "API documentation"}

    visit(browser, f"{live_server.url}/admin/login/", "login")
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys("a-long-test-password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 15).until(expected_conditions.url_matches(r"/admin/$"))  # the login's redirect landed
    assert "console-summary" in browser.page_source

    visit(
        browser,
        f"{live_server.url}/admin/events/rollup/dashboard/?tag=receipt&field_key=plan&field_value=pro",
        "dashboard-filtered",
    )
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.sesame-chart")
    assert len(charts) == 3 and all(chart.is_displayed() for chart in charts)
    assert browser.find_elements(By.CSS_SELECTOR, 'svg.sesame-chart polyline[data-series="delivered"]')
    assert browser.find_element(By.ID, "id_tag").get_attribute("value") == "receipt"
    cards = {
        card.find_element(By.CLASS_NAME, "name").text: card.find_element(By.CLASS_NAME, "value").text
        for card in browser.find_elements(By.CSS_SELECTOR, ".totals .card")
    }
    assert cards["delivered in range"] == "1" and cards["opened in range"] == "1"

    visit(browser, f"{live_server.url}/admin/emails/email/{console_data['email'].pk}/change/", "email")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.email-timeline tbody tr")
    assert {"accepted", "sent", "send", "delivery", "open"} <= {
        row.find_elements(By.TAG_NAME, "td")[1].text for row in rows
    }
    assert not browser.find_elements(By.NAME, "_save")

    visit(browser, f"{live_server.url}/admin/contacts/contact/{console_data['contact'].pk}/change/", "contact")
    assert "purchase" in browser.page_source and "email.delivery" in browser.page_source

    visit(browser, f"{live_server.url}/v1/docs", "docs")
    WebDriverWait(browser, 20).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".opblock")))
    browser.save_screenshot(str(ARTIFACTS / "docs.png"))

    seen: set[str] = set()

    def read_down(_: Any) -> bool:
        # Swagger UI renders only the tags near the viewport: read the operations a screen at a time.
        found = browser.find_elements(By.CSS_SELECTOR, ".opblock .opblock-summary-path")
        seen.update(str(path.get_attribute("textContent")).replace("\u200b", "") for path in found)
        browser.execute_script("window.scrollBy(0, window.innerHeight / 2)")
        return "/v1/emails" in seen

    WebDriverWait(browser, 60, poll_frequency=0.3).until(read_down)
    assert len(seen) > 20
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []
