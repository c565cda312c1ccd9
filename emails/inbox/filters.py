import django_filters
from django.db.models import Q, QuerySet

from emails.inbox.models import Conversation
from emails.inbox.selectors import conversations_search


class ConversationFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Conversation.Status.choices, help_text="Repeat for several.")
    assignee = django_filters.CharFilter(
        method="filter_assignee", help_text="A member's email, or `none` for unassigned conversations."
    )
    flagged = django_filters.BooleanFilter(help_text="Only conversations with (or without) flagged mail.")
    q = django_filters.CharFilter(method="filter_search", help_text="Text in an address, a subject or a message.")

    class Meta:
        model = Conversation
        fields: list[str] = []

    def filter_assignee(self, queryset: QuerySet[Conversation], name: str, value: str) -> QuerySet[Conversation]:
        if value.strip().lower() == "none":
            return queryset.filter(assignee__isnull=True)
        return queryset.filter(Q(assignee__email__iexact=value.strip()))

    def filter_search(self, queryset: QuerySet[Conversation], name: str, value: str) -> QuerySet[Conversation]:
        return conversations_search(queryset, value)
