"""The README's path for a new account, in simulator mode: `create_account`, `add_identity`, send. No other step."""

import io
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account, AwsConnection
from config.onboarding import SIMULATOR_ROLE_ARN
from emails.models import Email, Identity, SimulatedMessage
from tests.accounts.factories import default_plan
from tests.emails.factories import email_body
from tests.waiting import wait_for

SENT_OR_DELIVERED = {Email.Status.SENT, Email.Status.DELIVERED}


@pytest.fixture
def simulator(settings: Any) -> Any:
    settings.SESAME_AWS_MODE = "simulator"
    return settings


def _create_account(name: str, *args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("create_account", name, *args, stdout=out)
    printed: dict[str, Any] = json.loads(out.getvalue())
    return printed


def _add_identity(account_id: str, identity: str) -> str:
    out = io.StringIO()
    call_command("add_identity", account_id, identity, stdout=out)
    return out.getvalue()


def _admin_form(admin_client: Any, url: str, **fields: Any) -> dict[str, Any]:
    """The account form's fields plus the management forms of its inlines (members, tokens, connections)."""
    page = admin_client.get(url)
    assert page.status_code == 200
    data = dict(fields)
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(name): value for name, value in management.initial.items()})
    return data


@pytest.mark.django_db
def test_created_account_gets_a_default_simulator_connection_at_the_simulator_rate(simulator):
    simulator.SESAME_SIMULATOR_SEND_RATE = 3.0
    printed = _create_account("Acme")
    assert printed["aws_connection"] == "default"
    connection = AwsConnection.objects.get(account_id=printed["account_id"])
    assert connection.identifier == "default" and connection.is_default and connection.is_active
    assert (connection.role_arn, connection.region) == (SIMULATOR_ROLE_ARN, simulator.SESAME_DEFAULT_AWS_REGION)
    assert connection.max_send_rate == 3.0 and connection.send_quota_refreshed_at is not None


@pytest.mark.django_db
def test_add_identity_works_on_a_new_account_with_no_other_step(simulator):
    printed = _create_account("Acme")
    output = _add_identity(printed["account_id"], "acme.test")
    assert output.startswith("acme.test (domain) on default: verified")
    identity = Identity.objects.get(account_id=printed["account_id"], name="acme.test")
    assert identity.status == Identity.Status.VERIFIED and identity.connection.identifier == "default"


@pytest.mark.django_db
def test_aws_mode_new_account_has_no_connection_until_one_is_added(settings):
    settings.SESAME_AWS_MODE = "aws"
    printed = _create_account("Acme")
    assert set(printed) == {"account_id", "token", "aws_connection"} and printed["aws_connection"] is None
    assert not AwsConnection.objects.filter(account_id=printed["account_id"]).exists()
    with pytest.raises(CommandError, match=r"has no AWS connection \(default\)"):
        _add_identity(printed["account_id"], "acme.test")


@pytest.mark.django_db
def test_account_added_in_the_admin_gets_the_default_simulator_connection(simulator, admin_client):
    simulator.SESAME_SIMULATOR_SEND_RATE = 5.0
    data = _admin_form(
        admin_client,
        "/admin/accounts/account/add/",
        name="Admin Co",
        status="active",
        owner_email="ops@admin.test",
        plan=default_plan("paid").pk,
    )

    response = admin_client.post("/admin/accounts/account/add/", data, follow=True)

    assert response.status_code == 200
    account = Account.objects.get(name="Admin Co")
    connection = AwsConnection.objects.get(account=account)
    assert (connection.identifier, connection.is_default, connection.role_arn) == ("default", True, SIMULATOR_ROLE_ARN)
    assert connection.max_send_rate == 5.0
    notices = [str(message) for message in response.context["messages"]]
    assert "Admin Co sends through the local simulator as 'default', at 5 recipients per second." in notices
    assert "verified" in _add_identity(str(account.pk), "admin.test")


