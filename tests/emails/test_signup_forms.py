"""Sign-up forms: the /v1/forms API, the public endpoint's guards (CORS, honeypot, rate limits, disposable domains,
proof of work, the challenge hook), and the confirmation link (expiry, tampering, GET never confirms)."""

import hashlib
import json
import re
import time
from unittest import mock

import pytest
from django.conf import settings
from django.test import Client

from contacts.models import Contact, ContactEvent, Tag
from contacts.services import contact_create
from emails.forms.models import SignupForm, SignupRequest
from emails.forms.services import signup_token
from emails.models import Email, Identity
from tests.emails.factories import sending_connection, signup_form_for

# All of it also runs on SQLite (the embedded default's database): sign-ups must work there too.
pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

ORIGIN = "https://www.acme.test"
FORM_BODY = {
    "name": "Newsletter popup",
    "sender": "Acme <news@example.com>",
    "allowed_origins": [ORIGIN, "https://*.acme.test"],
    "tags": ["newsletter"],
    "consent_text": "I agree to receive Acme's newsletter.",
    "appearance": {"accent": "#0a7d4f", "title": "Get our newsletter"},
}


def refuse_everyone(*, form, data, ip):
    """A challenge hook (SESAME_FORMS_CHALLENGE_HOOK) that says no, as a captcha check would without a solution."""
    return "Solve the captcha first." if data.get("captcha") != "solved" else None


def post(form, body, *, origin=ORIGIN, ip="203.0.113.7", **headers):
    if origin:
        headers["HTTP_ORIGIN"] = origin
    return Client().post(f"/f/{form.key}", json.dumps(body), content_type="application/json", REMOTE_ADDR=ip, **headers)


def signup(email="ada@example.net", **extra):
    return {"email": email, "consent": True, **extra}


def confirm_link(signup_request: SignupRequest) -> str:
    body = str(Email.objects.get(pk=signup_request.confirmation_email_id or "").text_body)
    found = re.search(re.escape(settings.SESAME_PUBLIC_URL) + r"(/f/confirm/\S+)", body)
    assert found is not None, body
    return found.group(1)


# --- /v1/forms ---------------------------------------------------------------------------------------------------


def test_an_account_creates_lists_changes_and_deletes_a_form(client_for, account):
    sending_connection(account)
    created = client_for.post("/v1/forms", FORM_BODY, format="json")
    assert created.status_code == 201, created.json()
    form = created.json()
    assert form["embed_snippet"] == f'<script src="http://127.0.0.1:8000/f/{form["key"]}.js" async></script>'
    assert (form["signups"], form["confirmations"], form["conversion_rate"]) == (0, 0, None)
    assert form["mode"] == "popup" and form["trigger"] == "delay"

    changed = client_for.patch(f"/v1/forms/{form['id']}", {"mode": "inline", "trigger": "scroll"}, format="json")
    assert changed.status_code == 200 and changed.json()["mode"] == "inline"
    assert client_for.get("/v1/forms").json()["results"][0]["id"] == form["id"]
    assert client_for.delete(f"/v1/forms/{form['id']}").status_code == 204
    assert client_for.get(f"/v1/forms/{form['id']}").status_code == 404


def test_a_form_needs_a_verified_sender_and_says_how_to_get_one(client_for, account):
    sending_connection(account, domain="example.com")
    response = client_for.post("/v1/forms", {**FORM_BODY, "sender": "news@unverified.test"}, format="json")
    assert response.status_code == 422
    [entry] = response.json()["detail"]
    assert entry["loc"] == ["body", "sender"] and entry["type"] == "value_error.unverified_sender"
    assert "news@unverified.test is not a verified identity" in entry["msg"] and "add_identity" in entry["msg"]
    assert not SignupForm.objects.exists()


def test_bad_settings_are_each_named(client_for, account):
    sending_connection(account)
    body = {
        **FORM_BODY,
        "allowed_origins": ["www.acme.test", "https://acme.test/path"],
        "custom_fields": [{"key": "Email", "label": ""}],
        "appearance": {"accent": "red", "font": "Comic Sans"},
    }
    response = client_for.post("/v1/forms", body, format="json")
    assert response.status_code == 422
    locs = {tuple(entry["loc"]) for entry in response.json()["detail"]}
    assert locs == {
        ("body", "allowed_origins", 0),
        ("body", "allowed_origins", 1),
        ("body", "custom_fields", 0, "key"),
        ("body", "custom_fields", 0, "label"),
        ("body", "appearance", "accent"),
        ("body", "appearance", "font"),
    }


