"""The template preview page in headless Chromium: an operator renders a template for a contact with sample
variables and sees the result, the customer's HTML inert in a sandboxed frame."""

import pytest
from django.contrib.auth import get_user_model

from contacts.models import Contact
from emails.templating import template_create
from tests.events.test_console_browser import browser, visit  # noqa: F401  (the fixture and the page helper)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_previews_a_template(live_server, browser, account):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    Contact.objects.create(account=account, email="ada@example.net", full_name="Ada Lovelace")
    template = template_create(
        account=account,
        channel="email",
        name="order-shipped",
        content={
            "subject": "Order {{ order_id }} has shipped",
            "html": "<p>Hi {{ first_name }}, order {{ order_id }}.</p><script>parent.document.title='pwned'</script>",
        },
    )
    get_user_model().objects.create_superuser("operator", "ops@example.com", "a-long-test-password")
    visit(browser, f"{live_server.url}/admin/login/", "template-login")
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys("a-long-test-password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 15).until(expected_conditions.url_matches(r"/admin/$"))

    visit(browser, f"{live_server.url}/admin/emails/template/", "templates")
    browser.find_element(By.LINK_TEXT, "Preview").click()
    browser.find_element(By.ID, "id_contact").send_keys("ada@example.net")
    browser.find_element(By.CSS_SELECTOR, "#template-preview input[type=submit]").click()
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located((By.ID, "missing")))
    assert browser.find_element(By.ID, "missing").text == "Missing variables: order_id"

    browser.find_element(By.ID, "id_variables").send_keys('{"order_id": 1234}')
    browser.find_element(By.CSS_SELECTOR, "#template-preview input[type=submit]").click()
    WebDriverWait(browser, 15).until(expected_conditions.text_to_be_present_in_element((By.ID, "missing"), "none"))
    visit(browser, browser.current_url, "template-preview")
    assert browser.find_element(By.CSS_SELECTOR, "pre.rendered-subject").text == "Order 1234 has shipped"
    assert str(template.pk) in browser.current_url
    title = browser.title
    browser.switch_to.frame(browser.find_element(By.ID, "rendered-html"))
    assert browser.find_element(By.TAG_NAME, "p").text == "Hi Ada, order 1234."
    browser.switch_to.default_content()
    assert browser.title == title != "pwned"  # the customer's script never ran