@pytest.mark.django_db
def test_editing_an_account_in_the_admin_adds_no_connection(simulator, admin_client, account):
    url = f"/admin/accounts/account/{account.pk}/change/"
    data = _admin_form(
        admin_client, url, name="Renamed", status="active", owner_email=account.owner_email, plan=account.plan_id
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302
    assert Account.objects.get(pk=account.pk).name == "Renamed"
    assert not AwsConnection.objects.filter(account=account).exists()


@pytest.mark.workers
@pytest.mark.django_db(transaction=True)
def test_readme_path_create_account_add_identity_and_send(simulator, api, celery_worker, celery_beat):
    default_plan("free")  # transactional tests flush the plans the migration seeded
    printed = _create_account("Acme")
    _add_identity(printed["account_id"], "acme.test")
    client = api(token=printed["token"])

    response = client.post(
        "/v1/emails", email_body(**{"from": "Acme <hello@acme.test>", "to": "jon@example.net"}), format="json"
    )

    assert response.status_code == 200, response.json()  # Pendable's contract: 200 with the id, status queued
    email_id = response.json()["id"]

    # Poll the row, not the API: the free plan's 60 calls a minute would run out.
    def email_status() -> str:
        return Email.objects.get(pk=email_id).status

    assert wait_for(lambda: email_status() in SENT_OR_DELIVERED, timeout=20), email_status()
    assert client.get(f"/v1/emails/{email_id}").json()["status"] in SENT_OR_DELIVERED
    sent = SimulatedMessage.objects.get(email_id=email_id)
    assert str(sent.connection.account_id) == printed["account_id"]
    assert sent.connection.identifier == "default" and sent.destinations == ["jon@example.net"]


@pytest.mark.workers
@pytest.mark.django_db(transaction=True)
def test_two_new_accounts_send_through_their_own_connections(simulator, api, celery_worker, celery_beat):
    default_plan("free")
    first, second = _create_account("Acme"), _create_account("Beta")
    _add_identity(first["account_id"], "acme.test")
    _add_identity(second["account_id"], "beta.test")
    acme, beta = api(token=first["token"]), api(token=second["token"])

    acme_email = acme.post("/v1/emails", email_body(**{"from": "hello@acme.test"}), format="json").json()["id"]
    beta_email = beta.post("/v1/emails", email_body(**{"from": "hello@beta.test"}), format="json").json()["id"]
    # Beta may not send from Acme's verified domain, nor see Acme's email.
    borrowed = beta.post("/v1/emails", email_body(**{"from": "hello@acme.test"}), format="json")
    assert borrowed.status_code == 422, borrowed.json()
    assert beta.get(f"/v1/emails/{acme_email}").status_code == 404
    assert acme.get(f"/v1/emails/{beta_email}").status_code == 404

    assert wait_for(
        lambda: (
            SimulatedMessage.objects.filter(email_id__in=[acme_email, beta_email]).count() == 2
            and set(Email.objects.filter(pk__in=[acme_email, beta_email]).values_list("status", flat=True))
            <= SENT_OR_DELIVERED
        ),
        timeout=20,
    ), list(Email.objects.filter(pk__in=[acme_email, beta_email]).values_list("status", flat=True))
    connections = {
        str(sent.email_id): (str(sent.connection.account_id), sent.connection.identifier)
        for sent in SimulatedMessage.objects.select_related("connection")
    }
    assert connections == {acme_email: (first["account_id"], "default"), beta_email: (second["account_id"], "default")}


@pytest.mark.django_db
def test_account_added_in_the_admin_in_aws_mode_is_told_to_add_a_connection(settings, admin_client):
    settings.SESAME_AWS_MODE = "aws"
    url = "/admin/accounts/account/add/"
    data = _admin_form(admin_client, url, name="Real Co", status="active", owner_email="", plan=default_plan("paid").pk)

    response = admin_client.post(url, data, follow=True)

    assert response.status_code == 200
    assert not AwsConnection.objects.filter(account__name="Real Co").exists()
    notices = [str(message) for message in response.context["messages"]]
    assert "Real Co has no AWS connection yet: add one (AWS connections) before it can send." in notices


@pytest.mark.django_db
def test_demo_account_gets_the_same_simulator_connection_and_keeps_it_across_restarts(simulator, tmp_path):
    from config.demo import DEMO_SENDER_DOMAIN, demo_ensure

    simulator.VAR_DIR = tmp_path
    credentials = demo_ensure()
    demo_ensure()  # `up` again: the saved login and token are reused

    connection = AwsConnection.objects.get(account_id=credentials.account_id)
    assert (connection.identifier, connection.role_arn, connection.is_default) == ("default", SIMULATOR_ROLE_ARN, True)
    assert connection.max_send_rate == simulator.SESAME_SIMULATOR_SEND_RATE
    identity = Identity.objects.get(connection=connection)
    assert (identity.name, identity.status) == (DEMO_SENDER_DOMAIN, Identity.Status.VERIFIED)
