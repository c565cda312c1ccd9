"""Walks every /v1/ route with a second account's token: another account's object is always a 404.

When a route with an id is added, register how to make an object for it in OWNED_OBJECTS; the test fails
until then, so no endpoint escapes this check.
"""

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone

from accounts import services
from accounts.models import Account
from config import api_urls
from contacts.subscriptions import topic_create
from tests.accounts.factories import connection_for
from tests.contacts.factories import contact_for, segment_for

pytestmark = pytest.mark.django_db

def _email(account: Account) -> Any:
    from emails.services import email_accept
    from tests.emails.factories import email_body, sending_connection

    if not account.aws_connections.filter(identifier="mail").exists():
        sending_connection(account, identifier="mail")
    return email_accept(account=account, data=email_body(config_identifier="mail"))


def _broadcast(account: Account) -> Any:
    from tests.emails.factories import sending_connection
    from tests.events.broadcasts.factories import broadcast_for, newsletter_template

    if not account.aws_connections.filter(identifier="news").exists():
        sending_connection(account, identifier="news", is_default=False)
    template = newsletter_template(account, name=f"victim {account.broadcasts.count()}")
    return broadcast_for(account, config_identifier="news", template=str(template.pk))


def _identity(account: Account) -> Any:
    from emails.models import Identity

    return Identity.objects.create(account=account, connection=connection_for(account, identifier="ids"),
                                   name="victim.example", kind=Identity.Kind.DOMAIN)


def _signup_form(account: Account) -> Any:
    from tests.emails.factories import signup_form_for

    return signup_form_for(account, name="victim")


def _suppression(account: Account) -> Any:
    from emails.services import suppression_add

    return suppression_add(account=account, address="victim@example.net", reason="manual")


def _blocked_domain(account: Account) -> Any:
    from emails.services import blocked_domain_add

    return blocked_domain_add(account=account, domain="victim.example")


def _webhook(account: Account) -> Any:
    from events.services import webhook_endpoint_create

    return webhook_endpoint_create(account=account, url="https://hooks.victim.test/x", event_types=["*"])[0]


def _sms(account: Account) -> Any:
    from sms.services import sms_accept
    from tests.sms.factories import sms_body, sms_connection

    if not account.aws_connections.filter(identifier="texts").exists():
        sms_connection(account, identifier="texts", is_default=False)
    return sms_accept(account=account, data=sms_body(config_identifier="texts"))


def _otp(account: Account) -> Any:
    from sms.models import OtpVerification

    return OtpVerification.objects.create(account=account, channel="sms", to="+14254147755", code_hash="x" * 64,
                                          expires_at=timezone.now() + timedelta(minutes=10))


def _sandbox_number(account: Account) -> Any:
    from sms.models import SmsSandboxNumber

    connection = account.aws_connections.filter(identifier="sandbox").first() or connection_for(
        account, identifier="sandbox", is_default=False
    )
    number, _ = SmsSandboxNumber.objects.get_or_create(account=account, connection=connection,
                                                       phone_number="+14254147755")
    return number


def _sms_opt_out(account: Account) -> Any:
    from sms.services import sms_opt_out_add

    return sms_opt_out_add(account=account, phone_number="+14254147755")


def _push_app(account: Account) -> Any:
    from push.models import PushApp
    from push.services import fcm_credentials, push_app_create
    from tests.push.factories import SERVICE_ACCOUNT

    existing = PushApp.objects.filter(account=account).first()
    if existing is not None:
        return existing
    connection = account.aws_connections.filter(identifier="push").first() or connection_for(
        account, identifier="push", is_default=False
    )
    return push_app_create(account=account, connection=connection, name="Victim app", platform="GCM",
                           credentials=fcm_credentials(service_account=SERVICE_ACCOUNT))


def _push_device(account: Account) -> Any:
    from push.services import push_device_register

    return push_device_register(account=account, app=_push_app(account), token="victim-token").device


def _push(account: Account) -> Any:
    from push.services import PushDraft, push_accept

    later = timezone.now() + timedelta(hours=1)
    return push_accept(account=account, draft=PushDraft(title="", body="Hi", device=_push_device(account),
                                                        schedule_send_at=later))


def _conversation(account: Account) -> Any:
    from tests.emails.inbox_support import conversation_for

    return conversation_for(account)


def _template(account: Account) -> Any:
    from emails.templating import Template, template_create

    existing = Template.objects.filter(account=account).first()
    return existing or template_create(account=account, channel="email", name="victim", content={"subject": "Hi",
                                                                                                   "text": "Hello"})


def _invoice(account: Account) -> Any:
    from billing.services import period_close

    period = account.subscription.periods.get()
    return period_close(period_id=period.pk, now=timezone.now() + (period.ends_on - timezone.now().date()))


def _automation(account: Account) -> Any:
    from tests.events.automations_helpers import automation_for

    return automation_for(account, active=False)


