"""What SNS receives for one push, per platform (`MessageStructure=json`). Pure functions: no database, no AWS.

- GCM (FCM HTTP v1) carries an `fcmV1Message` whose `message` has the notification, string-valued `data` and the
  Android options;
- APNS and APNS_SANDBOX carry `aps` (alert, badge, sound) with `data`'s keys beside it, as APNs custom keys;
- the time to live, the APNs collapse id, priority and push type travel as SNS `AWS.SNS.MOBILE.*` message
  attributes, which SNS turns into the platform's own headers or fields.
"""

import json
import re
from dataclasses import dataclass
from typing import Any

# What APNs and FCM accept for one notification's payload.
MAX_PAYLOAD_BYTES = 4096
# Keys FCM keeps for itself in `data`, and APNs's own dictionary.
_FCM_RESERVED = re.compile(r"^(from|notification|message_type|google.*|gcm.*)$")

_TTL_ATTRIBUTE = {
    "APNS": "AWS.SNS.MOBILE.APNS.TTL",
    "APNS_SANDBOX": "AWS.SNS.MOBILE.APNS_SANDBOX.TTL",
    "GCM": "AWS.SNS.MOBILE.FCM.TTL",
}


@dataclass(frozen=True)
class PushContent:
    title: str
    body: str
    data: dict[str, Any]
    badge: int | None
    sound: str
    ttl_seconds: int | None
    collapse_key: str
    urgency: str  # high | normal


def _data_as_strings(data: dict[str, Any]) -> dict[str, str]:
    """FCM's data values must be strings: text goes as it is, anything else as its JSON."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in data.items()}


def fcm_payload(content: PushContent) -> dict[str, Any]:
    notification: dict[str, Any] = {"body": content.body}
    if content.title:
        notification["title"] = content.title
    android: dict[str, Any] = {"priority": "HIGH" if content.urgency == "high" else "NORMAL"}
    if content.collapse_key:
        android["collapse_key"] = content.collapse_key
    android_notification: dict[str, Any] = {}
    if content.sound:
        android_notification["sound"] = content.sound
    if content.badge is not None:
        android_notification["notification_count"] = content.badge
    if android_notification:
        android["notification"] = android_notification
    message: dict[str, Any] = {"notification": notification, "android": android}
    if content.data:
        message["data"] = _data_as_strings(content.data)
    return {"fcmV1Message": {"message": message}}


def apns_payload(content: PushContent) -> dict[str, Any]:
    alert: dict[str, Any] = {"body": content.body}
    if content.title:
        alert["title"] = content.title
    aps: dict[str, Any] = {"alert": alert}
    if content.badge is not None:
        aps["badge"] = content.badge
    if content.sound:
        aps["sound"] = content.sound
    return {"aps": aps, **content.data}


def platform_payload(platform: str, content: PushContent) -> dict[str, Any]:
    return fcm_payload(content) if platform == "GCM" else apns_payload(content)


def sns_message(platform: str, content: PushContent) -> str:
    """The SNS Message document: `default` for any other protocol, and the platform's own payload as a string."""
    payload = json.dumps(platform_payload(platform, content), ensure_ascii=False, separators=(",", ":"))
    return json.dumps({"default": content.body, platform: payload}, ensure_ascii=False)


def sns_attributes(platform: str, content: PushContent) -> dict[str, str]:
    attributes: dict[str, str] = {}
    if content.ttl_seconds is not None:
        attributes[_TTL_ATTRIBUTE[platform]] = str(content.ttl_seconds)
    if platform != "GCM":
        attributes["AWS.SNS.MOBILE.APNS.PUSH_TYPE"] = "alert"
        attributes["AWS.SNS.MOBILE.APNS.PRIORITY"] = "10" if content.urgency == "high" else "5"
        if content.collapse_key:
            attributes["AWS.SNS.MOBILE.APNS.COLLAPSE_ID"] = content.collapse_key
    return attributes


def payload_size(platform: str, content: PushContent) -> int:
    return len(json.dumps(platform_payload(platform, content), ensure_ascii=False, separators=(",", ":")).encode())


def reserved_data_keys(data: dict[str, Any]) -> list[str]:
    """Keys of `data` that APNs or FCM keep for themselves."""
    return sorted(key for key in data if key == "aps" or _FCM_RESERVED.match(key))


def size_problem(content: PushContent) -> str | None:
    """Why this content is too big for APNs or FCM, or None."""
    for platform in ("APNS", "GCM"):
        size = payload_size(platform, content)
        if size > MAX_PAYLOAD_BYTES:
            return (
                f"the {platform} payload would be {size} bytes; APNs and FCM take at most {MAX_PAYLOAD_BYTES}: "
                "shorten the body or the data"
            )
    return None
