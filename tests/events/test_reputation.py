"""Reputation protection throttles or pauses a connection near SES's review levels, and resumes it gradually."""

from datetime import timedelta

import boto3
import pytest
from django.db.models import F
from django.utils import timezone
from moto import mock_aws

from accounts.models import AwsConnection
from emails.models import Email, EmailEvent
from events import tasks
from events.models import ConnectionReputation, ReputationChange
from events.services import reputation
from tests.emails.factories import sending_connection
from tests.events import signing
from tests.events.conftest import TOPIC_ARN, sent_email

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(other_account, settings):
    """The operator's own Sesame account and verified sender, which tells owners about spikes."""
    sending_connection(other_account, domain="sesame.test")
    settings.SESAME_NOTIFY_ACCOUNT_ID = str(other_account.pk)
    settings.SESAME_NOTIFY_FROM = "Sesame alerts <alerts@sesame.test>"
    return other_account


def _traffic(connection, receive, *, sent: int, hard_bounces: int = 0, complaints: int = 0):
    """Recipients sent (SES Send events, written in bulk), then bounces and complaints through the ingestion path,
    as the simulator feeds them."""
    now = timezone.now()
    addresses = [f"user{index}@example.net" for index in range(sent)]
    EmailEvent.objects.bulk_create(
        EmailEvent(
            account_id=connection.account_id,
            connection=connection,
            ses_message_id=f"m-{a}",
            source="ses",
            event_type="send",
            recipient=a,
            occurred_at=now,
        )
        for a in addresses
    )
    for index, address in enumerate(addresses[: hard_bounces + complaints]):
        mail = {"messageId": f"m-{address}", "destination": [address], "timestamp": now.isoformat()}
        if index < hard_bounces:
            bounce = {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [{"emailAddress": address}],
                "timestamp": now.isoformat(),
            }
            receive(connection, {"eventType": "Bounce", "mail": mail, "bounce": bounce})
        else:
            complaint = {"complainedRecipients": [{"emailAddress": address}], "timestamp": now.isoformat()}
            receive(connection, {"eventType": "Complaint", "mail": mail, "complaint": complaint})


def _owner_notices(account):
    return Email.objects.filter(to_address=account.owner_email).order_by("created_at")


def test_bounce_spike_pauses_within_one_tick_keeps_queue_and_resumes_after_recovery(
    account, connection, operator, receive, settings
):
    queued = [sent_email(connection, ses_message_id=None, status="queued") for _ in range(3)]
    _traffic(connection, receive, sent=100, hard_bounces=6)  # 6% hard bounces: SES's review level is 5%

    tasks.reputation_check_all()  # one beat tick

    connection.refresh_from_db()
    state = ConnectionReputation.objects.get(connection=connection)
    assert (state.state, connection.send_rate_factor, connection.effective_send_rate) == ("paused", 0.0, 0.0)
    assert state.bounce_rate == pytest.approx(0.06) and state.sends == 100
    assert Email.objects.filter(pk__in=[e.pk for e in queued], status="queued").count() == 3
    [spike] = _owner_notices(account)
    assert spike.account_id == operator.pk and "paused" in spike.subject and "6.00%" in spike.text_body

    # The spike leaves the window; the connection must then stay healthy for the configured period.
    EmailEvent.objects.update(occurred_at=F("occurred_at") - timedelta(hours=25))
    start = timezone.now()
    reputation.reputation_check(connection_id=connection.pk, now=start)
    connection.refresh_from_db()
    assert connection.send_rate_factor == 0.0  # healthy, but not for long enough yet

    step = timedelta(minutes=settings.SESAME_REPUTATION_RESUME_STEP_MINUTES)
    at = start + timedelta(minutes=settings.SESAME_REPUTATION_HEALTHY_MINUTES)
    factors = []
    for _ in range(4):
        reputation.reputation_check(connection_id=connection.pk, now=at)
        connection.refresh_from_db()
        factors.append(connection.send_rate_factor)
        at += step
    assert factors == [0.25, 0.5, 0.75, 1.0]  # resumes gradually
    assert ConnectionReputation.objects.get(connection=connection).state == "healthy"
    assert Email.objects.filter(pk__in=[e.pk for e in queued], status="queued").count() == 3  # nothing lost
    spike_again, recovery = _owner_notices(account)
    assert spike_again == spike and "resumed" in recovery.subject
    history = list(
        ReputationChange.objects.filter(reputation__connection=connection)
        .order_by("created_at")
        .values_list("to_state", flat=True)
    )
    assert history == ["paused", "recovering", "recovering", "recovering", "healthy"]


