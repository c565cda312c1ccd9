"""The sandboxed Liquid engine every channel's templates are rendered with.

python-liquid (MIT, pure Python) rather than our own parser or Jinja2: Liquid is the syntax customers know from
Shopify, Postmark and Customer.io (`{{ first_name | default: "there" }}`), and the library is built for untrusted
templates: it only ever reads mappings and sequences by key or index (never a Python attribute), has no file or
network access unless a loader is configured (none is, and `include`/`render` are removed), and enforces loop,
output, namespace, nesting and context-depth limits. What it lacks, a bound on total work, is added here: every node
rendered is a step, and a render stops after MAX_STEPS steps or MAX_SECONDS.

Values are plain JSON data (the contact's fields and attributes, the call's variables), so there is no object to
walk; names beginning with `__` are refused anyway, with the line, so a probe is told no rather than shown nothing.
"""

import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from liquid import BoundTemplate, Environment, RenderContext, Undefined
from liquid.exceptions import (
    LiquidError,
    LocalNamespaceLimitError,
    LoopIterationLimitError,
    OutputStreamLimitError,
    ResourceLimitError,
)

MAX_SOURCE_CHARS = 512 * 1024  # one field's template text (an uploaded email HTML included)
MAX_OUTPUT_BYTES = 1024 * 1024  # one field's rendered text; SES takes 10 MB for the whole message
MAX_LOOP_ITERATIONS = 10_000  # nested loops count their product
MAX_STEPS = 200_000  # nodes rendered, loops' bodies included
MAX_SECONDS = 1.0
MAX_NAMESPACE_BYTES = 256 * 1024  # what `assign` and `capture` may hold


class TemplateStepLimitError(ResourceLimitError):
    """Too many nodes rendered, or too long spent rendering."""


@dataclass(frozen=True)
class TemplateProblem:
    """A syntax or limit problem of one field, with the 1-based line it is on (None when unknown)."""

    message: str
    line: int | None

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class TemplateRenderError(Exception):
    """A template that cannot be parsed or rendered within the limits; `field` names the template's field."""

    def __init__(self, field: str, problem: TemplateProblem) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


_missing: ContextVar[list[str] | None] = ContextVar("template_missing", default=None)


class _RecordingUndefined(Undefined):
    """An unknown variable renders as nothing, and is noted as missing when it is output. A `default` filter or an
    `{% if %}` never outputs it, so only the variables a reader would see blank are reported."""

    __slots__ = ()

    def __str__(self) -> str:
        noted = _missing.get()
        if noted is not None:
            noted.append(_path_of(self))
        return ""


def _path_of(undefined: Undefined) -> str:
    hint = undefined.hint or ""
    if hint.endswith(" is undefined"):
        return hint.removesuffix(" is undefined").strip("'")
    return undefined.name