def _automation_run(account: Account) -> Any:
    from events.automations.models import AutomationRun
    from tests.contacts.factories import contact_for
    from tests.events.automations_helpers import automation_for

    automation = automation_for(account)
    contact = contact_for(account)
    run = AutomationRun.objects.create(
        account=account,
        automation=automation,
        version=automation.versions.get(),
        contact=contact,
        enrolled_at=timezone.now(),
    )
    return run


OWNED_OBJECTS: dict[str, Callable[[Account], Any]] = {
    "token-detail": lambda account: services.api_token_create(account=account, name="victim")[0],
    "aws-connection-detail": lambda account: connection_for(account, identifier="victim"),
    "aws-connection-health": lambda account: connection_for(account, identifier="victim-health"),
    "contact-detail": lambda account: contact_for(account, email="victim@example.com"),
    "contact-tags": lambda account: contact_for(account, email="tagged@example.com", tags=["vip"]),
    "contact-timeline": lambda account: contact_for(account, email="seen@example.com"),
    "segment-detail": lambda account: segment_for(account, name="victim"),
    "segment-contacts": lambda account: segment_for(account, name="victims"),
    "topic-detail": lambda account: topic_create(account=account, key="victim", name="Victim"),
    **dict.fromkeys(
        ["broadcast-detail", "broadcast-audience", "broadcast-send", "broadcast-pause", "broadcast-resume",
         "broadcast-cancel"],
        lambda account: _broadcast(account),
    ),
    "email-detail": _email,
    "email-resend": _email,
    "email-cancel": _email,
    "identity-detail": _identity,
    "suppression-detail": _suppression,
    "blocked-domain-detail": _blocked_domain,
    "signup-form-detail": _signup_form,
    "conversation-detail": _conversation,
    "conversation-reply": _conversation,
    "conversation-notes": _conversation,
    "sms-detail": _sms,
    "sms-cancel": _sms,
    "otp-detail": _otp,
    "otp-check": _otp,
    "sms-sandbox-number-detail": _sandbox_number,
    "sms-sandbox-number-verify": _sandbox_number,
    "sms-opt-out-detail": _sms_opt_out,
    "webhook-detail": _webhook,
    "webhook-rotate-secret": _webhook,
    "webhook-deliveries": _webhook,
    "push-app-detail": _push_app,
    "push-app-pause": _push_app,
    "push-app-resume": _push_app,
    "push-device-detail": _push_device,
    "push-detail": _push,
    "push-cancel": _push,
    "push-deliveries": _push,
    "template-detail": _template,
    "template-versions": _template,
    "template-preview": _template,
    "invoice-detail": _invoice,
    "automation-detail": _automation,
    "automation-activate": _automation,
    "automation-pause": _automation,
    "automation-runs": _automation,
    "automation-run": _automation_run,
}
# Routes with more than one id: their URL arguments from the owned object.
ROUTE_KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "automation-run": lambda run: {"pk": run.automation_id, "run_id": run.pk},
}


def _routes(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern) and entry.name:
            yield prefix + str(entry.pattern), entry


def _v1_routes() -> list[tuple[str, URLPattern]]:
    return list(_routes(api_urls.urlpatterns))


def _detail_routes() -> list[tuple[str, URLPattern]]:
    return [(route, pattern) for route, pattern in _v1_routes() if pattern.pattern.regex.groupindex]


def test_every_route_with_an_id_is_registered():
    missing = [pattern.name for _, pattern in _detail_routes() if pattern.name not in OWNED_OBJECTS]
    assert missing == [], f"Register these routes in OWNED_OBJECTS: {missing}"


@pytest.mark.parametrize("name", sorted(OWNED_OBJECTS))
def test_another_accounts_object_answers_404_on_every_method(name, account, other_account, api):
    owned = OWNED_OBJECTS[name](account)
    [pattern] = [p for _, p in _detail_routes() if p.name == name]
    if name in ROUTE_KWARGS:
        url = reverse(name, kwargs=ROUTE_KWARGS[name](owned))
    else:
        [param] = list(pattern.pattern.regex.groupindex)
        url = reverse(name, kwargs={param: owned.pk})
    intruder = api(other_account)
    statuses = {
        m: getattr(intruder, m)(url, {}, format="json").status_code for m in ("get", "post", "put", "patch", "delete")
    }
    assert set(statuses.values()) <= {404, 405}, statuses
    probe = next(m for m in ("get", "post", "patch", "delete") if statuses[m] == 404)
    # The same request from the owner finds the object: the intruder's 404 is tenancy, not a bad id.
    assert getattr(api(account), probe)(url, {}, format="json").status_code != 404


def _ids(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "id" or key.endswith("_id"):
                yield str(item)
            yield from _ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from _ids(item)


def test_list_routes_never_show_another_accounts_objects(account, other_account, api):
    owned = {str(factory(account).pk) for factory in OWNED_OBJECTS.values()} | {str(account.pk)}
    intruder = api(other_account)
    for route, pattern in _v1_routes():
        if pattern.pattern.regex.groupindex:
            continue
        response = intruder.get(reverse(pattern.name))
        if response.status_code == 405:
            continue
        assert response.status_code == 200, (route, response.status_code)
        leaked = owned & set(_ids(response.json()))
        assert not leaked, (route, leaked)
