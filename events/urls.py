from django.urls import path
from rest_framework.routers import SimpleRouter

from events.api import AwsConnectionHealthApi, WebhookEndpointViewSet
from events.automations.api import AutomationRunApi, AutomationRunsApi, AutomationViewSet

router = SimpleRouter(trailing_slash=False)
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")
router.register("automations", AutomationViewSet, basename="automation")

urlpatterns = [
    path("aws-connections/<uuid:pk>/health", AwsConnectionHealthApi.as_view(), name="aws-connection-health"),
    path("automations/<uuid:pk>/runs", AutomationRunsApi.as_view(), name="automation-runs"),
    path("automations/<uuid:pk>/runs/<int:run_id>", AutomationRunApi.as_view(), name="automation-run"),
    *router.urls,
]
