from rest_framework.routers import SimpleRouter

from push.api.views import PushAppViewSet, PushDeviceViewSet, PushViewSet

router = SimpleRouter(trailing_slash=False)
# Apps and devices first: their prefixes would otherwise read as push ids.
router.register("push/apps", PushAppViewSet, basename="push-app")
router.register("push/devices", PushDeviceViewSet, basename="push-device")
router.register("push", PushViewSet, basename="push")

urlpatterns = router.urls
