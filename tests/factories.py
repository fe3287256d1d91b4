"""Small factories for staff-side tests: submitted screenings with chosen levels and flags."""

import itertools
from datetime import timedelta

from django.utils import timezone

from screening.engine.severity import Severity
from screening.models import Flag, QuestionSetVersion, Screening, Submission, User

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


ITEM9_ANSWERS = {
    0: "not_at_all",
    1: "several_days",
    2: "more_than_half_the_days",
    3: "nearly_every_day",
}


def make_sent_questionnaire(
    *,
    patient,
    phq9: int | None,
    item9: int = 0,
    gad7: int | None = None,
    days_ago: int = 0,
    resent_phq9: int | None = None,
    status: str = "decided",
):
    """A questionnaire the patient sent `days_ago` (a submitted screening with its snapshot),
    with a PHQ-9 total, item 9's answer scored `item9`, and a GAD-7 total if given. With
    `resent_phq9` it was sent a second time, a day later, with that PHQ-9 total."""
    scores = []
    if phq9 is not None:
        scores.append({"code": "phq9_total", "name": "PHQ-9 total", "value": phq9, "band": ""})
    if gad7 is not None:
        scores.append({"code": "gad7_total", "name": "GAD-7 total", "value": gad7, "band": ""})
    screening = make_submitted_screening(patient=patient, minutes_ago=days_ago * 24 * 60)
    answers = {
        "date_of_birth": "1980-06-15",
        "sex_at_birth": "female",
        "phq9_9": ITEM9_ANSWERS[item9],
    }
    sent_at = screening.submitted_at
    Submission.objects.create(
        screening=screening, number=1, submitted_at=sent_at, answers=answers, scores=scores
    )
    count = 1
    if resent_phq9 is not None:
        count = 2
        sent_at = sent_at + timedelta(days=1)
        resent = [dict(s, value=resent_phq9) if s["code"] == "phq9_total" else s for s in scores]
        Submission.objects.create(
            screening=screening, number=2, submitted_at=sent_at, answers=answers, scores=resent
        )
    Screening.objects.filter(pk=screening.pk).update(
        status=status, scores=scores, submission_count=count, submitted_at=sent_at
    )
    screening.refresh_from_db()
    return screening


TRANSLATION_OFFER = "  languages: [es, en-gb]\n"


def without_translations(content_text: str) -> str:
    """A default content file's text offering no translations: a test that changes its texts
    (or loads it from another folder) need not rewrite the translation files beside it."""
    assert TRANSLATION_OFFER in content_text
    return content_text.replace(TRANSLATION_OFFER, "", 1)
