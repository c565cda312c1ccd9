"""`provision_connection` in simulator mode (the embedded default): nothing to build in AWS, and it says so."""

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import AwsConnection
from tests.accounts.factories import connection_for

pytestmark = pytest.mark.django_db


def test_provisioning_a_simulator_connection_succeeds_without_touching_aws(account, settings):
    settings.SESAME_AWS_MODE = "simulator"
    connection = connection_for(account)
    out = StringIO()
    call_command("provision_connection", "default", stdout=out)
    assert "[ok] Simulator: the local simulator delivers SES events directly" in out.getvalue()
    connection = AwsConnection.objects.get(pk=connection.pk)
    assert connection.provisioned_at is not None
    assert connection.configuration_set_name == connection.configuration_set