def test_another_accounts_form_answers_404(api, account, other_account):
    form = signup_form_for(other_account)
    mine = api(account)
    assert mine.get(f"/v1/forms/{form.pk}").status_code == 404
    assert mine.patch(f"/v1/forms/{form.pk}", {"name": "mine now"}, format="json").status_code == 404
    assert mine.delete(f"/v1/forms/{form.pk}").status_code == 404
    assert mine.get("/v1/forms").json()["results"] == []
    assert SignupForm.objects.get(pk=form.pk).name == "Newsletter"


def test_the_list_counts_signups_confirmations_and_conversion(client_for, account):
    form = signup_form_for(account, allowed_origins=[ORIGIN])
    for address in ("a@example.net", "b@example.net"):
        assert post(form, signup(address)).status_code == 202
    Client().post(confirm_link(SignupRequest.objects.get(email="a@example.net")))
    [row] = client_for.get("/v1/forms").json()["results"]
    assert (row["signups"], row["confirmations"], row["conversion_rate"]) == (2, 1, 0.5)


# --- the public endpoint -----------------------------------------------------------------------------------------


def test_a_preflight_from_an_allowed_origin_is_answered_with_cors_headers(account):
    form = signup_form_for(account, allowed_origins=[ORIGIN, "https://*.acme.test"])
    for origin in (ORIGIN, "https://shop.acme.test"):
        response = Client().options(
            f"/f/{form.key}", HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
        )  # fmt: skip
        assert response.status_code == 204
        assert response["Access-Control-Allow-Origin"] == origin
        assert response["Access-Control-Allow-Methods"] == "POST"
        assert response["Access-Control-Allow-Headers"] == "Content-Type"
        assert response["Vary"] == "Origin"


@pytest.mark.parametrize("origin", ["https://evil.test", "http://www.acme.test", "https://acme.test.evil.test", None])
def test_a_disallowed_origin_gets_403_without_cors_headers_and_creates_nothing(account, origin):
    form = signup_form_for(account, allowed_origins=[ORIGIN, "https://*.acme.test"])
    preflight = Client().options(f"/f/{form.key}", **({"HTTP_ORIGIN": origin} if origin else {}))
    response = post(form, signup(), origin=origin)
    for answer in (preflight, response):
        assert answer.status_code == 403
        assert "Access-Control-Allow-Origin" not in answer
        assert "not one of this form's allowed origins" in answer.json()["detail"]
    assert not SignupRequest.objects.exists() and not Email.objects.exists()


def test_a_signup_queues_only_a_confirmation_email(account):
    form = signup_form_for(account, allowed_origins=[ORIGIN])
    # A forged Host header cannot point the link elsewhere: it is built from SESAME_PUBLIC_URL.
    response = post(form, signup("Ada@Example.NET", name="Ada <b>Lovelace</b>"), HTTP_HOST="attacker.test")
    assert response.status_code == 202
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert response.json() == {
        "status": "pending",
        "detail": "Almost done: check your inbox and click the link to confirm.",
    }
    request = SignupRequest.objects.get()
    assert (request.email, request.full_name, request.requested_ip) == ("ada@example.net", "Ada <b>Lovelace</b>",
                                                                         "203.0.113.7")  # fmt: skip
    assert request.consent_text == "I agree to receive Acme's monthly newsletter."
    email = Email.objects.get()
    assert email.to_email == "ada@example.net" and email.status == Email.Status.QUEUED
    assert email.subject == "Please confirm your subscription"
    # Only the address comes from the visitor: the name they typed is nowhere in the email.
    assert "Lovelace" not in f"{email.text_body} {email.html_body} {email.subject}"
    assert "attacker.test" not in f"{email.text_body} {email.html_body}"
    assert confirm_link(request).startswith("/f/confirm/")
    assert not Contact.objects.exists()


def test_a_bot_filling_the_honeypot_is_told_success_and_nothing_is_stored(account):
    form = signup_form_for(account, allowed_origins=[ORIGIN])
    response = post(form, signup(website="http://spam.test"))
    assert response.status_code == 202 and response.json()["status"] == "pending"
    assert not SignupRequest.objects.exists() and not Email.objects.exists()


