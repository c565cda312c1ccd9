"""What every contacts endpoint shares: the contacts scope, the template-key header, query-string errors as 422."""

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request

from accounts.permissions import HasContactsScope
from config.api.errors import RequestValidationError
from contacts.services import ContactError


class ContactsApiMixin:
    """Full tokens and contacts-only keys (Send With SES's contact upload secret), also as `template-key`."""

    permission_classes: Sequence[Any] = [HasContactsScope]
    accepts_template_key = True


class QueryFilterBackend(DjangoFilterBackend):
    """django-filter, with a bad parameter answered as a 422 located in the query string."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise RequestValidationError(filterset.errors, location="query")
        return filterset.qs


def contact_error(exc: ContactError) -> RequestValidationError:
    return RequestValidationError({exc.field: [str(exc)]}, code=exc.code)