class _BoundedContext(RenderContext):
    """Counts every node rendered. python-liquid reads `disabled_tags` once per node it renders (ast.Node.render),
    so that read is where the work is counted and the clock checked; python-liquid is pinned to a minor version in
    pyproject.toml and tests/emails/test_templates_sandbox.py proves the bound holds."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._steps = 0
        self._deadline = time.monotonic() + MAX_SECONDS
        super().__init__(*args, **kwargs)

    @property
    def disabled_tags(self) -> list[str]:
        self._steps += 1
        if self._steps > MAX_STEPS:
            raise TemplateStepLimitError(f"the template does more than {MAX_STEPS:,} steps", token=None)
        if not self._steps % 512 and time.monotonic() > self._deadline:
            raise TemplateStepLimitError(f"the template takes more than {MAX_SECONDS:g} s to render", token=None)
        return self._disabled_tags

    @disabled_tags.setter
    def disabled_tags(self, value: list[str]) -> None:
        self._disabled_tags = value


class _BoundedTemplate(BoundTemplate):
    context_class = _BoundedContext


class _SandboxEnvironment(Environment):
    template_class = _BoundedTemplate
    loop_iteration_limit = MAX_LOOP_ITERATIONS
    output_stream_limit = MAX_OUTPUT_BYTES
    local_namespace_limit = MAX_NAMESPACE_BYTES
    context_depth_limit = 10
    block_nesting_limit = 20

    def setup_tags_and_filters(self, *, extra: bool = False) -> None:
        super().setup_tags_and_filters(extra=False)
        # No loader, and no tags that would look for one: a template is one self-contained text.
        for tag in ("include", "render"):
            self.tags.pop(tag, None)


# HTML output escapes every variable's value; subject, text, SMS and push output is plain text.
_HTML = _SandboxEnvironment(undefined=_RecordingUndefined, autoescape=True)
_PLAIN = _SandboxEnvironment(undefined=_RecordingUndefined, autoescape=False)

_LIMIT_MESSAGES: dict[type[LiquidError], str] = {
    LoopIterationLimitError: f"a loop, times the loops around it, may run at most {MAX_LOOP_ITERATIONS:,} iterations",
    OutputStreamLimitError: f"the rendered text would exceed {MAX_OUTPUT_BYTES // 1024:,} KB",
    LocalNamespaceLimitError: f"assign and capture may hold at most {MAX_NAMESPACE_BYTES // 1024:,} KB",
}


def _problem(error: LiquidError, source: str) -> TemplateProblem:
    message = _LIMIT_MESSAGES.get(type(error)) or str(error.message or error.__class__.__name__)
    context = error.context()
    if context is not None:
        return TemplateProblem(message, context[0])
    # An unclosed block is found at the end of the text, where the parser keeps no position.
    if "found end of" in message or "expected tag" in message:
        return TemplateProblem(message, source.count("\n") + 1)
    return TemplateProblem(message, None)


def _line_at(source: str, index: int) -> int:
    return source.count("\n", 0, max(index, 0)) + 1


def _compile(source: str, html: bool) -> BoundTemplate | TemplateProblem:
    # Parsed templates are remembered (a broadcast renders one text per contact), the small ones only: the cache
    # stays under 256 times 32 KB however big the uploaded HTML.
    return _compile_cached(source, html) if len(source) <= 32 * 1024 else _compile_now(source, html)


@lru_cache(maxsize=256)
def _compile_cached(source: str, html: bool) -> BoundTemplate | TemplateProblem:
    return _compile_now(source, html)


def _compile_now(source: str, html: bool) -> BoundTemplate | TemplateProblem:
    if len(source) > MAX_SOURCE_CHARS:
        return TemplateProblem(f"a template field holds at most {MAX_SOURCE_CHARS // 1024} KB", None)
    try:
        template = (_HTML if html else _PLAIN).from_string(source)
        analysis = template.analyze()
    except LiquidError as error:
        return _problem(error, source)
    except RecursionError:
        return TemplateProblem("the template nests too deeply", None)
    environment = _HTML if html else _PLAIN
    for name, spans in analysis.filters.items():
        if name not in environment.filters:
            return TemplateProblem(f"unknown filter '{name}'", _line_at(source, spans[0].index))
    for uses in analysis.variables.values():
        for variable in uses:
            for segment in variable.segments:
                if isinstance(segment, str) and segment.startswith("__"):
                    return TemplateProblem(
                        f"{variable} is not allowed: names beginning with '__' are reserved",
                        _line_at(source, variable.span.index),
                    )
    return template


def template_check(source: str, *, html: bool = False) -> TemplateProblem | None:
    """The first problem of this template text, or None when it parses and is allowed."""
    compiled = _compile(source, html)
    return compiled if isinstance(compiled, TemplateProblem) else None


def template_variables(source: str) -> list[str]:
    """The top-level variable names a (valid) template reads, in order of first use."""
    compiled = _compile(source, False)
    if isinstance(compiled, TemplateProblem):
        return []
    return list(compiled.analyze().globals)


def render_text(source: str, context: Mapping[str, Any], *, field: str, html: bool = False) -> tuple[str, list[str]]:
    """Render one field; returns the text and the variables that came out blank because nobody supplied them.
    Raises TemplateRenderError when the text is not a valid template or a limit is hit."""
    if not source:
        return "", []
    compiled = _compile(source, html)
    if isinstance(compiled, TemplateProblem):
        raise TemplateRenderError(field, compiled)
    noted: list[str] = []
    token = _missing.set(noted)
    try:
        return compiled.render(context), noted
    except LiquidError as error:
        raise TemplateRenderError(field, _problem(error, source)) from None
    except RecursionError:
        raise TemplateRenderError(field, TemplateProblem("the template nests too deeply", None)) from None
    finally:
        _missing.reset(token)