def test_a_disposable_domain_is_refused_with_a_clear_message(account):
    form = signup_form_for(account, allowed_origins=[ORIGIN])
    response = post(form, signup("someone@mailinator.com"))
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["body", "email"],
            "msg": "Addresses at mailinator.com can't subscribe (disposable or blocked); use your everyday address.",
            "type": "value_error.email.disposable",
        }
    ]
    assert response["Access-Control-Allow-Origin"] == ORIGIN  # so the script can show the message
    assert not SignupRequest.objects.exists()


def test_missing_answers_are_named_at_their_fields(account):
    form = signup_form_for(
        account, allowed_origins=[ORIGIN], require_name=True, custom_fields=[{"key": "company", "label": "Company",
                                                                              "required": True}]
    )  # fmt: skip
    response = post(form, {"email": "not-an-address", "fields": {"company": ""}})
    assert response.status_code == 422
    assert {tuple(entry["loc"]): entry["msg"] for entry in response.json()["detail"]} == {
        ("body", "email"): "Enter a valid email address, like name@example.com.",
        ("body", "name"): "Enter your name.",
        ("body", "fields", "company"): "Fill in Company.",
        ("body", "consent"): "Tick the box to agree before you subscribe.",
    }


def test_rate_limits_per_address_per_ip_and_per_domain(account, settings):
    form = signup_form_for(account, allowed_origins=[ORIGIN])
    for n in range(3):
        assert post(form, signup("ada@example.net"), ip=f"198.51.100.{n}").status_code == 202
    refused = post(form, signup("ada@example.net"), ip="198.51.100.9")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "check its inbox" in refused.json()["detail"]

    settings.SESAME_FORMS_PER_IP_PER_HOUR = 2
    assert post(form, signup("b@example.org"), ip="192.0.2.1").status_code == 202
    assert post(form, signup("c@example.org"), ip="192.0.2.1").status_code == 202
    refused = post(form, signup("d@example.org"), ip="192.0.2.1")
    assert refused.status_code == 429 and "from your network" in refused.json()["detail"]

    settings.SESAME_FORMS_PER_DOMAIN_PER_HOUR = 2
    assert post(form, signup("x@bigcorp.test"), ip="192.0.2.50").status_code == 202
    assert post(form, signup("y@bigcorp.test"), ip="192.0.2.51").status_code == 202
    refused = post(form, signup("z@bigcorp.test"), ip="192.0.2.52")
    assert refused.status_code == 429 and "at bigcorp.test" in refused.json()["detail"]
    assert SignupRequest.objects.count() == 7


def solve(form, email: str, stamp: int) -> str:
    nonce = 0
    while True:
        digest = hashlib.sha256(f"{form.key}:{email}:{stamp}:{nonce}".encode()).digest()
        if int.from_bytes(digest, "big") >> (256 - form.proof_of_work_bits) == 0:
            return str(nonce)
        nonce += 1


def test_proof_of_work_is_required_when_enabled(account):
    form = signup_form_for(account, allowed_origins=[ORIGIN], proof_of_work_bits=10)
    assert post(form, signup()).status_code == 422
    stamp = int(time.time())
    stale = stamp - 3600
    assert post(form, signup(pow_ts=stale, pow_nonce=solve(form, "ada@example.net", stale))).status_code == 422
    wrong = post(form, signup(pow_ts=stamp, pow_nonce=solve(form, "eve@example.net", stamp)))
    assert wrong.status_code == 422 and "proof of work is wrong" in wrong.json()["detail"][0]["msg"]
    assert not SignupRequest.objects.exists()
    assert post(form, signup(pow_ts=stamp, pow_nonce=solve(form, "ada@example.net", stamp))).status_code == 202


def test_the_challenge_hook_can_refuse_a_signup(account, settings):
    settings.SESAME_FORMS_CHALLENGE_HOOK = "tests.emails.test_signup_forms.refuse_everyone"
    form = signup_form_for(account, allowed_origins=[ORIGIN])
    refused = post(form, signup())
    assert refused.status_code == 403 and refused.json() == {"detail": "Solve the captcha first."}
    assert post(form, signup(captcha="solved")).status_code == 202


def test_a_sender_no_longer_verified_stores_nothing(account):
    form = signup_form_for(account, allowed_origins=[ORIGIN])
    Identity.objects.filter(account=account).update(status=Identity.Status.FAILED)
    response = post(form, signup())
    assert response.status_code == 503 and "cannot take sign-ups right now" in response.json()["detail"]
    assert not SignupRequest.objects.exists() and not Email.objects.exists()