def test_warning_level_throttles_to_the_configured_fraction(account, connection, operator, receive, settings):
    settings.SESAME_REPUTATION_THROTTLE_FACTOR = 0.4
    _traffic(connection, receive, sent=100, hard_bounces=4)
    tasks.reputation_check_all()
    connection.refresh_from_db()
    assert connection.send_rate_factor == 0.4
    assert ConnectionReputation.objects.get(connection=connection).state == "throttled"
    assert "throttled" in _owner_notices(account).get().subject


def test_complaints_count_too(connection, operator, receive):
    _traffic(connection, receive, sent=1000, complaints=1)  # 0.1%: review level
    reputation.reputation_check(connection_id=connection.pk)
    connection.refresh_from_db()
    assert connection.send_rate_factor == 0.0


def test_too_few_sends_are_not_judged(connection, receive):
    _traffic(connection, receive, sent=10, hard_bounces=5)
    reputation.reputation_check(connection_id=connection.pk)
    connection.refresh_from_db()
    assert connection.send_rate_factor == 1.0
    assert ConnectionReputation.objects.get(connection=connection).bounce_rate is None


def test_cloudwatch_alarm_on_the_webhook_pauses_at_once_and_ok_clears_it(account, connection, operator, post_sns):
    alarm = {
        "AlarmName": f"sesame-{str(connection.pk)[:8]}-bounce-rate",
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: 1 datapoint [0.062] was >= the threshold (0.05).",
        "Trigger": {"MetricName": "Reputation.BounceRate", "Namespace": "AWS/SES", "Threshold": 0.05},
    }
    response = post_sns(connection, signing.notification(TOPIC_ARN, alarm, subject="ALARM: bounce rate"))
    assert response.status_code == 200
    connection.refresh_from_db()
    assert connection.send_rate_factor == 0.0
    assert "0.062" in _owner_notices(account).get().text_body
    reputation.reputation_check(connection_id=connection.pk)  # rates look fine, but the alarm still holds
    connection.refresh_from_db()
    assert connection.send_rate_factor == 0.0
    post_sns(connection, signing.notification(TOPIC_ARN, {**alarm, "NewStateValue": "OK"}))
    assert ConnectionReputation.objects.get(connection=connection).alarm_active is False


def test_cloudwatch_reputation_metrics_are_read_when_available(connection, settings):
    settings.SESAME_AWS_MODE = "aws"
    AwsConnection.objects.filter(pk=connection.pk).update(provisioned_at=timezone.now())
    with mock_aws():
        boto3.client("cloudwatch", region_name="us-east-1").put_metric_data(
            Namespace="AWS/SES", MetricData=[{"MetricName": "Reputation.BounceRate", "Value": 0.07}]
        )
        checked = reputation.reputation_check(connection_id=connection.pk)
    assert checked.cloudwatch_bounce_rate == pytest.approx(0.07) and checked.state == "paused"


def test_owner_is_told_why_when_notices_are_not_configured(connection, receive, settings):
    settings.SESAME_NOTIFY_ACCOUNT_ID = ""
    _traffic(connection, receive, sent=100, hard_bounces=10)
    reputation.reputation_check(connection_id=connection.pk)
    change = ReputationChange.objects.get()
    assert change.notified_email is None and "SESAME_NOTIFY_ACCOUNT_ID" in change.notify_error


def test_operator_can_resume_by_hand_from_the_admin(admin_client, connection, receive):
    _traffic(connection, receive, sent=100, hard_bounces=10)
    reputation.reputation_check(connection_id=connection.pk)
    response = admin_client.post(
        "/admin/events/connectionreputation/",
        {"action": "resume_now", "_selected_action": [str(connection.pk)]},
        follow=True,
    )
    assert "Resumed 1 connection" in response.content.decode()
    connection.refresh_from_db()
    assert connection.send_rate_factor == 1.0
    reputation.reputation_check(connection_id=connection.pk)  # the old spike no longer counts
    connection.refresh_from_db()
    assert connection.send_rate_factor == 1.0
    page = admin_client.get(f"/admin/events/connectionreputation/{connection.pk}/change/").content.decode()
    assert "Resumed by" in page and "Review level reached" in page
