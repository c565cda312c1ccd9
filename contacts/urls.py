from django.urls import path
from rest_framework.routers import SimpleRouter

from contacts.api.contacts import ContactTimelineApi, ContactViewSet
from contacts.api.events import ContactEventsIngestApi
from contacts.api.segments import SegmentViewSet, TagViewSet
from contacts.api.topics import TopicViewSet

router = SimpleRouter(trailing_slash=False)
router.register("contacts", ContactViewSet, basename="contact")
router.register("segments", SegmentViewSet, basename="segment")
router.register("tags", TagViewSet, basename="tag")
router.register("topics", TopicViewSet, basename="topic")

urlpatterns = [
    path("events", ContactEventsIngestApi.as_view(), name="contact-events"),
    path("contacts/<int:pk>/timeline", ContactTimelineApi.as_view(), name="contact-timeline"),
    *router.urls,
]
