"""Push apps and device registration over SNS (moto), following AWS's documented endpoint flow."""

import pytest
from django.db import connection as db

from contacts.models import Contact, ContactEvent
from push.models import PushApp, PushDevice
from tests.push.factories import (
    APNS_TOKEN,
    FCM_TOKEN,
    P8_KEY,
    SERVICE_ACCOUNT,
    apns_app_body,
    create_app,
    fcm_app_body,
    register,
)

pytestmark = pytest.mark.django_db


def test_apns_app_is_created_in_sns_with_the_key_encrypted_and_never_shown(api, account, connection, sns, moto_sns):
    app = create_app(api, account, apns_app_body())

    assert app["platform"] == "APNS"
    assert app["credentials"] == {"key_id": "ABC123DEFG", "team_id": "DEF123GHIJ", "bundle_id": "com.acme.app"}
    assert "SECRETSECRET" not in str(app)
    created = moto_sns.applications[app["platform_application_arn"]]
    assert created.platform == "APNS"
    assert created.attributes["PlatformCredential"] == P8_KEY
    assert created.attributes["PlatformPrincipal"] == "ABC123DEFG"
    assert created.attributes["ApplePlatformBundleID"] == "com.acme.app"
    with db.cursor() as cursor:
        cursor.execute("SELECT credentials FROM push_pushapp WHERE id = %s", [app["id"]])
        stored = cursor.fetchone()[0]
    assert "SECRETSECRET" not in stored and "PRIVATE KEY" not in stored
    assert PushApp.objects.get(pk=app["id"]).credentials == P8_KEY
    listed = api(account).get("/v1/push/apps").json()["results"]
    assert "SECRETSECRET" not in str(listed)


def test_fcm_app_sends_the_service_account_and_routes_events_to_the_connection_topic(
    api, account, connection, sns, moto_sns
):
    connection.sns_topic_arn = "arn:aws:sns:us-east-1:123456789012:sesame-events"
    connection.save(update_fields=["sns_topic_arn"])
    app = create_app(api, account, fcm_app_body())

    attributes = moto_sns.applications[app["platform_application_arn"]].attributes
    assert attributes["PlatformCredential"] and '"project_id": "acme-app"' in attributes["PlatformCredential"]
    assert attributes["EventDeliveryFailure"] == connection.sns_topic_arn
    assert attributes["EventEndpointUpdated"] == connection.sns_topic_arn
    assert attributes["EventEndpointDeleted"] == connection.sns_topic_arn
    assert app["credentials"] == {"project_id": "acme-app", "client_email": SERVICE_ACCOUNT["client_email"]}


def test_an_existing_platform_application_is_adopted_by_arn(api, account, connection, sns):
    arn = sns.create_platform_application(Name="legacy", Platform="GCM", Attributes={})["PlatformApplicationArn"]
    app = create_app(api, account, {"name": "Legacy", "platform_application_arn": arn})
    assert app["platform"] == "GCM" and app["credential_kind"] == "adopted"

    missing = api(account).post(
        "/v1/push/apps",
        {"name": "Gone", "platform_application_arn": arn.replace("legacy", "nope")},
        format="json",
    )
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "platform_application_arn"]


def test_bad_app_bodies_say_what_to_fix(api, account, connection):
    both = api(account).post(
        "/v1/push/apps", {**apns_app_body(), "fcm": {"service_account": SERVICE_ACCOUNT}}, format="json"
    )
    assert both.status_code == 422
    bad_key = api(account).post(
        "/v1/push/apps", apns_app_body(apns={**apns_app_body()["apns"], "key_p8": "nope", "key_id": "x"}), format="json"
    )
    locs = {tuple(entry["loc"]) for entry in bad_key.json()["detail"]}
    assert {("body", "apns", "key_p8"), ("body", "apns", "key_id")} <= locs


def test_registering_the_same_token_again_is_idempotent(api, account, connection, sns, moto_sns):
    app = create_app(api, account, apns_app_body())
    first = register(api, account, app["id"], APNS_TOKEN, contact="ada@example.com", locale="en-GB")
    again = register(api, account, app["id"], APNS_TOKEN)

    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["token_prefix"] == APNS_TOKEN[:8]
    assert APNS_TOKEN not in first.content.decode() and "token_hash" not in first.json()
    assert len(moto_sns.platform_endpoints) == 1
    contact = Contact.objects.get(account=account, email="ada@example.com")
    assert first.json()["contact"] == contact.pk
    assert ContactEvent.objects.filter(contact_id=contact.pk, name="push_device_registered").count() == 1
    device = PushDevice.objects.get(pk=first.json()["id"])
    assert APNS_TOKEN not in str(device.__dict__.values())


