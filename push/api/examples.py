"""Request and response examples of the push API (OpenAPI)."""

APP_ID = "5b0f6a4e-0a7d-4c1e-9a43-1f2d3c4b5a69"
DEVICE_ID = "c3d2b1a0-9f8e-4d7c-8b6a-5f4e3d2c1b0a"
PUSH_ID = "8f14e45f-ceea-467f-a0e6-1e0f4b2c6d7e"

APNS_APP_REQUEST = {
    "name": "Acme iOS",
    "platform": "APNS",
    "apns": {
        "key_p8": "-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49AgEGCCqGSM49...\n-----END PRIVATE KEY-----",
        "key_id": "ABC123DEFG",
        "team_id": "DEF123GHIJ",
        "bundle_id": "com.acme.app",
    },
}
FCM_APP_REQUEST = {
    "name": "Acme Android",
    "platform": "GCM",
    "fcm": {
        "service_account": {
            "type": "service_account",
            "project_id": "acme-app",
            "private_key": "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n",
            "client_email": "sns@acme-app.iam.gserviceaccount.com",
        }
    },
}
ADOPT_APP_REQUEST = {
    "name": "Legacy Android",
    "platform_application_arn": "arn:aws:sns:us-east-1:123456789012:app/GCM/legacy-android",
}
APP = {
    "id": APP_ID,
    "name": "Acme iOS",
    "platform": "APNS",
    "platform_application_arn": "arn:aws:sns:us-east-1:123456789012:app/APNS/Acme-iOS",
    "config_identifier": "default",
    "credential_kind": "apns_key",
    "credentials": {"key_id": "ABC123DEFG", "team_id": "DEF123GHIJ", "bundle_id": "com.acme.app"},
    "status": "active",
    "paused_reason": "",
    "paused_at": None,
    "created_at": "2026-11-22T10:00:00Z",
}
PAUSED_APP = {
    **APP,
    "status": "paused",
    "paused_reason": "25 of the last 30 pushes failed within 5 minutes: the app's credentials or APNs environment are "
    "likely wrong (an expired or revoked key, a sandbox token sent to production), not every device's token",
    "paused_at": "2026-11-22T11:00:00Z",
}

DEVICE_REQUEST = {
    "app": APP_ID,
    "token": "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad",
    "contact": "ada@example.com",
    "locale": "en-GB",
    "attributes": {"app_version": "4.2.0"},
}
DEVICE = {
    "id": DEVICE_ID,
    "app": APP_ID,
    "platform": "APNS",
    "token_prefix": "740f4707",
    "contact": 1042,
    "enabled": True,
    "disabled_reason": "",
    "disabled_at": None,
    "locale": "en-GB",
    "attributes": {"app_version": "4.2.0"},
    "registered_at": "2026-11-22T10:00:00Z",
    "created_at": "2026-11-22T10:00:00Z",
}
DEVICE_DETAIL = {
    **DEVICE,
    "timeline": [
        {
            "type": "registered",
            "source": "sesame",
            "detail": "endpoint arn:aws:sns:...",
            "occurred_at": "2026-11-22T10:00:00Z",
        }
    ],
}

PUSH_REQUEST = {
    "to": {"contact": "ada@example.com"},
    "title": "Your order shipped",
    "body": "Order 1234 is on its way.",
    "data": {"order": 1234, "screen": "orders"},
    "badge": 1,
    "sound": "default",
    "ttl_seconds": 3600,
    "collapse_key": "order-1234",
    "client_push_id": "ship-1234",
    "tags": ["shipping"],
}
SEGMENT_REQUEST = {"to": {"segment": 3}, "title": "Sale", "body": "20% off this weekend", "priority": 90}
ACCEPTED = {
    "id": PUSH_ID,
    "status": "queued",
    "device_count": 2,
    "send_at": "2026-11-22T10:00:00Z",
    "created_at": "2026-11-22T10:00:00Z",
}
PUSH = {
    "id": PUSH_ID,
    "client_push_id": "ship-1234",
    "to": {"contact": 1042},
    "title": "Your order shipped",
    "body": "Order 1234 is on its way.",
    "data": {"order": 1234, "screen": "orders"},
    "badge": 1,
    "sound": "default",
    "ttl_seconds": 3600,
    "collapse_key": "order-1234",
    "urgency": "high",
    "priority": 50,
    "tags": ["shipping"],
    "status": "queued",
    "device_count": 2,
    "template_version": None,
    "scheduled_for": None,
    "send_at": "2026-11-22T10:00:00Z",
    "created_at": "2026-11-22T10:00:00Z",
}
DELIVERY = {
    "id": "0d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a",
    "device": DEVICE_ID,
    "contact_id": 1042,
    "content": None,
    "status": "sent",
    "attempts": 1,
    "sent_at": "2026-11-22T10:00:01Z",
    "sns_message_id": "6a04fc93-05ad-485b-b7f9-de8ec98da7f8",
    "failure_reason": "",
    "timeline": [
        {"type": "queued", "source": "sesame", "detail": "priority 50", "occurred_at": "2026-11-22T10:00:00Z"},
        {
            "type": "sent",
            "source": "sesame",
            "detail": "SNS message id 6a04fc93-...",
            "occurred_at": "2026-11-22T10:00:01Z",
        },
    ],
}
PUSH_DETAIL = {**PUSH, "outcomes": {"sent": 1, "failed": 1}, "deliveries": [DELIVERY]}
DUPLICATE = {"detail": "A push with client_push_id 'ship-1234' was already accepted.", "id": PUSH_ID}
