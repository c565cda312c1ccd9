from django.urls import path
from rest_framework.routers import SimpleRouter

from events.api import AwsConnectionHealthApi, WebhookEndpointViewSet

router = SimpleRouter(trailing_slash=False)
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")

urlpatterns = [
    path("aws-connections/<uuid:pk>/health", AwsConnectionHealthApi.as_view(), name="aws-connection-health"),
    *router.urls,
]
