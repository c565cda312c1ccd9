from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts.api import AccountRetrieveApi, ApiTokenViewSet, AwsConnectionViewSet

router = SimpleRouter(trailing_slash=False)
router.register("tokens", ApiTokenViewSet, basename="token")
router.register("aws-connections", AwsConnectionViewSet, basename="aws-connection")

urlpatterns = [
    path("account", AccountRetrieveApi.as_view(), name="account"),
    *router.urls,
]
