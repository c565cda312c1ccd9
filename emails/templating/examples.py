"""Example payloads of /v1/templates for the OpenAPI document (and the README)."""

TEMPLATE_ID = "9d3c7a52-4f0e-4c8e-9a57-2f1d6b0e8c41"
VERSION_ID = "5e2b1c90-7d4a-4b3f-8e21-6a0c9f4d2b17"

VARIABLES = [
    {"name": "first_name", "type": "string", "default": "there", "required": False, "description": "Greeting name"},
    {"name": "order_id", "type": "number", "required": True, "description": ""},
]

CREATE_EMAIL = {
    "name": "order-shipped",
    "channel": "email",
    "description": "Sent when an order leaves the warehouse",
    "subject": "Order {{ order_id }} has shipped",
    "html": '<p>Hi {{ first_name | default: "there" }},</p><p>Order {{ order_id }} is on its way.</p>',
    "variables": VARIABLES,
}
CREATE_SMS = {"name": "shipped-sms", "channel": "sms", "body": "Order {{ order_id }} shipped. Track: {{ track_url }}"}
CREATE_PUSH = {
    "name": "shipped-push",
    "channel": "push",
    "title": "Order {{ order_id }}",
    "body": "It's on its way, {{ first_name | default: 'friend' }}!",
    "data": {"order": "{{ order_id }}", "screen": "orders"},
}
UPDATE = {"html": "<p>Hello {{ first_name | default: 'there' }}! Order {{ order_id }} has shipped.</p>"}

VERSION = {
    "id": VERSION_ID,
    "number": 1,
    "subject": "Order {{ order_id }} has shipped",
    "html": '<p>Hi {{ first_name | default: "there" }},</p><p>Order {{ order_id }} is on its way.</p>',
    "text": "",
    "text_derived": True,
    "variables": VARIABLES,
    "created_at": "2026-11-30T09:00:00Z",
}
TEMPLATE = {
    "id": TEMPLATE_ID,
    "name": "order-shipped",
    "channel": "email",
    "description": "Sent when an order leaves the warehouse",
    "version": 1,
    "archived_at": None,
    "created_at": "2026-11-30T09:00:00Z",
    "updated_at": "2026-11-30T09:00:00Z",
}
TEMPLATE_DETAIL = {**TEMPLATE, "current_version": VERSION}
PAGE = {"next": None, "previous": None, "results": [TEMPLATE]}
VERSIONS_PAGE = {"next": None, "previous": None, "results": [{**VERSION, "number": 2}, VERSION]}

SYNTAX_ERROR = {
    "detail": [
        {
            "loc": ["body", "html"],
            "msg": "template syntax: line 3: expected tag endif, found end of expression",
            "type": "value_error.template",
        }
    ]
}
NAME_TAKEN = {
    "detail": "the name 'order-shipped' is taken by another live email template; pick another or update that one"
}

PREVIEW_REQUEST = {"contact": "ada@example.net", "variables": {"order_id": 1234}}
PREVIEW = {
    "template": TEMPLATE_ID,
    "version": 1,
    "channel": "email",
    "subject": "Order 1234 has shipped",
    "html": "<p>Hi Ada,</p><p>Order 1234 is on its way.</p>",
    "text": "Hi Ada,\n\nOrder 1234 is on its way.",
    "missing": [],
}
PREVIEW_MISSING = {**PREVIEW, "subject": "Order  has shipped", "missing": ["order_id"]}

SEND_WITH_TEMPLATE = {
    "from": "Acme <hello@example.com>",
    "to": "ada@example.net",
    "template": "order-shipped",
    "variables": {"order_id": 1234},
}
MISSING_VARIABLES = {
    "detail": [
        {
            "loc": ["body", "variables"],
            "msg": "missing variables for template 'order-shipped': order_id; pass them in variables, store them on "
            'the contact, or give them a fallback ({{ name | default: "..." }}) or a declared default',
            "type": "value_error.missing_variables",
        }
    ]
}
