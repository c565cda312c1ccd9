"""The sign-up popup in a real browser (headless Chromium through Selenium), embedded in a page served from another
origin than Sesame's: sign up, follow the confirmation link from the queued email, confirm; a disallowed origin and
a bot filling the honeypot create nothing. Screenshots land in var/test-artifacts/browser/."""

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from contacts.models import Contact, ContactEvent, Tag
from emails.forms.models import SignupRequest
from emails.models import Email
from tests.emails.factories import signup_form_for
from tests.events.test_console_browser import ARTIFACTS, browser  # noqa: F401 (the Chromium fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The host site's own CSS, as hostile as a theme can be: none of it may reach the form in its shadow root.
HOSTILE_CSS = "input, button, label, h2 { display: none !important; } * { font-size: 4px !important; color: red; }"


def host_page(script_url: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Acme</title>"
        f"<style>{HOSTILE_CSS}</style></head><body><h1>Acme's blog</h1>"
        "<a id='before' href='#'>Read more</a>"
        f"<p style='height:3000px'>Long article…</p><script src='{script_url}' async></script></body></html>"
    )


class Sites:
    """Second (third, ...) HTTP servers on 127.0.0.1: origins other than Sesame's (live_server's localhost). Every
    server serves every page, so one page can be opened from an allowed and from a disallowed origin."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        self.servers: list[ThreadingHTTPServer] = []
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.handler = Handler

    def origin(self) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    def page(self, html: str) -> str:
        path = f"/page-{len(self.pages)}.html"
        self.pages[path] = html.encode()
        return path


@pytest.fixture
def sites() -> Iterator[Sites]:
    made = Sites()
    yield made
    for server in made.servers:
        server.shutdown()


@pytest.fixture(autouse=True)
def _public_url(live_server, settings) -> None:
    """Sesame's public address (script endpoint, confirmation links) is the live server's."""
    settings.SESAME_PUBLIC_URL = live_server.url


def origin_of(url: str) -> str:
    return re.match(r"https?://[^/]+", url).group(0)  # type: ignore[union-attr]


def popup(driver):
    host = WebDriverWait(driver, 15).until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-sesame-form]"))
    return host, host.shadow_root


def inner_active_id(driver, host) -> str:
    return driver.execute_script("var a = arguments[0].shadowRoot.activeElement; return a ? a.id : null;", host)


def live_text(driver, host) -> str:
    return driver.execute_script("return arguments[0].shadowRoot.querySelector('.live').textContent;", host)


def wait_live(driver, host, fragment: str) -> str:
    WebDriverWait(driver, 20).until(lambda d: fragment in live_text(d, host))
    return live_text(driver, host)


def test_a_visitor_signs_up_from_another_site_and_confirms(live_server, browser, sites, account):  # noqa: F811
    origin = sites.origin()
    form = signup_form_for(
        account,
        allowed_origins=[origin],
        delay_seconds=0,
        proof_of_work_bits=8,
        custom_fields=[{"key": "company", "label": "Company", "required": False}],
    )
    page = origin + sites.page(host_page(f"{live_server.url}/f/{form.key}.js"))
    assert origin != origin_of(live_server.url)

    browser.get(page)
    host, shadow = popup(browser)
    browser.save_screenshot(str(ARTIFACTS / "signup-popup.png"))
    dialog = shadow.find_element(By.CSS_SELECTOR, "[role=dialog]")
    assert dialog.get_attribute("aria-modal") == "true"
    assert shadow.find_element(By.ID, "sesame-title").text == "Join our newsletter"
    # The page's CSS hides every input and button of its own; the form's are untouched.
    email = shadow.find_element(By.ID, "sesame-email")
    assert email.is_displayed() and shadow.find_element(By.CSS_SELECTOR, "button.submit").is_displayed()
    assert inner_active_id(browser, host) == "sesame-email"  # focus moved into the dialog
    assert shadow.find_element(By.CSS_SELECTOR, "label[for=sesame-email]").text.startswith("Email address")

    # Submitting without consent: the error is announced and the box is marked invalid.
    email.send_keys("Ada@Example.NET")
    shadow.find_element(By.ID, "sesame-name").send_keys("Ada Lovelace")
    shadow.find_element(By.ID, "sesame-field-company").send_keys("Analytical Engines")
    shadow.find_element(By.CSS_SELECTOR, "button.submit").click()
    assert "Tick the box" in wait_live(browser, host, "Tick the box")
    assert shadow.find_element(By.ID, "sesame-consent").get_attribute("aria-invalid") == "true"
    assert SignupRequest.objects.count() == 0

    shadow.find_element(By.ID, "sesame-consent").click()
    shadow.find_element(By.CSS_SELECTOR, "button.submit").click()
    assert "check your inbox" in wait_live(browser, host, "check your inbox")
    browser.save_screenshot(str(ARTIFACTS / "signup-popup-done.png"))

    # Double opt-in: a pending sign-up and a queued confirmation email, no contact yet.
    signup = SignupRequest.objects.get()
    assert (signup.email, signup.full_name, signup.answers) == (
        "ada@example.net",
        "Ada Lovelace",
        {"company": "Analytical Engines"},
    )
    assert signup.origin == origin and signup.confirmed_at is None
    assert not Contact.objects.filter(account=account).exists()
    email_row = Email.objects.get(pk=signup.confirmation_email_id or "")
    assert email_row.to_email == "ada@example.net" and email_row.from_address == "Acme <news@example.com>"
    text, html = str(email_row.text_body), str(email_row.html_body)
    assert "Ada Lovelace" not in text + html and "Analytical" not in text + html
    found = re.search(r"https?://\S+/f/confirm/\S+", text)
    assert found is not None, text
    link = found.group(0)

    # Opening the link (as a mail scanner would) confirms nothing; the button does.
    browser.get(link)
    browser.save_screenshot(str(ARTIFACTS / "signup-confirm.png"))
    assert "ada@example.net" in browser.find_element(By.TAG_NAME, "main").text
    assert not Contact.objects.filter(account=account).exists()
    browser.find_element(By.ID, "confirm").click()
    WebDriverWait(browser, 15).until(lambda d: d.find_element(By.ID, "result").text == "You're subscribed")

    contact = Contact.objects.get(account=account, email="ada@example.net")
    assert contact.full_name == "Ada Lovelace" and contact.attributes == {"company": "Analytical Engines"}
    assert set(Tag.objects.filter(pk__in=contact.tag_ids).values_list("name", flat=True)) == {"newsletter", "website"}
    event = ContactEvent.objects.get(contact=contact, name="signup_confirmed")
    assert event.properties["consent_text"] == "I agree to receive Acme's monthly newsletter."
    assert event.properties["confirmed_ip"] == "127.0.0.1"
    signup.refresh_from_db()
    assert signup.confirmed_at is not None and signup.confirmed_ip == "127.0.0.1" and signup.contact_id == contact.pk

    # Back on the site, the form remembers the sign-up and does not show again.
    browser.get(page)
    WebDriverWait(browser, 15).until(lambda d: d.execute_script(f"return !!(window.SesameForms || {{}})['{form.key}']"))
    browser.execute_async_script("window.setTimeout(arguments[0], 300)")  # past the zero-second trigger
    assert browser.execute_script("return document.querySelectorAll('[data-sesame-form]').length") == 0


def test_keyboard_traps_focus_escape_closes_and_focus_returns(live_server, browser, sites, account):  # noqa: F811
    origin = sites.origin()
    form = signup_form_for(account, allowed_origins=[origin], delay_seconds=1, consent_text="")
    browser.get(origin + sites.page(host_page(f"{live_server.url}/f/{form.key}.js")))
    browser.execute_script("document.getElementById('before').focus()")
    host, _ = popup(browser)
    assert inner_active_id(browser, host) == "sesame-email"
    # Tab order: email, name, subscribe, close, then back to email (never out to the page behind).
    seen = []
    for _ in range(4):
        browser.switch_to.active_element.send_keys(Keys.TAB)
        seen.append(inner_active_id(browser, host) or browser.switch_to.active_element.get_attribute("class"))
    assert seen[-1] == "sesame-email", seen
    browser.switch_to.active_element.send_keys(Keys.SHIFT, Keys.TAB)
    assert inner_active_id(browser, host) != "sesame-email"
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    WebDriverWait(browser, 5).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "[data-sesame-form]"))
    assert browser.switch_to.active_element.get_attribute("id") == "before"
    # Dismissed: the next page view does not show it again.
    assert "dismissed" in browser.execute_script(f"return localStorage.getItem('sesame-form:{form.key}')")


def test_a_disallowed_origin_and_a_bot_filling_the_honeypot_create_nothing(
    live_server,
    browser,  # noqa: F811
    sites,
    account,
):
    allowed, other = sites.origin(), sites.origin()
    form = signup_form_for(account, allowed_origins=[allowed], delay_seconds=0, consent_text="")
    page = sites.page(host_page(f"{live_server.url}/f/{form.key}.js"))

    # The same page on a site that is not allowed: the browser's preflight is refused, nothing is stored.
    browser.get(other + page)
    host, shadow = popup(browser)
    shadow.find_element(By.ID, "sesame-email").send_keys("eve@example.net")
    shadow.find_element(By.CSS_SELECTOR, "button.submit").click()
    assert "Could not reach" in wait_live(browser, host, "Could not reach")

    # A bot on the allowed site fills every field, the hidden one too: it is told what people are told.
    browser.get(allowed + page)
    host, shadow = popup(browser)
    shadow.find_element(By.ID, "sesame-email").send_keys("bot@example.net")
    browser.execute_script("arguments[0].shadowRoot.getElementById('sesame-hp').value = 'http://spam.test'", host)
    shadow.find_element(By.CSS_SELECTOR, "button.submit").click()
    assert "check your inbox" in wait_live(browser, host, "check your inbox")

    assert SignupRequest.objects.count() == 0
    assert not Email.objects.filter(to_email__in=["eve@example.net", "bot@example.net"]).exists()
    assert not Contact.objects.filter(account=account).exists()


def test_scroll_and_exit_intent_triggers_and_the_inline_form(live_server, browser, sites, account):  # noqa: F811
    origin = sites.origin()
    script = f"{live_server.url}/f/{{key}}.js"
    scroll = signup_form_for(account, name="scroll", allowed_origins=[origin], trigger="scroll", scroll_percent=60)
    exit_intent = signup_form_for(account, name="exit", allowed_origins=[origin], trigger="exit_intent")
    inline = signup_form_for(account, name="inline", allowed_origins=[origin], mode="inline", consent_text="")

    def loaded(form) -> None:
        WebDriverWait(browser, 15).until(
            lambda d: d.execute_script(f"return !!(window.SesameForms || {{}})['{form.key}']")
        )
        browser.execute_async_script("window.setTimeout(arguments[0], 300)")

    # Scroll: nothing until the visitor has seen 60% of the page.
    browser.get(origin + sites.page(host_page(script.format(key=scroll.key))))
    loaded(scroll)
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-sesame-form]")
    browser.execute_script("window.scrollTo(0, document.documentElement.scrollHeight)")
    popup(browser)

    # Exit intent: nothing until the pointer leaves through the top of the window.
    browser.get(origin + sites.page(host_page(script.format(key=exit_intent.key))))
    loaded(exit_intent)
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-sesame-form]")
    browser.execute_script(
        "document.dispatchEvent(new MouseEvent('mouseout', {clientY: -5, relatedTarget: null, bubbles: true}))"
    )
    popup(browser)

    # Inline: a labelled region right where the tag is, no dialog, no overlay; it signs up the same way.
    html = (
        host_page(script.format(key=inline.key))
        .replace("<script", "<div id='slot'><script")
        .replace("</script>", "</script></div>")
    )
    browser.get(origin + sites.page(html))
    host, shadow = popup(browser)
    assert browser.execute_script("return arguments[0].parentNode.id", host) == "slot"
    assert shadow.find_element(By.CSS_SELECTOR, "[role=region]").get_attribute("aria-labelledby") == "sesame-title"
    assert not shadow.find_elements(By.CSS_SELECTOR, "[role=dialog], .overlay")
    browser.execute_script("arguments[0].scrollIntoView()", host)
    browser.save_screenshot(str(ARTIFACTS / "signup-inline.png"))
    shadow.find_element(By.ID, "sesame-email").send_keys("grace@example.org")
    shadow.find_element(By.CSS_SELECTOR, "button.submit").click()
    assert "check your inbox" in wait_live(browser, host, "check your inbox")
    assert SignupRequest.objects.get().form_id == inline.pk
