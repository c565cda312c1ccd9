"""Real bodies for the OpenAPI schema of /v1/automations."""

DESCRIPTION = (
    "An automation starts as a `draft`; `POST /v1/automations/{id}/activate` starts enrolling. The trigger is one "
    "of `tag_added` / `tag_removed` (`tag`), `event` (`event`, and `conditions` on its properties, each "
    '`{"property", "op", "value"}` with op eq, neq, contains, gt, gte, lt, lte, exists, not_exists), '
    "`contact_created`, or `segment_entered` (`segment`: a saved segment's id; checked every minute). Steps run "
    'in order: `wait` (`seconds`, or `until` a time of day "HH:MM" in the contact\'s `attributes.timezone`, else '
    "UTC), `condition` (`segment`, or `tests` on contact fields and `attributes.<key>`, with `yes` and `no` step "
    "lists; the run then carries on after the condition), `send` (`channel` email, sms or push, `template` id or name, "
    "`topic` key, `from` for email, `config_identifier`), `add_tag` / `remove_tag` (`tag`) and `exit`. Each step "
    "gets an id (`s1`, `s2`, ... unless given). An event named `goal_event` ends a contact's run early. "
    '`reentry`: `{"mode": "once"}` (the default: once per contact, ever) or `{"mode": "every_trigger", '
    '"min_gap_seconds": 86400}` (again after each trigger once the previous run ended and the gap passed). '
    "Sends go out at `priority` (default 60, after transactional mail) and only to contacts subscribed, not opted "
    "out of the topic, and not suppressed at the moment of sending."
)

RED_SNEAKERS = {
    "name": "Red sneakers follow-up",
    "trigger": {"type": "tag_added", "tag": "red sneakers"},
    "steps": [
        {"type": "wait", "seconds": 7200},
        {
            "type": "send",
            "channel": "email",
            "template": "Red sneakers reminder",
            "topic": "offers",
            "from": "Acme <hello@example.com>",
        },
    ],
    "goal_event": "purchase",
    "reentry": {"mode": "every_trigger", "min_gap_seconds": 604800},
}

BRANCHING = {
    "name": "Wish-list nudge",
    "trigger": {
        "type": "event",
        "event": "added_to_wishlist",
        "conditions": [{"property": "product", "op": "eq", "value": "red sneakers"}],
    },
    "steps": [
        {"type": "wait", "until": "09:00"},
        {
            "type": "condition",
            "tests": [{"field": "attributes.plan", "op": "eq", "value": "pro"}],
            "yes": [{"type": "add_tag", "tag": "pro nudge"}],
            "no": [{"type": "send", "channel": "sms", "template": "Wishlist SMS"}, {"type": "exit"}],
        },
        {"type": "send", "channel": "email", "template": "Wishlist", "from": "hello@example.com"},
    ],
    "goal_event": "purchase",
    "priority": 60,
}

AUTOMATION = {
    "id": "1f0c6b1e-5d1a-4c2b-9a7e-3d2c1b0a9f8e",
    "name": "Red sneakers follow-up",
    "status": "draft",
    "trigger": {"type": "tag_added", "tag": "red sneakers"},
    "steps": [
        {"type": "wait", "seconds": 7200, "id": "s1"},
        {
            "type": "send",
            "channel": "email",
            "template": "Red sneakers reminder",
            "topic": "offers",
            "from": "Acme <hello@example.com>",
            "id": "s2",
        },
    ],
    "goal_event": "purchase",
    "reentry": {"mode": "every_trigger", "min_gap_seconds": 604800},
    "priority": 60,
    "version": 1,
    "created_at": "2026-11-22T10:00:00Z",
    "updated_at": "2026-11-22T10:00:00Z",
}

AUTOMATION_DETAIL = {
    **AUTOMATION,
    "status": "active",
    "step_counts": [
        {
            "id": "s1",
            "type": "wait",
            "entered": 1200,
            "waiting": 310,
            "sent": 0,
            "not_sent": 0,
            "yes": 0,
            "no": 0,
            "exited": 85,
            "failed": 0,
        },
        {
            "id": "s2",
            "type": "send",
            "entered": 805,
            "waiting": 0,
            "sent": 790,
            "not_sent": 15,
            "yes": 0,
            "no": 0,
            "exited": 0,
            "failed": 0,
        },
    ],
}

BAD_STEP = {
    "detail": [
        {
            "loc": ["body", "steps", 0, "seconds"],
            "msg": "Give whole seconds from 1 to 31,622,400 (366 days).",
            "type": "value_error.invalid",
        },
        {
            "loc": ["body", "steps", 1, "template"],
            "msg": "A send step names its template (its id or name).",
            "type": "value_error.missing",
        },
    ]
}

RUN = {
    "id": 90211,
    "automation": AUTOMATION["id"],
    "version": 1,
    "contact": {"id": 1042, "email": "example@gmail.com", "mobile": None},
    "status": "converted",
    "step_id": "s1",
    "due_at": None,
    "trigger": {"trigger": "tag_added", "tag_id": 7},
    "attempts": 0,
    "last_error": "",
    "enrolled_at": "2026-11-22T10:04:51Z",
    "finished_at": "2026-11-22T10:31:12Z",
    "exit_reason": "goal event 'purchase'",
}

RUN_DETAIL = {
    **RUN,
    "steps": [
        {
            "step_id": "trigger",
            "type": "trigger",
            "outcome": "entered",
            "detail": {"trigger": "tag_added", "tag_id": 7},
            "occurred_at": "2026-11-22T10:04:51Z",
        },
        {
            "step_id": "s1",
            "type": "wait",
            "outcome": "waiting",
            "detail": {"until": "2026-11-22T12:04:52+00:00"},
            "occurred_at": "2026-11-22T10:04:52Z",
        },
        {
            "step_id": "s1",
            "type": "end",
            "outcome": "exited",
            "detail": {"reason": "goal event 'purchase'"},
            "occurred_at": "2026-11-22T10:31:12Z",
        },
    ],
}
