"""provision_connection creates or repairs the event plumbing in the customer's AWS account (moto)."""

from io import StringIO
from unittest import mock

import boto3
import pytest
from django.core.management import CommandError, call_command
from moto import mock_aws

from accounts.models import AwsConnection
from tests.accounts.factories import connection_for

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://sesame.example.com"


@pytest.fixture
def aws(settings):
    settings.SESAME_PUBLIC_URL = PUBLIC_URL
    settings.SESAME_AWS_MODE = "aws"
    with mock_aws():
        yield {
            "ses": boto3.client("ses", region_name="us-east-1"),
            "sns": boto3.client("sns", region_name="us-east-1"),
            "cloudwatch": boto3.client("cloudwatch", region_name="us-east-1"),
        }


def _provision(identifier: str = "default", **options) -> str:
    out = StringIO()
    call_command("provision_connection", identifier, stdout=out, **options)
    return out.getvalue()


def test_first_run_creates_everything_and_the_second_changes_nothing(account, aws):
    connection = connection_for(account)
    output = _provision()
    connection.refresh_from_db()
    assert connection.provisioned_at is not None and connection.sns_topic_arn.startswith("arn:aws:sns:us-east-1:")
    assert "[created] Configuration set" in output and "[created] SNS topic" in output
    assert "[created] Event destination" in output and "[created] Webhook subscription" in output
    assert "[created] Alarm Reputation.BounceRate" in output and "[created] Alarm Reputation.ComplaintRate" in output

    destination = aws["ses"].describe_configuration_set(
        ConfigurationSetName=connection.configuration_set, ConfigurationSetAttributeNames=["eventDestinations"]
    )["EventDestinations"][0]
    assert destination["SNSDestination"]["TopicARN"] == connection.sns_topic_arn
    assert {"open", "click", "bounce", "complaint", "delivery"} <= set(destination["MatchingEventTypes"])
    [subscription] = aws["sns"].list_subscriptions_by_topic(TopicArn=connection.sns_topic_arn)["Subscriptions"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == (
        "https",
        f"{PUBLIC_URL}/webhooks/sns/{connection.pk}",
    )
    alarms = {a["MetricName"]: a for a in aws["cloudwatch"].describe_alarms()["MetricAlarms"]}
    assert alarms["Reputation.BounceRate"]["Threshold"] == 0.05
    assert alarms["Reputation.ComplaintRate"]["Threshold"] == 0.001
    assert all(a["AlarmActions"] == [connection.sns_topic_arn] for a in alarms.values())

    again = _provision()
    assert "[created]" not in again and "[failed]" not in again
    assert len(aws["sns"].list_subscriptions_by_topic(TopicArn=connection.sns_topic_arn)["Subscriptions"]) == 1


def test_repairs_what_was_removed(account, aws):
    connection = connection_for(account)
    _provision()
    connection.refresh_from_db()
    aws["cloudwatch"].delete_alarms(AlarmNames=[f"sesame-{str(connection.pk)[:8]}-complaint-rate"])
    for sub in aws["sns"].list_subscriptions_by_topic(TopicArn=connection.sns_topic_arn)["Subscriptions"]:
        aws["sns"].unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    output = _provision()
    assert "[created] Webhook subscription" in output and "[created] Alarm Reputation.ComplaintRate" in output
    assert "[ok] Alarm Reputation.BounceRate" in output


def test_a_disabled_event_destination_is_repaired_through_the_update_call(account, aws):
    connection = connection_for(account)
    _provision()
    connection.refresh_from_db()
    stale = {
        "Name": f"sesame-sns-{str(connection.pk)[:8]}",
        "Enabled": False,
        "MatchingEventTypes": ["send"],
        "SNSDestination": {"TopicARN": connection.sns_topic_arn},
    }
    # moto has no UpdateConfigurationSetEventDestination: fake that one call at the module that wraps SES.
    with (
        mock.patch("events.aws.event_destinations", return_value=[stale]),
        mock.patch("events.aws.event_destination_update") as update,
    ):
        output = _provision()
    assert "[repaired] Event destination" in output
    assert update.call_args.args[2]["Enabled"] is True


def test_custom_tracking_domain_is_set_on_the_configuration_set(account, aws, settings):
    settings.SESAME_TRACKING_REDIRECT_DOMAIN = "track.acme.test"
    connection_for(account)
    with mock.patch("events.aws.tracking_domain_put") as put:  # moto lacks the tracking-options calls
        output = _provision()
    assert "links use track.acme.test" in output and put.call_args.args[2] == "track.acme.test"


def test_failures_are_shown_and_the_command_fails(account, aws):
    connection_for(account)
    from events.aws import AwsError

    with mock.patch(
        "events.aws.topic_create", side_effect=AwsError("AuthorizationError", "not allowed: sns:CreateTopic")
    ):
        out = StringIO()
        with pytest.raises(CommandError, match="Some steps failed"):
            call_command("provision_connection", "default", stdout=out)
    assert "[failed] SNS topic: AuthorizationError: not allowed: sns:CreateTopic" in out.getvalue()
    assert AwsConnection.objects.get().provisioned_at is None


def test_ambiguous_identifier_asks_for_the_account(account, other_account, aws):
    connection_for(account)
    connection_for(other_account)
    with pytest.raises(CommandError, match="--account"):
        _provision()
    assert "Done." in _provision(account=str(other_account.pk))
    with pytest.raises(CommandError, match="No AWS connection named 'nope'"):
        _provision("nope")


def test_admin_action_provisions_and_reports(admin_client, account, aws):
    connection = connection_for(account)
    response = admin_client.post(
        "/admin/accounts/awsconnection/",
        {"action": "provision", "_selected_action": [str(connection.pk)]},
        follow=True,
    )
    content = response.content.decode()
    assert "[created] Configuration set" in content and "[created] Webhook subscription" in content
    connection.refresh_from_db()
    assert connection.provisioned_at is not None
