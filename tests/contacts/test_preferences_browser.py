"""The recipient's pages in headless Chromium with JavaScript switched off: the confirmation button unsubscribes,
the preference centre shows the account's name and colours and saves topic choices and "unsubscribe from all"."""

from typing import Any

import pytest

from contacts.models import Contact, TopicOptOut
from contacts.subscriptions import preference_settings_update, topic_create
from contacts.unsubscribe import unsubscribe_token
from tests.contacts.factories import contact_for
from tests.events.test_console_browser import browser, click_through, visit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["browser"]  # the Chromium fixture


@pytest.fixture
def no_js_browser(browser):
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    return browser


def test_a_person_unsubscribes_and_chooses_topics_without_javascript(live_server, no_js_browser, account):
    from selenium.webdriver.common.by import By

    preference_settings_update(account_id=account.pk, display_name="Acme Shoes", brand_color="#aa3300")
    news = topic_create(account=account, key="newsletter", name="Newsletter")
    offers = topic_create(account=account, key="offers", name="Special offers", description="A few times a year")
    ann = contact_for(account, email="ann@example.net")
    token = unsubscribe_token(account_id=account.pk, contact_id=ann.pk, topic_id=news.pk)
    driver = no_js_browser

    visit(driver, f"{live_server.url}/u/{token}", "unsubscribe-confirm")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Unsubscribe?"
    assert "Stop sending Newsletter emails to ann@example.net?" in driver.find_element(By.TAG_NAME, "main").text
    assert not TopicOptOut.objects.exists()  # showing the page changed nothing
    click_through(driver, driver.find_element(By.ID, "unsubscribe"), until="You are unsubscribed")
    assert driver.find_element(By.TAG_NAME, "h1").text == "You are unsubscribed"
    assert TopicOptOut.objects.filter(contact=ann, topic=news, source="confirmation").exists()

    click_through(driver, driver.find_element(By.LINK_TEXT, "Manage your email preferences"), until="Special offers")
    driver.save_screenshot(str(_shot("preferences")))
    assert driver.find_element(By.CLASS_NAME, "brand").text == "Acme Shoes"
    assert driver.find_element(By.TAG_NAME, "h1").value_of_css_property("color") == "rgba(170, 51, 0, 1)"
    news_box, offers_box = driver.find_element(By.ID, "topic-newsletter"), driver.find_element(By.ID, "topic-offers")
    assert (news_box.is_selected(), offers_box.is_selected()) == (False, True)
    news_box.click()  # back in
    offers_box.click()  # and out of offers
    click_through(driver, driver.find_element(By.ID, "save"), until="Your preferences are saved.")
    assert "Your preferences are saved." in driver.find_element(By.CSS_SELECTOR, "[role=status]").text
    assert list(TopicOptOut.objects.filter(contact=ann).values_list("topic_id", flat=True)) == [offers.pk]
    assert driver.find_element(By.ID, "topic-newsletter").is_selected()

    click_through(driver, driver.find_element(By.ID, "unsubscribe-all"), until="You will get no more emails from us.")
    assert Contact.objects.get(pk=ann.pk).status == Contact.Status.UNSUBSCRIBED
    assert driver.find_element(By.ID, "everything")  # the way back in is offered
    driver.save_screenshot(str(_shot("preferences-unsubscribed")))


def _shot(name: str) -> Any:
    from tests.events.test_console_browser import ARTIFACTS

    return ARTIFACTS / f"{name}.png"