def test_the_script_is_served_with_the_forms_settings(account):
    form = signup_form_for(account, allowed_origins=[ORIGIN], appearance={"title": "</script><b>Hi</b>"})
    response = Client().get(f"/f/{form.key}.js")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/javascript")
    body = response.content.decode()
    assert f'"endpoint": "{settings.SESAME_PUBLIC_URL}/f/{form.key}"' in body
    assert "</script>" not in body and "\\u003c/script\\u003e" in body
    form.is_active = False
    form.save()
    assert Client().get(f"/f/{form.key}.js").status_code == 404


# --- the confirmation link ---------------------------------------------------------------------------------------


def test_get_shows_a_button_and_post_confirms_once(account):
    existing = contact_create(account=account, fields={"email": "ada@example.net", "status": "unsubscribed"},
                              tags=["customer"])  # fmt: skip
    form = signup_form_for(account, allowed_origins=[ORIGIN], tags=["newsletter", "website"])
    post(form, signup(name="Ada Lovelace"))
    link = confirm_link(SignupRequest.objects.get())

    page = Client().get(link)
    assert page.status_code == 200 and b'id="confirm"' in page.content
    assert Contact.objects.get(pk=existing.pk).status == "unsubscribed"  # a link scanner's GET changes nothing

    confirmed = Client().post(link, REMOTE_ADDR="198.51.100.20")
    assert confirmed.status_code == 200 and b"You're subscribed" in confirmed.content
    again = Client().post(link, REMOTE_ADDR="198.51.100.21")
    assert again.status_code == 200 and b"You're already subscribed" in again.content
    contact = Contact.objects.get(pk=existing.pk)
    assert contact.status == "subscribed" and contact.full_name == "Ada Lovelace"
    names = set(Tag.objects.filter(pk__in=contact.tag_ids).values_list("name", flat=True))
    assert names == {"customer", "newsletter", "website"}
    [event] = ContactEvent.objects.filter(contact=contact, name="signup_confirmed")
    assert event.properties["confirmed_ip"] == "198.51.100.20"
    assert event.properties["requested_ip"] == "203.0.113.7"
    assert event.properties["consent_text"] == "I agree to receive Acme's monthly newsletter."
    assert b"already subscribed" in Client().get(link).content


def test_an_expired_link_confirms_nothing(account):
    form = signup_form_for(account, allowed_origins=[ORIGIN])
    post(form, signup())
    request = SignupRequest.objects.get()
    eight_days_ago = time.time() - 8 * 86400
    with mock.patch("django.core.signing.time.time", return_value=eight_days_ago):
        old_token = signup_token(request)
    for method in ("get", "post"):
        response = getattr(Client(), method)(f"/f/confirm/{old_token}")
        assert response.status_code == 410
        assert b"This link has expired" in response.content and response["Content-Type"].startswith("text/html")
    assert not Contact.objects.exists()
    request.refresh_from_db()
    assert request.confirmed_at is None


def test_a_tampered_link_confirms_nothing(account):
    form = signup_form_for(account, allowed_origins=[ORIGIN])
    post(form, signup())
    link = confirm_link(SignupRequest.objects.get())
    other = SignupRequest.objects.get().pk
    token = link.rsplit("/", 1)[1]
    forged = token.replace(token[:10], signup_token(SignupRequest(pk=other))[:10][::-1])
    for bad in (forged, token[:-1], "garbage"):
        response = Client().post(f"/f/confirm/{bad}")
        assert response.status_code == 404 and b"This link is not valid" in response.content
    assert not Contact.objects.exists()


# --- admin ---------------------------------------------------------------------------------------------------------


def test_admin_lists_forms_with_conversion_and_shows_the_snippet(admin_client, account):
    form = signup_form_for(account, allowed_origins=[ORIGIN])
    post(form, signup("a@example.net"))
    post(form, signup("b@example.net"))
    Client().post(confirm_link(SignupRequest.objects.get(email="a@example.net")))
    page = admin_client.get("/admin/emails/signupform/?o=-8").content.decode()
    assert "Newsletter" in page and "50%" in page
    change = admin_client.get(f"/admin/emails/signupform/{form.pk}/change/").content.decode()
    assert f"/f/{form.key}.js&quot; async&gt;&lt;/script&gt;" in change
    requests = admin_client.get("/admin/emails/signuprequest/?confirmed=yes").content.decode()
    assert "a@example.net" in requests and "b@example.net" not in requests


