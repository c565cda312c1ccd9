from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.views import favicon, healthz, home
from contacts.api.add_contact import AddContactApi
from contacts.views import preferences, unsubscribe
from emails.api.emails import PendableEmailAliasViewSet
from emails.api.lean import lean_accept
from events.views import sns_webhook

admin.site.site_header = "Sesame operator console"
admin.site.site_title = "Sesame"
admin.site.index_title = "Operations"

urlpatterns = [
    path("", home, name="home"),
    path("favicon.ico", favicon, name="favicon"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("v1/schema", SpectacularAPIView.as_view(), name="schema"),
    path("v1/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("v1/", include("config.api_urls")),
    # Send With SES's contacts call, at its own path.
    path("add-contact", AddContactApi.as_view(), name="add-contact"),
    # Links in bulk email (RFC 8058 one-click unsubscribe, the preference centre): the token is the credential.
    path("u/<str:token>", unsubscribe, name="unsubscribe"),
    path("u/<str:token>/preferences", preferences, name="preferences"),
    # Sign-up forms' public script, endpoint and confirmation pages (no token).
    path("f/", include("emails.forms.urls")),
    path("webhooks/sns/<str:connection_id>", sns_webhook, name="sns-webhook"),
    # Pendable's clients post to /emails without a version prefix.
    path("emails", lean_accept(PendableEmailAliasViewSet.as_view({"post": "create"})), name="email-create-pendable"),
]
