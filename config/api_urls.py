"""Every /v1/ route, gathered from the apps. The tenancy test walks this list."""

from django.urls import include, path

# Emails first: POST /v1/emails is the hot path, and URL resolution walks these lists in order.
urlpatterns: list = [
    path("", include("emails.urls")),
    path("", include("accounts.urls")),
    path("", include("contacts.urls")),
    path("", include("sms.urls")),
    path("", include("push.urls")),
    path("", include("events.urls")),
    path("", include("events.broadcasts.urls")),
    path("", include("billing.urls")),
]
