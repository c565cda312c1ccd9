"""The operator console's conventions for log tables (emails, events, notifications, deliveries, ...).

Logs are logs: their rows record what happened, so the admin shows them and offers actions that call services
(resend, cancel, retry, replay), never an edit form or a delete button. Their tables are big, so they are never
counted: the changelist says "many results" and pages forward and back (templates/admin/pagination.html).
"""

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest
from django.utils.functional import cached_property


class NoCountPaginator(Paginator):
    """Never COUNT(*) millions of rows to draw page links. `count` is a ceiling only the changelist's arithmetic
    sees; `estimates` tells the templates to show no count and no "Show all" or "Select all N"."""

    estimates = True

    @cached_property
    def count(self) -> int:
        return 10**9


class ReadOnlyLogAdmin:
    """Mixed into a ModelAdmin (or an inline) of a log table: viewable, actionable, never editable or deletable."""

    paginator: type[Paginator] = NoCountPaginator
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
