from functools import cached_property
from typing import Any, cast

from django.core.paginator import Paginator
from django.db.models import QuerySet

# Counting a million-row table on every admin page costs more than the page; counts stop here.
COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 rows (`SELECT count(*) FROM (... LIMIT n)`), so big tables page cheaply; the
    last page numbers are simply not offered past the cap."""

    @cached_property
    def count(self) -> int:
        return cast(QuerySet[Any], self.object_list)[: COUNT_CAP + 1].count()
