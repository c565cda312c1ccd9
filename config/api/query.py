"""One query-parameter rule for every list endpoint: a parameter the list does not know is a 422 that names the ones
it does, so a typo (`?stauts=delivered`) never silently returns everything.

What a list knows: its paginator's `cursor` and `limit`, every filter of its FilterSet, and what the view or the
FilterSet add (`extra_query_params`, e.g. contacts' `count`; `query_param_patterns`, e.g. emails'
`custom_fields__KEY`). The paginator calls the check, so every list gets it, actions included.
"""

import re
from typing import Any

from rest_framework.request import Request

from config.api.errors import RequestValidationError

PAGING_PARAMS = ("cursor", "limit")


def _known(view: Any) -> tuple[set[str], dict[str, re.Pattern[str]]]:
    names = set(PAGING_PARAMS) | set(getattr(view, "extra_query_params", ()))
    patterns: dict[str, re.Pattern[str]] = {}
    filterset_class = getattr(view, "filterset_class", None) if _lists_its_own_queryset(view) else None
    if filterset_class is not None:
        names |= set(filterset_class.base_filters)
        names |= set(getattr(filterset_class, "extra_query_params", ()))
        patterns.update(getattr(filterset_class, "query_param_patterns", {}))
    return names, patterns


def _lists_its_own_queryset(view: Any) -> bool:
    """A viewset's extra list action (a segment's contacts, an endpoint's deliveries) pages another model."""
    action = getattr(view, "action", None)
    return action in (None, "list")


def query_params_check(request: Request, view: Any) -> None:
    names, patterns = _known(view)
    unknown = [
        key
        for key in request.query_params
        if key not in names and not any(pattern.match(key) for pattern in patterns.values())
    ]
    if unknown:
        valid = ", ".join(sorted(names | set(patterns)))
        raise RequestValidationError(
            {key: [f"Unknown parameter {key!r}; this list takes: {valid}."] for key in sorted(unknown)},
            location="query",
        )
