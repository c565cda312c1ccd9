"""Message templates for every channel (email, SMS, push) and the sandboxed Liquid renderer.

Stable interface for other apps (sms, push, broadcasts, automations); import from `emails.templating`:

- `Template`, `TemplateVersion` (models): a template belongs to one account and one channel and points at its
  current version; versions are never edited, an update adds one. Messages record theirs in `template_version`.
- `template_resolve(*, account, ref, channel) -> Template`: the live (not archived) template named by its id or
  its name; raises `TemplateNotFound`.
- `template_render(*, version, variables, contact=None, extra=None) -> RenderedMessage`: renders every field of
  the version's channel. Context, lowest first: declared defaults, `contact_variables(contact)`, `variables`, then
  `extra` (values Sesame supplies, e.g. a broadcast's `unsubscribe_url`, which the call cannot override).
  `RenderedMessage` has `subject`, `html`, `text` (derived from the HTML when the template has none), `body`,
  `title`, `data`, `missing` (declared required variables nobody gave, and variables output blank) and `version`.
  Raises `TemplateRenderError` (`.field`, `.problem` with `.line`) when a limit is hit.
- `template_apply(*, account, ref, channel, variables, loc, contact=None, extra=None) -> RenderedMessage`: what a
  send with `template` + `variables` does; every problem, missing variables included, is an UnprocessableEntity
  (422) at `loc` + `template` or `variables`.
- `template_apply_to(*, template, variables, loc, contact=None, extra=None)`: the same for a resolved template.
- `emails.templating.sending.TemplateSends(account=, channel=).fill(data, loc=, contact=)`: a channel's send body
  with `template` + `variables` replaced by the rendered fields (`SEND_FIELDS`), and the version used.
- `contact_variables(contact) -> dict`: what a contact supplies (attributes, then its fields).
- `html_has_visible_link(html, *, variable=None, url=None) -> bool`: whether email HTML (template source, by
  `{{ variable }}` in an href; or rendered, by exact `url`) has a link a reader can see.
- `html_to_text(html) -> str`: the readable text part of an HTML email.
- `template_check(source, *, html=False) -> TemplateProblem | None`: a template text's first syntax problem.

Limits of the engine (per field): source 512 KB, output 1 MB, 10,000 loop iterations (nested loops multiply),
200,000 rendering steps, 1 s, 256 KB held by assign/capture, 20 nested blocks; no includes, no Python attributes.
"""

from emails.templating.engine import TemplateProblem, TemplateRenderError, template_check
from emails.templating.html_text import html_has_visible_link, html_to_text
from emails.templating.models import Template, TemplateVersion
from emails.templating.services import (
    RenderedMessage,
    TemplateNotFound,
    template_apply,
    template_apply_to,
    template_archive,
    template_create,
    template_render,
    template_resolve,
    template_update,
)
from emails.templating.variables import contact_variables

__all__ = [
    "RenderedMessage",
    "Template",
    "TemplateNotFound",
    "TemplateProblem",
    "TemplateRenderError",
    "TemplateVersion",
    "contact_variables",
    "html_has_visible_link",
    "html_to_text",
    "template_apply",
    "template_apply_to",
    "template_archive",
    "template_check",
    "template_create",
    "template_render",
    "template_resolve",
    "template_update",
]
