"""Helpers shared by the events app's admin pages."""

import json
from typing import Any

from django.core.paginator import Paginator
from django.utils.functional import cached_property
from django.utils.html import format_html


class NoCountPaginator(Paginator):
    """Event tables grow without bound: never COUNT(*) them to draw page links."""

    @cached_property
    def count(self) -> int:
        return 10**9


def pretty(value: Any) -> str:
    return format_html("<pre style='white-space: pre-wrap; max-width: 100ch'>{}</pre>", json.dumps(value, indent=2))


def pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.2f}%"
