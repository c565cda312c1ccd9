"""Example payloads for the OpenAPI document (and the README's curl examples)."""

EMAIL_ID = "0bcb2124-1f54-4c4a-9944-0b546c28be33"

EMAIL_REQUEST = {
    "client_email_id": "your-id-1234",
    "from": "Acme <hello@example.com>",
    "to": "Jon Doe <jon@example.net>",
    "cc": ["ops@example.net"],
    "bcc": ["audit@example.org"],
    "reply_to": "support@example.com",
    "subject": "Your first email from Sesame",
    "html_body": "<p>Html content of your email.</p>",
    "text_body": "Text content of your email.",
    "schedule_send_at": "2030-04-22T22:41:42+00:00",
    "custom_fields": {"internal_id": 123, "project_code": "abc"},
    "tags": ["high-value", "transactional"],
    "priority": 10,
    "config_identifier": "my-default-config",
    "headers": {"List-Unsubscribe": "<mailto:unsubscribe@example.com>"},
    "attachments": [{"filename": "hello.txt", "content_type": "text/plain", "content_base64": "aGVsbG8="}],
}

ACCEPTED = {
    "pendable_id": EMAIL_ID,
    "pendable_received_on": "2026-11-22T04:37:12.120000+00:00",
    "id": EMAIL_ID,
    "status": "scheduled",
    "send_at": "2030-04-22T22:41:42+00:00",
}

MISSING_FIELDS = {
    "detail": [
        {"loc": ["body", "to"], "msg": "field required", "type": "value_error.missing"},
        {"loc": ["body", "subject"], "msg": "field required", "type": "value_error.missing"},
    ]
}

DUPLICATE = {
    "detail": "An email with client_email_id 'your-id-1234' was already accepted.",
    "pendable_id": EMAIL_ID,
    "id": EMAIL_ID,
}

EMAIL_SUMMARY = {
    "id": EMAIL_ID,
    "pendable_id": EMAIL_ID,
    "pendable_received_on": "2026-11-22T04:37:12Z",
    "client_email_id": "your-id-1234",
    "from": "Acme <hello@example.com>",
    "to": "Jon Doe <jon@example.net>",
    "cc": [],
    "bcc": [],
    "reply_to": "",
    "subject": "Your receipt",
    "status": "delivered",
    "priority": 10,
    "tags": ["transactional"],
    "custom_fields": {"internal_id": 123},
    "config_identifier": "my-default-config",
    "scheduled_for": None,
    "send_at": "2026-11-22T04:37:12Z",
    "created_at": "2026-11-22T04:37:12Z",
    "sent_at": "2026-11-22T04:37:12.300000Z",
    "ses_message_id": "0100018c7e1f2b3a-5d0c2a1b-000000",
    "attempts": 1,
    "failure_reason": "",
    "dropped_recipients": [],
    "recipient_outcomes": {"jon@example.net": "delivered"},
    "delivered_at": "2026-11-22T04:37:13Z",
    "opened_at": None,
    "clicked_at": None,
    "open_count": 0,
    "click_count": 0,
    "resent_from": None,
}

EMAIL_PAGE = {
    "next": "https://sesame.example.com/v1/emails?cursor=cD0yMDI2",
    "previous": None,
    "results": [EMAIL_SUMMARY],
}

EMAIL_DETAIL = {
    **EMAIL_SUMMARY,
    "template_version": None,
    "html_body": "<p>Thanks!</p>",
    "text_body": "Thanks!",
    "headers": {},
    "attachments": [],
    "body_pruned_at": None,
    "timeline": [
        {
            "type": "accepted",
            "source": "sesame",
            "recipient": "",
            "detail": "priority 10",
            "occurred_at": "2026-11-22T04:37:12Z",
            "payload": {},
        },
        {
            "type": "sent",
            "source": "sesame",
            "recipient": "",
            "detail": "SES message id 0100018c7e1f2b3a-5d0c2a1b-000000",
            "occurred_at": "2026-11-22T04:37:12.300000Z",
            "payload": {},
        },
        {
            "type": "delivery",
            "source": "ses",
            "recipient": "jon@example.net",
            "detail": "250 2.6.0 Message received",
            "occurred_at": "2026-11-22T04:37:13Z",
            "payload": {"eventType": "Delivery"},
        },
    ],
}

BATCH_REQUEST = {
    "emails": [
        {"from": "hello@example.com", "to": "a@example.net", "subject": "Hi", "text_body": "Hello"},
        {"from": "hello@example.com", "subject": "No recipient", "text_body": "Oops"},
    ]
}

BATCH_RESPONSE = {
    "accepted": 1,
    "rejected": 1,
    "results": [
        {"index": 0, **ACCEPTED, "status": "queued", "send_at": "2026-11-22T04:37:12Z"},
        {
            "index": 1,
            "status": "rejected",
            "errors": [{"loc": ["body", "emails", 1, "to"], "msg": "field required", "type": "value_error.missing"}],
        },
    ],
}

SUPPRESSION = {
    "id": 41,
    "address": "bounced@example.net",
    "reason": "hard_bounce",
    "source_email": EMAIL_ID,
    "created_at": "2026-11-22T04:40:00Z",
}

IDENTITY = {
    "id": 3,
    "name": "example.com",
    "kind": "domain",
    "status": "pending",
    "config_identifier": "my-default-config",
    "dkim_records": [{"name": "abc123._domainkey.example.com", "type": "CNAME", "value": "abc123.dkim.amazonses.com"}],
    "checked_at": "2026-11-22T04:40:00Z",
    "created_at": "2026-11-22T04:40:00Z",
}

QUOTA_EXCEEDED = (
    "This account has used 3,000 emails this billing period (Apr 1 to Apr 30, 2026); the Free plan includes 3,000 "
    "and has no overage. Upgrade with POST /v1/billing/change-plan to send more; the quota renews on May 1, 2026."
)
