"""Top-level URLs: accounts, the admin, and the screening app."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from screening.forms import EmailLoginForm

admin.site.site_header = "Clinic screening administration"
admin.site.site_title = "Clinic screening admin"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html",
            authentication_form=EmailLoginForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("screening.urls")),
]
