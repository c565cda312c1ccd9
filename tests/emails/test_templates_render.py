"""Rendering templates: variables from the contact and the call, fallbacks, the missing-variable report,
autoescaping, derived text, and the visible-link helper broadcasts use for unsubscribe links."""

import pytest

from contacts.models import Contact
from emails.templating import (
    Template,
    TemplateRenderError,
    TemplateVersion,
    contact_variables,
    html_has_visible_link,
    html_to_text,
    template_create,
    template_render,
    template_resolve,
    template_update,
)
from emails.templating.engine import render_text

pytestmark = pytest.mark.django_db


def _email(account, **content):
    content.setdefault("subject", "Hello {{ first_name | default: 'there' }}")
    content.setdefault("html", "<p>Hi {{ first_name | default: 'there' }}, order {{ order_id }}.</p>")
    return template_create(account=account, channel="email", name=content.pop("name", "welcome"), content=content)


def _current(template: Template) -> TemplateVersion:
    assert template.current_version is not None
    return template.current_version


def test_call_variables_win_over_contact_and_declared_defaults(account):
    template = _email(account, html="<p>{{ first_name }} from {{ city }}, plan {{ plan }}</p>")
    template = template_update(
        template=template,
        content={},
        variables=[{"name": "plan", "type": "string", "default": "Free"}, {"name": "city", "type": "string"}],
    )
    contact = Contact.objects.create(account=account, email="ada@example.net", full_name="Ada Lovelace", city="London")
    rendered = template_render(version=_current(template), variables={"first_name": "Countess"}, contact=contact)
    assert rendered.html == "<p>Countess from London, plan Free</p>"
    assert rendered.missing == []
    assert rendered.version.number == 2


def test_fallback_applies_when_nobody_supplies_the_variable(account):
    template = _email(account)
    rendered = template_render(version=_current(template), variables={"order_id": 7})
    assert rendered.subject == "Hello there"
    assert rendered.html == "<p>Hi there, order 7.</p>"
    assert rendered.missing == []


def test_blank_variables_and_declared_required_ones_are_reported_missing(account):
    template = _email(account, html="<p>{{ greeting }} {{ order.total }} {% if coupon %}{{ coupon }}{% endif %}</p>")
    template_update(template=template, content={}, variables=[{"name": "account_no", "type": "number"}])
    rendered = template_render(version=_current(template), variables={"order": {"id": 1}})
    assert rendered.missing == ["account_no", "greeting", "order.total"]  # the {% if %} one is not missing


def test_values_are_escaped_in_html_but_not_in_subject_or_text(account):
    template = _email(account, subject="{{ name }} <3", html="<b>{{ name }}</b>", text="{{ name }}")
    rendered = template_render(version=_current(template), variables={"name": "<script>x</script>&"})
    assert rendered.html == "<b>&lt;script&gt;x&lt;/script&gt;&amp;</b>"
    assert rendered.subject == "<script>x</script>& <3"
    assert rendered.text == "<script>x</script>&"


def test_text_part_is_derived_from_the_rendered_html_when_the_template_has_none(account):
    template = _email(
        account,
        html="<h1>Hi {{ first_name }}</h1><p>Your order<br>shipped.</p><ul><li>Socks</li><li>Hat</li></ul>"
        '<p><a href="{{ track_url }}">Track it</a></p><div style="display:none">preheader</div>',
    )
    assert _current(template).text_derived is True
    rendered = template_render(
        version=_current(template), variables={"first_name": "Ada & Co", "track_url": "https://t.test/1"}
    )
    assert rendered.text == "Hi Ada & Co\n\nYour order\nshipped.\n\n- Socks\n- Hat\n\nTrack it (https://t.test/1)"


def test_contact_variables_hold_fields_attributes_and_split_name(account):
    contact = Contact.objects.create(
        account=account, email="ada@example.net", full_name="Ada King Lovelace", attributes={"plan": "pro", "city": "X"}
    )
    assert contact_variables(contact) == {
        "plan": "pro",
        "city": "X",  # the contact's own city is blank, so the attribute stays
        "first_name": "Ada",
        "last_name": "King Lovelace",
        "email": "ada@example.net",
        "full_name": "Ada King Lovelace",
    }


def test_extra_context_overrides_the_call(account):
    template = _email(account, html='<a href="{{ unsubscribe_url }}">Unsubscribe</a>')
    rendered = template_render(
        version=_current(template),
        variables={"unsubscribe_url": "https://evil.test"},
        extra={"unsubscribe_url": "https://sesame.test/u/abc"},
    )
    assert rendered.html == '<a href="https://sesame.test/u/abc">Unsubscribe</a>'
    assert html_has_visible_link(rendered.html, url="https://sesame.test/u/abc")


@pytest.mark.parametrize(
    ("html", "visible"),
    [
        ('<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>', True),
        ('<a href="{{unsubscribe_url | escape}}"><img src="u.png" alt="Unsubscribe"></a>', True),
        ('<a href="{{ unsubscribe_url }}"></a>', False),
        ('<div style="display: none"><a href="{{ unsubscribe_url }}">Unsubscribe</a></div>', False),
        ('<a hidden href="{{ unsubscribe_url }}">Unsubscribe</a>', False),
        ('<a style="font-size: 0px; color: #fff" href="{{ unsubscribe_url }}">Unsubscribe</a>', False),
        ('<p style="opacity:0"><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>', False),
        ('<a style="font-size:0.9em" href="{{ unsubscribe_url }}">Unsubscribe</a>', True),
        ('<a href="{{ other_url }}">Unsubscribe</a> {{ unsubscribe_url }}', False),
    ],
)
def test_visible_link_helper(html, visible):
    assert html_has_visible_link(html, variable="unsubscribe_url") is visible


def test_html_to_text_skips_head_and_styles():
    html = "<html><head><title>T</title><style>p{}</style></head><body><p>One &amp; two</p></body></html>"
    assert html_to_text(html) == "One & two"


def test_sms_and_push_templates_render_their_fields(account):
    sms = template_create(
        account=account, channel="sms", name="code", content={"body": "Hi {{ name }}: {{ n | plus: 1 }}"}
    )
    assert template_render(version=_current(sms), variables={"name": "A", "n": 1}).body == "Hi A: 2"
    push = template_create(
        account=account,
        channel="push",
        name="shipped",
        content={"title": "Order {{ id }}", "body": "On its way", "data": {"order": "{{ id }}", "v": 2}},
    )
    rendered = template_render(version=_current(push), variables={"id": 1234})
    assert (rendered.title, rendered.body, rendered.data) == ("Order 1234", "On its way", {"order": "1234", "v": 2})


def test_resolve_by_id_or_name_within_the_account_and_channel(account, other_account):
    template = _email(account)
    assert template_resolve(account=account, ref=str(template.pk), channel="email") == template
    assert template_resolve(account=account, ref="welcome", channel="email") == template
    from emails.templating import TemplateNotFound

    for acct, ref, channel in [(other_account, str(template.pk), "email"), (account, "welcome", "sms")]:
        with pytest.raises(TemplateNotFound):
            template_resolve(account=acct, ref=ref, channel=channel)
    assert Template.objects.count() == 1


def test_a_limit_hit_at_render_names_the_field_and_line():
    with pytest.raises(TemplateRenderError) as caught:
        render_text("ok\n{% for i in (1..100000000) %}x{% endfor %}", {}, field="html", html=True)
    assert caught.value.field == "html"
    assert caught.value.problem.line == 2
    assert "10,000 iterations" in caught.value.problem.message
