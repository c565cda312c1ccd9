"""The operator console's template pages: list, versions inline (read-only), archive action, preview page."""

import pytest

from contacts.models import Contact
from emails.templating import Template, template_create, template_update

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


@pytest.fixture
def template(account):
    template = template_create(
        account=account,
        channel="email",
        name="order-shipped",
        content={"subject": "Order {{ order_id }}", "html": "<p>Hi {{ first_name }}<script>alert(1)</script></p>"},
    )
    return template_update(template=template, content={"subject": "Shipped: {{ order_id }}"})


@pytest.mark.parametrize("query", ["", "?channel__exact=email", "?state=live", "?q=order-shipped"])
def test_changelist_lists_templates_with_their_version_count(admin_client, template, query):
    page = admin_client.get(f"/admin/emails/template/{query}").content.decode()
    assert "order-shipped" in page
    assert '<td class="field-version_count">2</td>' in page
    assert "order-shipped" not in admin_client.get("/admin/emails/template/?state=archived").content.decode()


def test_change_page_shows_every_version_read_only(admin_client, template):
    page = admin_client.get(f"/admin/emails/template/{template.pk}/change/").content.decode()
    assert "Shipped: {{ order_id }}" in page and "Order {{ order_id }}" in page
    assert 'name="_save"' not in page  # view only: templates change through the API, which keeps versions


def test_archive_action_archives_through_the_service(admin_client, template):
    response = admin_client.post(
        "/admin/emails/template/", {"action": "archive", "_selected_action": [str(template.pk)]}, follow=True
    )
    assert "1 template(s) archived." in response.content.decode()
    template.refresh_from_db()
    assert template.archived_at is not None


def test_preview_page_renders_for_a_contact_and_lists_missing_variables(admin_client, account, template):
    Contact.objects.create(account=account, email="ada@example.net", full_name="Ada Lovelace")
    url = f"/admin/emails/template/{template.pk}/preview/"
    page = admin_client.get(url, {"contact": "ada@example.net"}).content.decode()
    assert "Missing variables: <b>order_id</b>" in page
    page = admin_client.get(url, {"contact": "ada@example.net", "variables": '{"order_id": 7}'}).content.decode()
    assert "Missing variables: none" in page
    assert '<pre class="rendered-subject">Shipped: 7</pre>' in page
    assert '<iframe id="rendered-html" sandbox=""' in page
    assert "<script>alert(1)</script>" not in page  # the HTML is only inside the escaped srcdoc
    assert "&lt;p&gt;Hi Ada" in page
    old = admin_client.get(url, {"version": "1", "variables": '{"order_id": 7}'}).content.decode()
    assert '<pre class="rendered-subject">Order 7</pre>' in old
    bad = admin_client.get(url, {"variables": "{nope"}).content.decode()
    assert "variables: not JSON" in bad
    unknown = admin_client.get(url, {"contact": "nobody@example.net"}).content.decode()
    assert "contact: no such contact in your account" in unknown
    assert Template.objects.get().archived_at is None  # a preview changes nothing
