"""A push template rendered for one contact: what every send to many contacts (a segment push, a broadcast) puts in
front of each reader, with that contact's own variables, checked as the API checks a push it is given."""

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from contacts.models import Contact
from emails.templating import RenderedMessage, TemplateRenderError, TemplateVersion, template_render
from push import payloads
from push.models import PushMessage

# A push with nothing but its template's title, body and data (what an automation's push step sends).
PLAIN = payloads.PushContent(
    title="",
    body="",
    data={},
    badge=None,
    sound="",
    ttl_seconds=None,
    collapse_key="",
    urgency=PushMessage.Urgency.HIGH,
)


def content_of(message: PushMessage) -> payloads.PushContent:
    return payloads.PushContent(
        title=message.title,
        body=message.body,
        data=message.data,
        badge=message.badge,
        sound=message.sound,
        ttl_seconds=message.ttl_seconds,
        collapse_key=message.collapse_key,
        urgency=message.urgency,
    )


def push_content_render(
    *,
    version: TemplateVersion,
    variables: Mapping[str, Any],
    contact: Contact,
    base: payloads.PushContent,
    extra: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any] | None, str | None]:
    """(title, body and data for this contact, None), or (None, why this contact cannot get the push): the template
    cannot be rendered, its body comes out empty, or the payload (`base`'s badge, sound, ... with these fields)
    breaks APNs's or FCM's rules. Variables nobody supplied render blank, as in every bulk send; a `default`
    filter in the template gives them a fallback."""
    try:
        rendered = template_render(version=version, variables=variables, contact=contact, extra=extra)
    except TemplateRenderError as exc:
        return None, f"the template cannot be rendered for this contact: {exc}"
    return push_fields(rendered, base=base)


def push_fields(rendered: RenderedMessage, *, base: payloads.PushContent) -> tuple[dict[str, Any] | None, str | None]:
    """A rendered push template's title, body and data, or why they cannot go to a device: an empty body, data keys
    APNs or FCM reserve, or a payload (`base`'s badge, sound, ... with these fields) over the platforms' limits."""
    if not rendered.body.strip():
        return None, "the template renders an empty body for this contact"
    reserved = payloads.reserved_data_keys(rendered.data)
    if reserved:
        return None, f"the template's data uses {', '.join(reserved)}, reserved by APNs or FCM"
    fields: dict[str, Any] = {"title": rendered.title, "body": rendered.body, "data": rendered.data}
    problem = payloads.size_problem(replace(base, title=rendered.title, body=rendered.body, data=rendered.data))
    if problem:
        return None, problem
    return fields, None
