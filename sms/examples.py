"""Example payloads for the OpenAPI document (and the README's curl examples)."""

SMS_ID = "6f1c2b9e-4d0a-4c55-9a57-3f2f8f0b1e11"
OTP_ID = "0c7d6a38-5b3e-4b8f-a7f4-92d3a1f0c6de"

SMS_REQUEST = {
    "to": "+14254147755",
    "body": "Your order 1234 has shipped.",
    "sms_type": "transactional",
    "sender_id": "ACME",
    "max_price": "0.05",
    "priority": 10,
    "client_sms_id": "order-1234-shipped",
    "tags": ["shipping"],
    "custom_fields": {"order": 1234},
}

ACCEPTED = {
    "id": SMS_ID,
    "status": "queued",
    "to": "+14254147755",
    "country": "US",
    "encoding": "GSM-7",
    "segments": 1,
    "priority": 10,
    "send_at": "2026-11-22T04:37:12.120000Z",
    "created_at": "2026-11-22T04:37:12.120000Z",
}

DUPLICATE = {"detail": "An SMS with client_sms_id 'order-1234-shipped' was already accepted.", "id": SMS_ID}

NOT_E164 = {
    "detail": [
        {
            "loc": ["body", "to"],
            "msg": "'+1 425 414 7755' is not in E.164 format: a plus, the country code and the number, without "
            "spaces, dashes or brackets (e.g. '+442071838750'). Send '+14254147755'.",
            "type": "value_error.invalid",
        }
    ]
}

SMS_SUMMARY = {
    "id": SMS_ID,
    "client_sms_id": "order-1234-shipped",
    "to": "+14254147755",
    "country": "US",
    "body": "Your order 1234 has shipped.",
    "encoding": "GSM-7",
    "segments": 1,
    "sms_type": "transactional",
    "sender_id": "ACME",
    "origination_number": "",
    "max_price": "0.05000",
    "status": "delivered",
    "priority": 10,
    "tags": ["shipping"],
    "custom_fields": {"order": 1234},
    "config_identifier": "default",
    "otp_id": None,
    "scheduled_for": None,
    "send_at": "2026-11-22T04:37:12.120000Z",
    "created_at": "2026-11-22T04:37:12.120000Z",
    "sent_at": "2026-11-22T04:37:12.310000Z",
    "sns_message_id": "0f2e7f4c-7f0e-5c8f-9f1e-8e0a3c1b2d4f",
    "attempts": 1,
    "failure_reason": "",
    "delivered_at": "2026-11-22T04:37:13.100000Z",
    "price_usd": "0.00645",
    "provider_response": "Message has been accepted by phone carrier",
}

SMS_DETAIL = {
    **SMS_SUMMARY,
    "template_version": None,
    "timeline": [
        {
            "type": "accepted",
            "source": "sesame",
            "detail": "priority 10",
            "occurred_at": "2026-11-22T04:37:12.120000Z",
            "payload": {},
        },
        {
            "type": "sent",
            "source": "sesame",
            "detail": "SNS message id 0f2e7f4c-7f0e-5c8f-9f1e-8e0a3c1b2d4f",
            "occurred_at": "2026-11-22T04:37:12.310000Z",
            "payload": {},
        },
        {
            "type": "delivered",
            "source": "sns",
            "detail": "Message has been accepted by phone carrier; price $0.01 (USD 0.00645); carrier Simulated "
            "Carrier (MCC 310, MNC 260)",
            "occurred_at": "2026-11-22T04:37:13.100000Z",
            "payload": {"priceInUSD": 0.00645, "mcc": 310, "mnc": 260, "phoneCarrier": "Simulated Carrier"},
        },
    ],
}

BATCH_REQUEST = {"sms": [{"to": "+14254147755", "body": "Hello"}, {"to": "+1 425", "body": "Hello"}]}
BATCH_RESPONSE = {
    "accepted": 1,
    "rejected": 1,
    "results": [
        {"index": 0, **ACCEPTED},
        {
            "index": 1,
            "status": "rejected",
            "errors": [
                {
                    "loc": ["body", "sms", 1, "to"],
                    "msg": "'+1 425' is not in E.164 format ...",
                    "type": "value_error.invalid",
                }
            ],
        },
    ],
}

OTP_REQUEST = {"to": "+14254147755", "channel": "sms", "locale": "en"}
OTP = {
    "id": OTP_ID,
    "channel": "sms",
    "to": "+14254147755",
    "status": "pending",
    "expires_at": "2026-11-22T04:47:12.120000Z",
    "sends": 1,
    "checks": 0,
    "created_at": "2026-11-22T04:37:12.120000Z",
}

SANDBOX_NUMBER = {
    "id": 7,
    "phone_number": "+14254147755",
    "status": "verified",
    "config_identifier": "default",
    "created_at": "2026-11-22T04:37:12.120000Z",
    "verified_at": "2026-11-22T04:38:02.410000Z",
}

OPT_OUT = {"id": 41, "phone_number": "+14254147156", "source": "delivery", "created_at": "2026-11-22T04:37:13Z"}

SETTINGS = {
    "country": "US",
    "allowed_countries": ["CA", "US"],
    "monthly_spend_limit_usd": "250.00",
    "spent_this_month_usd": "12.41870",
    "otp_code_length": 6,
    "otp_email_from": "security@example.com",
    "updated_at": "2026-11-22T04:37:12.120000Z",
}
