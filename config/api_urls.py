"""Every /v1/ route, gathered from the apps. The tenancy test walks this list."""

from django.urls import include, path

urlpatterns: list = [
    path("", include("accounts.urls")),
]
