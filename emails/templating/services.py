"""Writes and rendering of message templates (every channel)."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import Account
from config.api.errors import Conflict, ErrorEntry, Loc, UnprocessableEntity, error_entry
from contacts.models import Contact
from contacts.selectors import contact_by_ref
from emails.templating.content import CHANNEL_FIELDS, content_check
from emails.templating.engine import TemplateRenderError, render_text
from emails.templating.html_text import html_to_text
from emails.templating.models import Template, TemplateVersion
from emails.templating.variables import (
    call_variables_check,
    declarations_check,
    missing_required,
    render_context,
)


class TemplateNotFound(Exception):
    def __init__(self, ref: Any, channel: str) -> None:
        super().__init__(f"no {channel} template {ref!r} in your account (give its id or name)")


@dataclass(frozen=True)
class RenderedMessage:
    """One rendering of a template version. Fields the channel does not use stay empty."""

    version: TemplateVersion
    subject: str = ""
    html: str = ""
    text: str = ""
    body: str = ""
    title: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


def _name_taken(channel: str, name: str) -> Conflict:
    return Conflict(f"the name {name!r} is taken by another live {channel} template; pick another or update that one")


def _new_version(
    template: Template, *, number: int, content: Mapping[str, Any], variables: list[dict[str, Any]]
) -> TemplateVersion:
    html = content.get("html", "")
    version = TemplateVersion.objects.create(
        account_id=template.account_id,
        template=template,
        number=number,
        variables=variables,
        text_derived=template.channel == Template.Channel.EMAIL and bool(html) and not content.get("text"),
        **{name: content[name] for name in CHANNEL_FIELDS[template.channel]},
    )
    template.current_version = version
    return version


def template_create(
    *,
    account: Account,
    channel: str,
    name: str,
    content: Mapping[str, Any],
    variables: Any = None,
    description: str = "",
    loc: Loc | None = None,
) -> Template:
    """Create a template and its version 1. Raises UnprocessableEntity (422, each problem with its field and, for
    template syntax, its line) or Conflict (409) when the name is taken in that channel."""
    loc = loc or ["body"]
    merged, errors = content_check(channel=channel, content=content, loc=loc)
    declared, declaration_errors = declarations_check(variables, [*loc, "variables"])
    if errors or declaration_errors:
        raise UnprocessableEntity(errors + declaration_errors)
    try:
        with transaction.atomic():
            template = Template.objects.create(account=account, channel=channel, name=name, description=description)
            _new_version(template, number=1, content=merged, variables=declared)
            template.save(update_fields=["current_version", "updated_at"])
    except IntegrityError:
        raise _name_taken(channel, name) from None
    return template


def template_update(
    *,
    template: Template,
    content: Mapping[str, Any],
    variables: Any = None,
    name: str | None = None,
    description: str | None = None,
    loc: Loc | None = None,
) -> Template:
    """Change a template. New content or variables make a new version (the old ones stay, and sends keep pointing
    at theirs); a new name or description alone does not."""
    loc = loc or ["body"]
    current = template.current_version
    base = {f: getattr(current, f) for f in CHANNEL_FIELDS[template.channel]} if current else {}
    changes_content = any(content.get(f) is not None for f in CHANNEL_FIELDS[template.channel])
    merged, errors = content_check(channel=template.channel, content=content, loc=loc, base=base)
    declared, declaration_errors = (
        declarations_check(variables, [*loc, "variables"]) if variables is not None else (None, [])
    )
    if errors or declaration_errors:
        raise UnprocessableEntity(errors + declaration_errors)
    if name is not None:
        template.name = name
    if description is not None:
        template.description = description
    try:
        with transaction.atomic():
            locked = Template.objects.select_for_update().get(pk=template.pk)  # one new number at a time
            if changes_content or declared is not None:
                last = locked.versions.aggregate(last=Max("number"))["last"] or 0
                _new_version(
                    template,
                    number=last + 1,
                    content=merged,
                    variables=declared if declared is not None else (current.variables if current else []),
                )
            template.save(update_fields=["name", "description", "current_version", "updated_at"])
    except IntegrityError:
        raise _name_taken(template.channel, template.name) from None
    return template


def template_archive(*, template: Template) -> Template:
    """Archive a template: it is no longer listed by default nor sendable, its versions stay for the sends that
    used them, and its name is free again."""
    if template.archived_at is None:
        template.archived_at = timezone.now()
        template.save(update_fields=["archived_at", "updated_at"])
    return template


def template_resolve(*, account: Account, ref: Any, channel: str) -> Template:
    """The account's live template of this channel named by `ref`: its id, or its name. Raises TemplateNotFound."""
    templates = Template.objects.filter(account=account, channel=channel, archived_at__isnull=True).select_related(
        "current_version"
    )
    found = None
    if isinstance(ref, str) and ref:
        try:
            found = templates.filter(pk=uuid.UUID(ref)).first()
        except ValueError:
            found = None
        if found is None:
            found = templates.filter(name=ref).first()
    if found is None or found.current_version is None:
        raise TemplateNotFound(ref, channel)
    found.current_version.template = found  # rendering reads the channel: no second query
    return found


