from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend

from config.api.errors import RequestValidationError


class QueryFilterBackend(DjangoFilterBackend):
    """django-filter, with bad query parameters reported as 422 at ["query", name]."""

    def filter_queryset(self, request: Any, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise RequestValidationError(dict(filterset.errors), location="query")
        return filterset.qs
