"""provision_inbound creates or repairs a domain's SES receipt rule set and rule (moto) and prints the MX record."""

from io import StringIO

import boto3
import pytest
from django.core.management import CommandError, call_command
from moto import mock_aws

from accounts import aws as account_aws
from emails.models import InboundDomain
from tests.accounts.factories import connection_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def ses(settings):
    settings.SESAME_AWS_MODE = "aws"
    account_aws.forget_all()
    with mock_aws():
        yield boto3.client("ses", region_name="us-east-1")
    account_aws.forget_all()


@pytest.fixture
def topic_connection(account, ses):
    topic = boto3.client("sns", region_name="us-east-1").create_topic(Name="sesame-events-x")["TopicArn"]
    connection = connection_for(account)
    connection.sns_topic_arn = topic
    connection.save(update_fields=["sns_topic_arn"])
    return connection


def _provision(account, domain, **options) -> str:
    out = StringIO()
    call_command("provision_inbound", str(account.pk), domain, stdout=out, **options)
    return out.getvalue()


def test_first_run_creates_an_active_rule_set_and_an_sns_rule_and_prints_the_mx(account, ses, topic_connection):
    output = _provision(account, "Support.Acme.test")
    assert "[created] Receipt rule set: sesame-inbound is the active rule set" in output
    assert "[created] Receipt rule" in output
    assert "[ok] MX record: publish support.acme.test  MX  10 inbound-smtp.us-east-1.amazonaws.com" in output
    assert ses.describe_active_receipt_rule_set()["Metadata"]["Name"] == "sesame-inbound"
    inbound = InboundDomain.objects.get()
    rule = ses.describe_receipt_rule(RuleSetName="sesame-inbound", RuleName=inbound.rule_name)["Rule"]
    assert rule["Recipients"] == ["support.acme.test"] and rule["Enabled"] and rule["ScanEnabled"]
    assert rule["Actions"] == [{"SNSAction": {"TopicArn": topic_connection.sns_topic_arn, "Encoding": "UTF-8"}}]
    assert inbound.provisioned_at is not None and inbound.account_id == account.pk

    again = _provision(account, "support.acme.test")
    assert "[ok] Receipt rule set: using the active rule set sesame-inbound" in again
    assert "[ok] Receipt rule:" in again
    assert InboundDomain.objects.count() == 1


def test_a_bucket_makes_an_s3_rule_and_the_customers_active_rule_set_is_kept(account, ses, topic_connection):
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="acme-inbound")
    ses.create_receipt_rule_set(RuleSetName="acme-rules")
    ses.set_active_receipt_rule_set(RuleSetName="acme-rules")
    _provision(account, "acme.test")  # SNS first, then switched to S3: the rule is repaired in place
    output = _provision(account, "acme.test", bucket="acme-inbound")
    assert "[ok] Receipt rule set: using the active rule set acme-rules" in output
    assert "[repaired] Receipt rule" in output and "S3 bucket acme-inbound" in output
    inbound = InboundDomain.objects.get()
    [action] = ses.describe_receipt_rule(RuleSetName="acme-rules", RuleName=inbound.rule_name)["Rule"]["Actions"]
    assert action["S3Action"]["BucketName"] == "acme-inbound"
    assert action["S3Action"]["TopicArn"] == topic_connection.sns_topic_arn
    assert action["S3Action"]["ObjectKeyPrefix"] == f"sesame-inbound/{topic_connection.pk}/"
    assert ses.describe_active_receipt_rule_set()["Metadata"]["Name"] == "acme-rules"


def test_without_a_topic_it_fails_naming_the_command_to_run_first(account, ses):
    connection_for(account)
    with pytest.raises(CommandError):
        _provision(account, "acme.test")
    inbound = InboundDomain.objects.get()
    assert inbound.provisioned_at is None
    assert inbound.last_report[0] == [
        "SNS topic",
        "failed",
        "the connection has no SNS topic yet: run `manage.py provision_connection` first",
    ]


def test_a_missing_bucket_is_a_failed_step_with_awss_reason(account, ses, topic_connection):
    with pytest.raises(CommandError):
        _provision(account, "acme.test", bucket="no-such-bucket")
    assert "Could not write to bucket: no-such-bucket" in str(InboundDomain.objects.get().last_report)


def test_simulator_mode_creates_nothing_in_aws_and_still_prints_the_mx(account):
    connection_for(account)
    output = _provision(account, "acme.test", acknowledgement="Thanks!")
    assert "[ok] Simulator" in output and "acme.test  MX  10 inbound-smtp.us-east-1.amazonaws.com" in output
    assert InboundDomain.objects.get().acknowledgement_text == "Thanks!"


def test_an_unknown_account_is_an_error(db):
    with pytest.raises(CommandError, match="No account with id 'nope'"):
        call_command("provision_inbound", "nope", "acme.test")
