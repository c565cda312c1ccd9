"""Hostile templates: attribute walking, includes, huge loops, deep nesting, giant output, endless work. Each is
refused with a 422 that names the field and the line, at save when it does not depend on the data, at send or
preview when it does; none runs unbounded."""

import re
import time

import pytest

from emails.models import Email, Template
from tests.emails.factories import sending_connection

pytestmark = pytest.mark.django_db

LOOP = "{% for i in (1..100000000) %}x{% endfor %}"
STEPS = "{% for i in (1..9000) %}{% assign a = i %}{% endfor %}\n" * 30
OUTPUT = "{% for i in (1..9000) %}" + "x" * 200 + "{% endfor %}"
NAMESPACE = '{% assign s = "xxxxxxxxxx" %}{% for i in (1..30) %}{% assign s = s | append: s %}{% endfor %}'
NESTED = "{% if a %}" * 60 + "deep" + "{% endif %}" * 60


def _refused(client, html, **extra):
    started = time.monotonic()
    response = client.post(
        "/v1/templates", {"name": "evil", "channel": "email", "subject": "Hi", "html": html, **extra}, format="json"
    )
    assert time.monotonic() - started < 5  # bounded: never the minutes an unbounded loop would take
    assert response.status_code == 422, response.json()
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "html"]
    return error["msg"]


@pytest.mark.parametrize(
    ("html", "says"),
    [
        ("<p>{{ contact.__class__ }}</p>", "line 1: contact.__class__ is not allowed: names beginning with '__'"),
        ("<p>ok</p>\n\n{{ x['__class__']['__mro__'] }}", "line 3:"),
        ('{% include "secrets.txt" %}', "line 1: unexpected tag 'include'"),
        ('{% render "x" %}', "unexpected tag 'render'"),
        ("ok\n" + LOOP, r"line 2: a loop, times the loops around it, may run at most 10,000 iterations"),
        (
            "{% for i in (1..1000) %}{% for j in (1..1000) %}x{% endfor %}{% endfor %}",
            "at most 10,000 iterations",
        ),
        # On a busy machine the time bound may stop it before the step bound: either is the bound holding.
        (STEPS, "the template does more than 200,000 steps|the template takes more than 1 s to render"),
        (OUTPUT, "the rendered text would exceed 1,024 KB"),
        (NAMESPACE, "assign and capture may hold at most 256 KB"),
        (NESTED, "block nesting limit reached"),
    ],
)
def test_hostile_templates_are_refused_at_save(client_for, html, says):
    assert re.search(says, _refused(client_for, html))
    assert Template.objects.count() == 0


def test_a_template_source_over_the_size_limit_is_refused(client_for):
    assert "at most 512 KB" in _refused(client_for, "x" * (512 * 1024 + 1))


def test_data_driven_loops_are_bounded_at_send_and_preview(client_for, account):
    sending_connection(account)
    html = "<ul>{% for i in (1..n) %}<li>{{ i }}</li>{% endfor %}</ul>"
    created = client_for.post(
        "/v1/templates", {"name": "list", "channel": "email", "subject": "Hi", "html": html}, format="json"
    ).json()
    started = time.monotonic()
    preview = client_for.post(f"/v1/templates/{created['id']}/preview", {"variables": {"n": 10**9}}, format="json")
    assert preview.status_code == 422
    [error] = preview.json()["detail"]
    assert error["loc"] == ["body", "template"]
    assert "the template's html cannot be rendered: line 1: a loop" in error["msg"]

    send = client_for.post(
        "/v1/emails",
        {"from": "hello@example.com", "to": "a@example.net", "template": "list", "variables": {"n": 10**9}},
        format="json",
    )
    assert send.status_code == 422
    assert send.json()["detail"][0]["loc"] == ["body", "template"]
    assert time.monotonic() - started < 5
    assert Email.objects.count() == 0
    ok = client_for.post(
        "/v1/emails",
        {"from": "hello@example.com", "to": "a@example.net", "template": "list", "variables": {"n": 3}},
        format="json",
    )
    assert ok.status_code == 200
    assert Email.objects.get().html_body == "<ul><li>1</li><li>2</li><li>3</li></ul>"


def test_giant_output_from_variables_is_refused_at_send(client_for, account):
    sending_connection(account)
    client_for.post(
        "/v1/templates",
        {"name": "big", "channel": "email", "subject": "Hi", "html": "{% for i in (1..5000) %}{{ big }}{% endfor %}"},
        format="json",
    )
    send = client_for.post(
        "/v1/emails",
        {"from": "hello@example.com", "to": "a@example.net", "template": "big", "variables": {"big": "y" * 1000}},
        format="json",
    )
    assert send.status_code == 422
    assert "the rendered text would exceed 1,024 KB" in send.json()["detail"][0]["msg"]


def test_variables_are_data_never_python_objects(client_for, account):
    """Whatever the call sends is JSON; a template reads keys and indexes of it, and nothing else."""
    created = client_for.post(
        "/v1/templates",
        {"name": "probe", "channel": "sms", "body": "{{ o.keys }}|{{ o.items }}|{{ s.upper }}|{{ l.size }}|{{ o.a }}"},
        format="json",
    ).json()
    preview = client_for.post(
        f"/v1/templates/{created['id']}/preview",
        {"variables": {"o": {"a": 1}, "s": "abc", "l": [1, 2]}},
        format="json",
    ).json()
    assert preview["body"] == "|||2|1"
    assert preview["missing"] == ["o.keys", "o.items", "s.upper"]
