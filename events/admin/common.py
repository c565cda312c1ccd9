"""Helpers shared by the events app's admin pages."""

import json
from typing import Any

from django.utils.html import format_html


def pretty(value: Any) -> str:
    return format_html("<pre style='white-space: pre-wrap; max-width: 100ch'>{}</pre>", json.dumps(value, indent=2))


def pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.2f}%"
