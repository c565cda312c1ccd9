from django.urls import path
from rest_framework.routers import SimpleRouter

from billing.api import (
    BillingCancelApi,
    BillingChangePlanApi,
    BillingOverageCapApi,
    BillingRetrieveApi,
    InvoiceViewSet,
    PlanListApi,
)

router = SimpleRouter(trailing_slash=False)
router.register("invoices", InvoiceViewSet, basename="invoice")

urlpatterns = [
    path("billing", BillingRetrieveApi.as_view(), name="billing"),
    path("billing/plans", PlanListApi.as_view(), name="billing-plans"),
    path("billing/change-plan", BillingChangePlanApi.as_view(), name="billing-change-plan"),
    path("billing/overage-cap", BillingOverageCapApi.as_view(), name="billing-overage-cap"),
    path("billing/cancel", BillingCancelApi.as_view(), name="billing-cancel"),
    *router.urls,
]
