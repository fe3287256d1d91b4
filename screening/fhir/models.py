"""API tokens: one per client system (an EHR's interface engine, a reporting job).

Re-exported by screening/models.py, so Django and the migrations see it as the screening
app's model. Only a SHA-256 hash of the token is stored; the token itself is shown once,
when it is issued (screening/fhir/tokens.py).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class ApiTokenQuerySet(models.QuerySet):
    def usable(self):
        """Neither revoked nor expired."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class ApiToken(models.Model):
    """A read-only credential for the FHIR API, for one client system."""

    class Scope(models.TextChoices):
        # Patient data: screenings (QuestionnaireResponse, Bundle) and the question sets.
        SCREENINGS_READ = "screenings.read", "Read screenings (patient data) and question sets"
        # No patient data at all: for a system that only needs the forms.
        QUESTIONNAIRES_READ = "questionnaires.read", "Read question sets only (no patient data)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client_name = models.CharField(
        max_length=200, help_text="The system that will use it, e.g. 'Epic interface engine'."
    )
    scope = models.CharField(max_length=30, choices=Scope.choices)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The token's first characters, so staff can tell tokens apart without the secret.
    token_prefix = models.CharField(max_length=16, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    requests_per_minute = models.PositiveIntegerField(
        default=120,
        validators=[MinValueValidator(1), MaxValueValidator(6000)],
        help_text="Requests beyond this in one minute get 429 Too Many Requests.",
    )
    # The rate limit's current one-minute window, counted in the database so that every
    # app server shares it.
    window_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    window_count = models.PositiveIntegerField(default=0, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        app_label = "screening"
        ordering = ["-created_at"]
        verbose_name = "FHIR API token"
        permissions = [
            (
                "issue_screening_token",
                "Can issue FHIR API tokens that read screenings (patient data)",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="api_token_expires_after_issue"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_name} ({self.token_prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    @property
    def reads_screenings(self) -> bool:
        return self.scope == self.Scope.SCREENINGS_READ
