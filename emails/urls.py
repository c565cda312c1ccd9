from django.urls import URLPattern
from rest_framework.routers import SimpleRouter

from emails.api.emails import EmailViewSet
from emails.api.identities import IdentityViewSet
from emails.api.lean import lean_route
from emails.api.policy import BlockedDomainViewSet, SuppressionViewSet
from emails.forms.api import SignupFormViewSet
from emails.inbox.api import ConversationViewSet
from emails.templating.api import TemplateViewSet

router = SimpleRouter(trailing_slash=False)
router.register("emails", EmailViewSet, basename="email")
router.register("suppressions", SuppressionViewSet, basename="suppression")
router.register("blocked-domains", BlockedDomainViewSet, basename="blocked-domain")
router.register("identities", IdentityViewSet, basename="identity")
router.register("forms", SignupFormViewSet, basename="signup-form")
router.register("conversations", ConversationViewSet, basename="conversation")
router.register("templates", TemplateViewSet, basename="template")

# POST /v1/emails, the hot path, takes the lean path in front of the DRF view (emails/api/lean.py).
urlpatterns = [
    lean_route(route) if isinstance(route, URLPattern) and route.name == "email-list" else route
    for route in router.urls
]
