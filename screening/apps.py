from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate


def _ensure_roles(sender: AppConfig, **kwargs: object) -> None:
    # Permissions only exist after migrate has run, so the groups are set up here.
    from .services.roles import ensure_roles

    ensure_roles()


class ScreeningConfig(AppConfig):
    name = "screening"
    verbose_name = "Pre-treatment screening"

    def ready(self) -> None:
        post_migrate.connect(_ensure_roles, sender=self)


class ClinicAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with our site as the default: every ModelAdmin, any app's, is
    registered on screening.admin_site.ClinicAdminSite."""

    default = False  # ScreeningConfig stays this module's configuration for "screening"
    default_site = "screening.admin_site.ClinicAdminSite"
