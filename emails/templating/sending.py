"""Sends with `template` + `variables` instead of bodies, for every channel's accept path.

A channel's accept calls `TemplateSends.fill` only when a request body names a template (or variables): the body
gets the rendered fields (an email's subject, html_body and text_body; an SMS's body; a push's title, body and
data) and then goes through the channel's ordinary validation, so a templated send obeys every rule a plain one
does. The version used is returned for the message row's `template_version`.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from accounts.models import Account
from config.api.errors import ErrorEntry, Loc, UnprocessableEntity, error_entry
from contacts.models import Contact
from emails.templating.models import Template, TemplateVersion
from emails.templating.services import RenderedMessage, TemplateNotFound, template_apply_to, template_resolve

# Which field of a channel's send body each rendered template field fills.
SEND_FIELDS: dict[str, dict[str, str]] = {
    Template.Channel.EMAIL: {"subject": "subject", "html": "html_body", "text": "text_body"},
    Template.Channel.SMS: {"body": "body"},
    Template.Channel.PUSH: {"title": "title", "body": "body", "data": "data"},
}
TEMPLATE_KEYS = ("template", "variables")


def names_template(data: Any) -> bool:
    """Whether a send body takes the template path (cheap enough for every request)."""
    return isinstance(data, Mapping) and ("template" in data or "variables" in data)


class TemplateSends:
    """Renders the templated sends of one request, resolving each template once."""

    def __init__(self, *, account: Account, channel: str) -> None:
        self.account = account
        self.channel = channel
        self._templates: dict[str, Template | TemplateNotFound] = {}

    def contacts_by_email(self, addresses: Iterable[str]) -> dict[str, Contact]:
        """The account's contacts with these (lower-cased) addresses, in one query."""
        keys = {a.lower() for a in addresses}
        return {c.email: c for c in Contact.objects.filter(account=self.account, email__in=keys) if c.email}

    def contacts_by_mobile(self, numbers: Iterable[Any]) -> dict[str, Contact]:
        """The account's contacts with these E.164 mobiles, in one query (anything else matches nobody)."""
        keys = {n.strip() for n in numbers if isinstance(n, str)}
        return {c.mobile: c for c in Contact.objects.filter(account=self.account, mobile__in=keys) if c.mobile}

    def _template(self, ref: str) -> Template:
        if ref not in self._templates:
            try:
                self._templates[ref] = template_resolve(account=self.account, ref=ref, channel=self.channel)
            except TemplateNotFound as error:
                self._templates[ref] = error
        found = self._templates[ref]
        if isinstance(found, TemplateNotFound):
            raise found
        return found

    def fill(
        self, data: Mapping[str, Any], *, loc: Loc, contact: Contact | None = None, per_contact: bool = False
    ) -> tuple[dict[str, Any], TemplateVersion]:
        """The send body with the template's rendered fields in place of `template` and `variables`. Raises
        UnprocessableEntity: no or unknown template, body fields given as well, bad or missing variables, a
        rendering limit hit, or a field that renders empty. `per_contact`: the send is rendered again for each of
        its contacts later (a segment push), so variables a contact may supply are not missing yet, nor is a field
        they fill empty."""
        body = {key: value for key, value in data.items() if key not in TEMPLATE_KEYS}
        ref, variables = data.get("template"), data.get("variables")
        fields = SEND_FIELDS[self.channel]
        errors: list[ErrorEntry] = [
            error_entry(
                [*loc, name],
                f"{name} comes from the template; leave it out, or send without template",
                "value_error.template_conflict",
            )
            for name in fields.values()
            if body.get(name) not in (None, "", {})
        ]
        if ref is None:
            errors.append(error_entry([*loc, "template"], "variables need a template (its id or name)", "required"))
        elif not isinstance(ref, str) or not ref.strip():
            errors.append(error_entry([*loc, "template"], "a template's id or name", "type_error.str"))
        if errors:
            raise UnprocessableEntity(errors)
        try:
            template = self._template(str(ref).strip())
        except TemplateNotFound as error:
            raise UnprocessableEntity([error_entry([*loc, "template"], str(error), "value_error.unknown")]) from None
        rendered = template_apply_to(
            template=template, variables=variables, loc=loc, contact=contact, allow_missing=per_contact
        )
        if not per_contact:
            _refuse_empty(rendered, template, loc)
        for source, target in fields.items():
            value = getattr(rendered, source)
            if value not in ("", {}):
                body[target] = value
        return body, rendered.version

    def fill_each(
        self, items: list[Any], *, loc: Loc, contacts: Mapping[int, Contact | None]
    ) -> tuple[list[Any], dict[int, TemplateVersion], dict[int, list[ErrorEntry]]]:
        """`fill` for the templated items of a batch: each item's body (others unchanged), the versions and the
        errors by position."""
        bodies = list(items)
        versions: dict[int, TemplateVersion] = {}
        errors: dict[int, list[ErrorEntry]] = {}
        for index, item in enumerate(items):
            if not names_template(item):
                continue
            try:
                bodies[index], versions[index] = self.fill(item, loc=[*loc, index], contact=contacts.get(index))
            except UnprocessableEntity as problem:
                errors[index] = problem.entries
        return bodies, versions, errors


def _refuse_empty(rendered: RenderedMessage, template: Template, loc: Loc) -> None:
    required = {"email": ("subject",), "sms": ("body",), "push": ("body",)}[template.channel]
    for name in required:
        if not str(getattr(rendered, name)).strip():
            raise UnprocessableEntity(
                [
                    error_entry(
                        [*loc, "template"],
                        f"template {template.name!r} renders an empty {name} with these variables",
                        "value_error.template_empty",
                    )
                ]
            )
