"""Walks every /v1/ route with a second account's token: another account's object is always a 404.

When a route with an id is added, register how to make an object for it in OWNED_OBJECTS; the test fails
until then, so no endpoint escapes this check.
"""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, reverse

from accounts import services
from accounts.models import Account
from config import api_urls
from tests.accounts.factories import connection_for
from tests.contacts.factories import contact_for, segment_for

pytestmark = pytest.mark.django_db

def _email(account: Account) -> Any:
    from emails.services import email_accept
    from tests.emails.factories import email_body, sending_connection

    if not account.aws_connections.filter(identifier="mail").exists():
        sending_connection(account, identifier="mail")
    return email_accept(account=account, data=email_body(config_identifier="mail"))


def _identity(account: Account) -> Any:
    from emails.models import Identity

    return Identity.objects.create(account=account, connection=connection_for(account, identifier="ids"),
                                   name="victim.example", kind=Identity.Kind.DOMAIN)


def _suppression(account: Account) -> Any:
    from emails.services import suppression_add

    return suppression_add(account=account, address="victim@example.net", reason="manual")


def _blocked_domain(account: Account) -> Any:
    from emails.services import blocked_domain_add

    return blocked_domain_add(account=account, domain="victim.example")


def _webhook(account: Account) -> Any:
    from events.services import webhook_endpoint_create

    return webhook_endpoint_create(account=account, url="https://hooks.victim.test/x", event_types=["*"])[0]


OWNED_OBJECTS: dict[str, Callable[[Account], Any]] = {
    "token-detail": lambda account: services.api_token_create(account=account, name="victim")[0],
    "aws-connection-detail": lambda account: connection_for(account, identifier="victim"),
    "contact-detail": lambda account: contact_for(account, email="victim@example.com"),
    "contact-tags": lambda account: contact_for(account, email="tagged@example.com", tags=["vip"]),
    "contact-timeline": lambda account: contact_for(account, email="seen@example.com"),
    "segment-detail": lambda account: segment_for(account, name="victim"),
    "segment-contacts": lambda account: segment_for(account, name="victims"),
    "email-detail": _email,
    "email-resend": _email,
    "email-cancel": _email,
    "identity-detail": _identity,
    "suppression-detail": _suppression,
    "blocked-domain-detail": _blocked_domain,
    "webhook-detail": _webhook,
    "webhook-rotate-secret": _webhook,
    "webhook-deliveries": _webhook,
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
