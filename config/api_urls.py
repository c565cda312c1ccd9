"""Every /v1/ route, gathered from the apps. The tenancy test walks this list."""

from django.urls import include, path

urlpatterns: list = [
    path("", include("accounts.urls")),
    path("", include("contacts.urls")),
    path("", include("emails.urls")),
    path("", include("events.urls")),
]
