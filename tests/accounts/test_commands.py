import io
import json

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account

pytestmark = pytest.mark.django_db


def test_create_account_prints_account_and_working_token(api):
    out = io.StringIO()
    call_command("create_account", "Acme Ltd", "--plan", "paid", "--owner", "ops@acme.test", stdout=out)
    printed = json.loads(out.getvalue())
    assert set(printed) == {"account_id", "token", "aws_connection"}
    account = Account.objects.get(pk=printed["account_id"])
    assert (account.name, account.plan.slug, account.owner_email) == ("Acme Ltd", "paid", "ops@acme.test")
    response = api(token=printed["token"]).get("/v1/account")
    assert response.status_code == 200
    assert response["x-ratelimit-limit"] == "1800"


def test_create_account_with_unknown_plan_names_the_known_ones():
    with pytest.raises(CommandError, match="Unknown plan 'gold'; known plans: free, starter, paid, scale, enterprise"):
        call_command("create_account", "Acme", "--plan", "gold")
    assert not Account.objects.filter(name="Acme").exists()