def test_admin_refuses_a_form_with_an_unverified_sender(admin_client, account):
    sending_connection(account)
    response = admin_client.post(
        "/admin/emails/signupform/add/",
        {
            "account": account.pk, "name": "Footer", "is_active": "on", "sender": "hi@elsewhere.test",
            "config_identifier": "", "custom_fields": "[]", "consent_text": "", "tags": '["footer"]',
            "allowed_origins": '["https://www.acme.test"]', "mode": "inline", "trigger": "delay", "delay_seconds": 0,
            "scroll_percent": 50, "appearance": "{}", "proof_of_work_bits": 0,
        },
    )  # fmt: skip
    assert response.status_code == 200
    assert "hi@elsewhere.test is not a verified identity" in response.content.decode()
    assert not SignupForm.objects.exists()


# --- topics --------------------------------------------------------------------------------------------------------


def test_a_form_names_its_topic_by_key_and_unknown_keys_are_explained(client_for, account, other_account):
    from contacts.subscriptions import topic_create

    sending_connection(account)
    topic_create(account=account, key="newsletter", name="Newsletter")
    topic_create(account=other_account, key="offers", name="Offers")
    created = client_for.post("/v1/forms", {**FORM_BODY, "topic": "newsletter"}, format="json")
    assert created.status_code == 201 and created.json()["topic"] == "newsletter"
    for key in ("offers", "nope"):  # another account's topic is as unknown as a missing one
        refused = client_for.post("/v1/forms", {**FORM_BODY, "topic": key}, format="json")
        assert refused.status_code == 422
        assert refused.json()["detail"] == [
            {
                "loc": ["body", "topic"],
                "msg": f"no topic {key!r}; yours: newsletter (POST /v1/topics)",
                "type": "value_error.unknown",
            }
        ]
    cleared = client_for.patch(f"/v1/forms/{created.json()['id']}", {"topic": None}, format="json")
    assert cleared.status_code == 200 and cleared.json()["topic"] is None


def test_confirming_subscribes_the_contact_to_the_forms_topic_again(account):
    from contacts.models import TopicOptOut
    from contacts.subscriptions import Source, contact_unsubscribe, topic_create

    topic = topic_create(account=account, key="newsletter", name="Newsletter")
    contact = contact_create(account=account, fields={"email": "ada@example.net"})
    contact_unsubscribe(contact=contact, topic=topic, source=Source.ONE_CLICK)
    contact_unsubscribe(contact=contact, topic=None, source=Source.ONE_CLICK)
    form = signup_form_for(account, allowed_origins=[ORIGIN], topic=topic)
    post(form, signup())
    assert TopicOptOut.objects.filter(contact=contact, topic=topic).exists()  # nothing changes before confirming

    Client().post(confirm_link(SignupRequest.objects.get()))
    contact.refresh_from_db()
    assert contact.status == "subscribed"
    assert not TopicOptOut.objects.filter(contact=contact, topic=topic).exists()
    timeline = list(ContactEvent.objects.filter(contact=contact).order_by("id").values_list("name", "source"))
    assert timeline[-3:] == [("resubscribed", "form"), ("topic_subscribed", "form"), ("signup_confirmed", "form")]
    assert ContactEvent.objects.get(contact=contact, name="signup_confirmed").properties["topic"] == "newsletter"


def test_expired_unconfirmed_signups_are_erased_and_still_counted(client_for, account):
    from datetime import timedelta

    from django.utils import timezone

    from emails.tasks import forget_expired_signups

    form = signup_form_for(account, allowed_origins=[ORIGIN], custom_fields=[{"key": "company", "label": "Company"}])
    for address in ("old@example.net", "confirmed@example.net", "fresh@example.net"):
        post(form, signup(address, name="Someone", fields={"company": "Acme"}))
    Client().post(confirm_link(SignupRequest.objects.get(email="confirmed@example.net")))
    eight_days_ago = timezone.now() - timedelta(days=8)
    SignupRequest.objects.exclude(email="fresh@example.net").update(created_at=eight_days_ago)

    forget_expired_signups.apply()
    erased = SignupRequest.objects.get(created_at=eight_days_ago, confirmed_at__isnull=True)
    assert (erased.email, erased.full_name, erased.answers, erased.requested_ip) == ("", "", {}, None)
    assert SignupRequest.objects.get(email="confirmed@example.net").full_name == "Someone"
    assert SignupRequest.objects.get(email="fresh@example.net").answers == {"company": "Acme"}
    [row] = client_for.get("/v1/forms").json()["results"]
    assert (row["signups"], row["confirmations"]) == (3, 1)
