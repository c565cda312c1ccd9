"""The team inbox in the operator console, in headless Chromium: find a conversation, read the sanitised thread,
answer it, and see the reply in the thread."""

import pytest
from django.contrib.auth import get_user_model

from emails.models import InboxMessage
from tests.emails.inbox_support import conversation_for, mime
from tests.events.test_console_browser import browser as browser
from tests.events.test_console_browser import click_through, visit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_finds_reads_and_answers_a_conversation(live_server, request, account):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    driver = request.getfixturevalue("browser")
    html = '<p>Hello <b>team</b></p><script>document.title = "pwned"</script>'
    conversation = conversation_for(account, mime(subject="Broken blender", html=html), verdicts={"dkim": "FAIL"})
    conversation_for(account, mime(sender="bob@other.test", subject="Invoice question"))
    get_user_model().objects.create_superuser("operator", "ops@example.com", "a-long-test-password")

    visit(driver, f"{live_server.url}/admin/login/", "inbox-login")
    driver.find_element(By.NAME, "username").send_keys("operator")
    driver.find_element(By.NAME, "password").send_keys("a-long-test-password")
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(driver, 15).until(expected_conditions.url_matches(r"/admin/$"))  # the login's redirect landed

    visit(driver, f"{live_server.url}/admin/emails/conversation/?q=blender", "inbox-search")
    rows = driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1 and "Broken blender" in rows[0].text
    click_through(driver, rows[0].find_element(By.CSS_SELECTOR, "th a, td a"), until="DKIM check failed")

    driver.save_screenshot("var/test-artifacts/browser/inbox-thread.png")
    assert "DKIM check failed" in driver.page_source
    frame = driver.find_element(By.CSS_SELECTOR, ".message iframe")
    assert frame.get_attribute("sandbox") == ""
    driver.switch_to.frame(frame)
    assert driver.find_element(By.TAG_NAME, "p").text == "Hello team"
    assert not driver.find_elements(By.TAG_NAME, "script")
    driver.switch_to.default_content()
    assert driver.title != "pwned"

    driver.find_element(By.NAME, "text_body").send_keys("A new blender is on its way.")
    click_through(driver, driver.find_element(By.CSS_SELECTOR, "#reply-form input[type=submit]"), until="Reply queued")
    assert "Reply queued" in driver.find_element(By.CSS_SELECTOR, ".messagelist").text
    visit(driver, driver.current_url, "inbox-replied")
    outbound = driver.find_elements(By.CSS_SELECTOR, ".message-outbound")
    assert len(outbound) == 1 and "A new blender is on its way." in outbound[0].text
    reply = InboxMessage.objects.get(direction="outbound")
    assert reply.conversation_id == conversation.pk
    assert reply.email is not None and reply.email.headers["In-Reply-To"].startswith("<")