def test_a_changed_token_updates_the_endpoint(api, account, connection, sns, moto_sns):
    app = create_app(api, account, fcm_app_body())
    device = register(api, account, app["id"], FCM_TOKEN).json()
    new_token = FCM_TOKEN + "-rotated"

    answer = register(api, account, app["id"], new_token, device_id=device["id"])

    assert answer.status_code == 200 and answer.json()["id"] == device["id"]
    assert answer.json()["token_prefix"] == new_token[:8]
    endpoint_arn = PushDevice.objects.get(pk=device["id"]).endpoint_arn
    assert sns.get_endpoint_attributes(EndpointArn=endpoint_arn)["Attributes"]["Token"] == new_token
    assert len(moto_sns.platform_endpoints) == 1
    timeline = [entry["type"] for entry in api(account).get(f"/v1/push/devices/{device['id']}").json()["timeline"]]
    assert timeline == ["registered", "token_changed"]


def test_a_disabled_endpoint_is_re_enabled_on_registration(api, account, connection, sns, moto_sns):
    app = create_app(api, account, apns_app_body())
    device = register(api, account, app["id"], APNS_TOKEN).json()
    arn = PushDevice.objects.get(pk=device["id"]).endpoint_arn
    sns.set_endpoint_attributes(EndpointArn=arn, Attributes={"Enabled": "false"})  # as SNS does for a dead token
    PushDevice.objects.filter(pk=device["id"]).update(enabled=False, disabled_reason="EndpointDisabled")

    answer = register(api, account, app["id"], APNS_TOKEN)

    assert answer.json()["enabled"] is True and answer.json()["disabled_reason"] == ""
    assert sns.get_endpoint_attributes(EndpointArn=arn)["Attributes"]["Enabled"] == "true"


def test_a_deleted_endpoint_is_created_anew_on_registration(api, account, connection, sns, moto_sns):
    app = create_app(api, account, apns_app_body())
    device = register(api, account, app["id"], APNS_TOKEN).json()
    old_arn = PushDevice.objects.get(pk=device["id"]).endpoint_arn
    sns.delete_endpoint(EndpointArn=old_arn)

    register(api, account, app["id"], APNS_TOKEN)

    new_arn = PushDevice.objects.get(pk=device["id"]).endpoint_arn
    assert new_arn != old_arn and new_arn in moto_sns.platform_endpoints


def test_devices_are_listed_filtered_and_deleted_with_their_endpoint(
    api, account, other_account, connection, sns, moto_sns
):
    ios = create_app(api, account, apns_app_body())
    android = create_app(api, account, fcm_app_body())
    one = register(api, account, ios["id"], APNS_TOKEN).json()
    register(api, account, android["id"], FCM_TOKEN)

    only_ios = api(account).get("/v1/push/devices?platform=APNS").json()["results"]
    assert [d["id"] for d in only_ios] == [one["id"]]
    assert api(other_account).get(f"/v1/push/devices/{one['id']}").status_code == 404
    assert api(other_account).delete(f"/v1/push/devices/{one['id']}").status_code == 404

    assert api(account).delete(f"/v1/push/devices/{one['id']}").status_code == 204
    assert not PushDevice.objects.filter(pk=one["id"]).exists()
    assert len(moto_sns.platform_endpoints) == 1


def test_registration_names_an_unknown_app_or_contact(api, account, other_account, connection, sns):
    app = create_app(api, account, apns_app_body())
    foreign = api(other_account).post("/v1/push/devices", {"app": app["id"], "token": APNS_TOKEN}, format="json")
    assert foreign.status_code == 422 and foreign.json()["detail"][0]["loc"] == ["body", "app"]
    no_contact = register(api, account, app["id"], APNS_TOKEN, contact=999999)
    assert no_contact.status_code == 422 and no_contact.json()["detail"][0]["loc"] == ["body", "contact"]
    bad_mobile = register(api, account, app["id"], APNS_TOKEN, contact="+44 20 7183 8750")
    assert bad_mobile.status_code == 422
