"""The admin site every ModelAdmin is registered on, ours and other apps' alike, which lets a
list be filtered only by the filters its admin declares.

Django's admin takes any URL lookup up to one relation deep, reverse relations included:
/admin/screening/question/?answers__isnull=False listed the questions patients had answered,
?answers=<n> mapped answer ids to questions, and ?answers__gt=N walked them. Nothing that
reads a patient's answers is a declared filter, so refusing everything else closes the whole
family, for lists that do not exist yet too. Refused lookups get Django's own 400.

This module lives outside screening/admin/ on purpose: Django imports the default site's
class (screening.apps.ClinicAdminConfig) before any admin module registers, and importing
the screening.admin package would register its models on a site that is then replaced.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin import FieldListFilter
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth.forms import UsernameField
from django.db.models import Field
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

# The parameters a date_hierarchy adds to the URL (Django turns them into a range itself).
DATE_HIERARCHY_PARTS = ("year", "month", "day")


class DeclaredFiltersOnly:
    """A list may be filtered only as its own list_filter and date_hierarchy offer.

    The parameters allowed are exactly those the declared filters' specs produce (for a
    foreign key `version`: version__id__exact and version__isnull; for a date: __gte, __lt
    and __isnull; for a SimpleListFilter: its parameter_name), asked of the specs
    themselves so that no suffix is guessed. A NUL in any value is refused too: PostgreSQL
    cannot compare text with it (a 500 before).
    """

    def lookup_allowed(self, lookup, value, request: HttpRequest | None = None) -> bool:
        if "\x00" in str(value):
            return False
        return lookup in self.declared_filter_parameters(request)

    def declared_filter_parameters(self, request: HttpRequest) -> frozenset[str]:
        """Every URL parameter the declared filters read, worked out once per request."""
        cache = request.__dict__.setdefault("_declared_filter_parameters", {}) if request else {}
        key = id(self)
        if key not in cache:
            cache[key] = frozenset(self._filter_parameters(request))
        return cache[key]

    def _filter_parameters(self, request: HttpRequest):
        list_filter = self.get_list_filter(request) if request is not None else self.list_filter
        for item in list_filter:
            # Built as ChangeList.get_filters builds them, but from no parameters at all.
            if callable(item):  # a SimpleListFilter (or other list-filter class)
                spec = item(request, {}, self.model, self)
            else:
                path, filter_class = item if isinstance(item, list | tuple) else (item, None)
                if isinstance(path, Field):
                    field, field_path = path, None
                else:
                    field, field_path = get_fields_from_path(self.model, path)[-1], path
                spec = (filter_class or FieldListFilter.create)(
                    field, request, {}, self.model, self, field_path=field_path
                )
            yield from spec.expected_parameters()
        if self.date_hierarchy:
            yield from (f"{self.date_hierarchy}__{part}" for part in DATE_HIERARCHY_PARTS)


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's login form as the app's (screening/accounts/forms.EmailLoginForm) reads:
    "Email address", typed in any case; Django's admin form still refuses an account that
    may not use the admin. Its page is templates/admin/login.html, in the app's layout."""

    username = UsernameField(
        label=_("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": _(
            "That email address and password do not match an account that can use the "
            "clinic admin. Please try again."
        ),
    }

    def clean_username(self):
        return self.cleaned_data["username"].strip().lower()


class ClinicAdminSite(admin.AdminSite):
    """The default admin site (see screening.apps.ClinicAdminConfig): every ModelAdmin
    registered on it, django-otp's, django-axes' and Django's own included, is given
    DeclaredFiltersOnly ahead of its own lookup rules."""

    site_header = _("Clinic screening administration")
    site_title = _("Clinic screening admin")
    login_form = AdminLoginForm

    def register(self, model_or_iterable, admin_class=None, **options) -> None:
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, DeclaredFiltersOnly):
            admin_class = type(
                admin_class.__name__,
                (DeclaredFiltersOnly, admin_class),
                {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__},
            )
        super().register(model_or_iterable, admin_class, **options)
