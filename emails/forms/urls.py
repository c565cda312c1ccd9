"""Public routes of sign-up forms, under /f/ (no token: see emails/forms/views.py)."""

from django.urls import path

from emails.forms import views

urlpatterns = [
    path("confirm/<str:token>", views.signup_confirm_page, name="signup-confirm"),
    path("<slug:key>.js", views.form_script, name="signup-form-script"),
    path("<slug:key>", views.form_submit, name="signup-form-submit"),
]