def template_render(
    *,
    version: TemplateVersion,
    variables: Mapping[str, Any],
    contact: Contact | None = None,
    extra: Mapping[str, Any] | None = None,
) -> RenderedMessage:
    """Render every field of a version: declared defaults, then the contact's values, then `variables`, then
    `extra` (Sesame's own values, e.g. a broadcast's unsubscribe_url). `missing` lists the declared required
    variables nobody supplied and the variables that came out blank. Raises TemplateRenderError (a limit hit)."""
    context = render_context(declared=version.variables, variables=variables, contact=contact, extra=extra)
    missing = missing_required(version.variables, context)
    out: dict[str, Any] = {}
    for name in CHANNEL_FIELDS[version.template.channel]:
        if name == "data":
            out["data"] = {}
            for key, value in version.data.items():
                if isinstance(value, str):
                    out["data"][key], blank = render_text(value, context, field=f"data.{key}")
                    missing.extend(blank)
                else:
                    out["data"][key] = value
            continue
        out[name], blank = render_text(getattr(version, name), context, field=name, html=name == "html")
        missing.extend(blank)
    if version.template.channel == Template.Channel.EMAIL and not out["text"] and out["html"]:
        out["text"] = html_to_text(out["html"])
    return RenderedMessage(version=version, missing=list(dict.fromkeys(missing)), **out)


def template_apply(
    *,
    account: Account,
    ref: Any,
    channel: str,
    variables: Any,
    loc: Loc,
    contact: Contact | None = None,
    extra: Mapping[str, Any] | None = None,
) -> RenderedMessage:
    """What a send with `template` + `variables` does at accept: find the template, check the variables against
    its declarations, render it. Every problem (unknown template, wrong type, missing variables, a limit hit) is a
    422 at `loc`'s `template` or `variables`."""
    try:
        template = template_resolve(account=account, ref=ref, channel=channel)
    except TemplateNotFound as error:
        raise UnprocessableEntity([error_entry([*loc, "template"], str(error), "value_error.unknown")]) from None
    return template_apply_to(template=template, variables=variables, loc=loc, contact=contact, extra=extra)


def template_apply_to(
    *,
    template: Template,
    variables: Any,
    loc: Loc,
    contact: Contact | None = None,
    extra: Mapping[str, Any] | None = None,
    allow_missing: bool = False,
) -> RenderedMessage:
    """template_apply for a template already resolved (a batch resolves each template once). `allow_missing`: a
    send rendered again for each contact later (a segment push), whose contacts may supply what is missing now."""
    version = template.current_version
    assert version is not None  # template_resolve returns only templates with a version
    errors = call_variables_check(variables, version.variables, [*loc, "variables"])
    if errors:
        raise UnprocessableEntity(errors)
    rendered = _render_or_422(version, variables or {}, contact, extra, [*loc, "template"])
    if rendered.missing and not allow_missing:
        raise UnprocessableEntity([_missing_entry(rendered.missing, template, [*loc, "variables"])])
    return rendered


def _render_or_422(
    version: TemplateVersion, variables: Mapping[str, Any], contact: Contact | None, extra: Any, loc: Loc
) -> RenderedMessage:
    try:
        return template_render(version=version, variables=variables, contact=contact, extra=extra)
    except TemplateRenderError as error:
        raise UnprocessableEntity(
            [
                error_entry(
                    loc, f"the template's {error.field} cannot be rendered: {error.problem}", "value_error.template"
                )
            ]
        ) from None


def _missing_entry(missing: list[str], template: Template, loc: Loc) -> ErrorEntry:
    return error_entry(
        loc,
        f"missing variables for template {template.name!r}: {', '.join(missing)}; pass them in variables, store "
        'them on the contact, or give them a fallback ({{ name | default: "..." }}) or a declared default',
        "value_error.missing_variables",
    )


def template_preview(
    *, template: Template, variables: Any = None, contact_ref: Any = None, version_number: int | None = None
) -> RenderedMessage:
    """Render a version (the current one unless a number is given) for a contact and/or sample variables, as a
    send would, but report missing variables in `missing` instead of refusing. Problems are 422s."""
    version = template.versions.filter(number=version_number).first() if version_number else template.current_version
    if version is None:
        raise UnprocessableEntity(
            [error_entry(["body", "version"], f"this template has no version {version_number}", "value_error.unknown")]
        )
    contact = None
    if contact_ref is not None:
        if isinstance(contact_ref, str) and contact_ref.strip().isdigit():
            contact_ref = int(contact_ref)
        if isinstance(contact_ref, bool) or not isinstance(contact_ref, int | str) or contact_ref == "":
            raise UnprocessableEntity(
                [error_entry(["body", "contact"], "a contact's id, email or E.164 mobile", "type_error")]
            )
        contact = contact_by_ref(account=template.account, ref=contact_ref)
        if contact is None:
            raise UnprocessableEntity(
                [error_entry(["body", "contact"], "no such contact in your account", "value_error.unknown")]
            )
    errors = call_variables_check(variables, version.variables, ["body", "variables"])
    if errors:
        raise UnprocessableEntity(errors)
    return _render_or_422(version, variables or {}, contact, None, ["body", "template"])
