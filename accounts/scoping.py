"""Tenancy for API views: every queryset a view touches is filtered by the caller's account."""

from typing import Any, Generic, TypeVar

from django.db.models import Model, QuerySet

from accounts.permissions import request_account

M = TypeVar("M", bound=Model)


class AccountScopedMixin(Generic[M]):
    """Set `scoped_model`; lookups outside the caller's account then answer 404, never 403."""

    scoped_model: type[M]
    request: Any

    def get_queryset(self) -> QuerySet[M]:
        manager = self.scoped_model._default_manager
        if getattr(self, "swagger_fake_view", False):  # schema generation has no caller
            return manager.none()
        return self.scoped_queryset(manager.filter(account=request_account(self.request)))

    def scoped_queryset(self, queryset: QuerySet[M]) -> QuerySet[M]:
        """Hook for select_related / annotations on the already-scoped queryset."""
        return queryset
