"""Small factories for staff-side tests: submitted screenings with chosen levels and flags."""

import itertools
from datetime import timedelta

from django.utils import timezone

from screening.engine.severity import Severity
from screening.models import Flag, QuestionSetVersion, Screening, User

_numbers = itertools.count(1)


def make_patient(name=None):
    number = next(_numbers)
    return User.objects.create_user(
        email=f"patient{number}@example.com",
        password=None,
        full_name=name or f"Patient Number{number}",
    )


def make_submitted_screening(
    *, level="", flags=(), patient=None, minutes_ago=0, status="submitted"
):
    """A submitted screening whose flags are given as (code, severity) pairs."""
    version = QuestionSetVersion.objects.published().filter(question_set__purpose="intake").first()
    flags = list(flags) or ([(f"demo_{level}", level)] if level else [])
    level = max((severity for _, severity in flags), key=Severity.rank_of, default="")
    submitted_at = timezone.now() - timedelta(minutes=minutes_ago)
    screening = Screening.objects.create(
        patient=patient or make_patient(),
        version=version,
        status=status,
        submitted_at=submitted_at,
        level=level,
        level_rank=Severity.rank_of(level),
        flag_count=len(flags),
        scores=[{"code": "phq9_total", "name": "PHQ-9 total", "value": 7, "band": "Mild"}],
    )
    Flag.objects.bulk_create(
        Flag(
            screening=screening,
            code=code,
            severity=severity,
            title=f"Title of {code}",
            message=f"Message of {code}",
            rationale="Because.",
            source="TEST",
            evidence=[],
            position=position,
        )
        for position, (code, severity) in enumerate(flags)
    )
    return screening
