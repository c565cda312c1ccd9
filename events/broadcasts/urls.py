from rest_framework.routers import SimpleRouter

from events.broadcasts.api import BroadcastViewSet

router = SimpleRouter(trailing_slash=False)
router.register("broadcasts", BroadcastViewSet, basename="broadcast")

urlpatterns = router.urls
