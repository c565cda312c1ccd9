"""Real examples for the OpenAPI schema of the team inbox."""

CONVERSATION = {
    "id": "3f2b8c1e-6d4a-4e8b-9c1f-2a3b4c5d6e7f",
    "status": "open",
    "snoozed_until": None,
    "subject": "Where is my order?",
    "correspondent": "Ada Lovelace <ada@customer.test>",
    "correspondent_email": "ada@customer.test",
    "team_address": "support@acme.test",
    "reply_address": "reply+3f2b8c1e6d4a4e8b9c1f2a3b4c5d6e7f@acme.test",
    "contact": 1042,
    "assignee": "jon@acme.test",
    "flagged": False,
    "message_count": 3,
    "last_message_at": "2026-11-30T09:12:04.118Z",
    "created_at": "2026-11-30T08:55:40.300Z",
}
MESSAGE_IN = {
    "id": 5120,
    "direction": "inbound",
    "kind": "message",
    "from": "Ada Lovelace <ada@customer.test>",
    "to": ["support@acme.test"],
    "cc": [],
    "subject": "Where is my order?",
    "text_body": "Hello, order 1234 has not arrived.",
    "html": "<p>Hello, order 1234 has not arrived.</p>",
    "message_id": "CAF=x1@mail.customer.test",
    "in_reply_to": "",
    "references": [],
    "verdicts": {"spam": "PASS", "virus": "PASS", "spf": "PASS", "dkim": "PASS", "dmarc": "PASS"},
    "flags": [],
    "flagged": False,
    "error": "",
    "attachments": [
        {"id": 88, "filename": "photo.jpg", "content_type": "image/jpeg", "size_bytes": 48213, "inline": False,
         "kept": True, "note": ""}
    ],
    "email_id": None,
    "email_status": None,
    "occurred_at": "2026-11-30T08:55:40.300Z",
}  # fmt: skip
MESSAGE_OUT = {
    **MESSAGE_IN,
    "id": 5121,
    "direction": "outbound",
    "from": "support@acme.test",
    "to": ["Ada Lovelace <ada@customer.test>"],
    "subject": "Re: Where is my order?",
    "text_body": "It left our warehouse this morning.",
    "html": "",
    "message_id": "",
    "in_reply_to": "CAF=x1@mail.customer.test",
    "references": ["CAF=x1@mail.customer.test"],
    "verdicts": {},
    "attachments": [],
    "email_id": "0bcb2124-8f0e-4a53-9d5e-3c1f0e5b6a7d",
    "email_status": "queued",
    "occurred_at": "2026-11-30T09:12:04.118Z",
}
NOTE = {"id": 17, "author": "API token “Helpdesk”", "body": "Customer is a VIP.", "created_at": "2026-11-30T09:01:00Z"}
CONVERSATION_DETAIL = {**CONVERSATION, "messages": [MESSAGE_IN, MESSAGE_OUT], "notes": [NOTE]}
PAGE = {"next": None, "previous": None, "results": [CONVERSATION]}
REPLY = {"text_body": "It left our warehouse this morning.", "html_body": "<p>It left our warehouse this morning.</p>"}
NOT_A_MEMBER = {
    "detail": [
        {
            "loc": ["body", "assignee"],
            "msg": "'someone@else.test' is not a member of this account; members: jon@acme.test",
            "type": "value_error.not_a_member",
        }
    ]
}
