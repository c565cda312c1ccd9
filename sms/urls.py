from django.urls import path
from rest_framework.routers import SimpleRouter

from sms.api.account import SmsOptOutViewSet, SmsSandboxNumberViewSet, SmsSettingsApi
from sms.api.messages import SmsViewSet
from sms.api.otp import OtpViewSet

router = SimpleRouter(trailing_slash=False)
# Before "sms": its detail route would otherwise read "sandbox-numbers" as an SMS id.
router.register("sms/sandbox-numbers", SmsSandboxNumberViewSet, basename="sms-sandbox-number")
router.register("sms/opt-outs", SmsOptOutViewSet, basename="sms-opt-out")
router.register("sms", SmsViewSet, basename="sms")
router.register("otp", OtpViewSet, basename="otp")

urlpatterns = [path("sms/settings", SmsSettingsApi.as_view(), name="sms-settings"), *router.urls]
