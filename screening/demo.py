"""Demo data for trying the app locally: patients whose submitted screenings fill the queue.

Development only (create_demo_accounts refuses to run with DEBUG off). The answers go
through the real submit path, so the flags the physician sees are the engine's own.
"""

from collections.abc import Iterable

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import Answer, CompletedSection, Screening, User
from .selectors import current_version
from .services.intake import submit_screening
from .services.two_factor import code_shown

DEMO_PASSWORD = "demo-screening-2026"

# A calm patient: every question the default set shows her, answered with nothing to flag.
CALM_ANSWERS = {
    "date_of_birth": "1986-03-14",
    "sex_at_birth": "female",
    "height_cm": {"cm": 168.0},
    "weight_kg": {"kg": 64.5},
    "treatment_reason": ["depression"],
    "antidepressants_tried": "two",
    "prior_treatments": ["talking_therapy"],
    "has_prescriber": "yes",
    "prescriber_name": "Dr Rivera, Elm Street Clinic",
    "has_therapist": "no",
    "emergency_contact_name": "Sam Lee, my sister",
    "emergency_contact_phone": "555 201 4479",
    "can_be_pregnant": "yes",
    "pregnant": "no",
    "breastfeeding": "no",
    "contraception": "yes",
    "cv_conditions": ["none"],
    "cardiac_symptoms": ["none"],
    "neuro_conditions": ["none"],
    "eye_conditions": ["none"],
    "liver_kidney_conditions": ["none"],
    "porphyria": "no",
    "lung_sleep_conditions": ["none"],
    "thyroid_overactive": "no",
    "psych_history": ["depression"],
    "psychotic_symptoms_now": "no",
    "elevated_mood_now": "no",
    "family_psychosis": "no",
    "dissociation_history": "no",
    "sud_status": "none",
    "ketamine_nonmedical_ever": "no",
    "used_last_24h": "no",
    "recreational_substances": {"rows": [], "none": True},
    "auditc_1": "monthly_or_less",
    "auditc_2": "one_or_two",
    "auditc_3": "never",
    "medications": {
        "rows": [{"name": "Sertraline", "dose": "100 mg", "frequency": "daily"}],
        "none": False,
    },
    "grapefruit": "no",
    "ketamine_before": "no",
    "ketamine_allergy": "no",
    "ketamine_other_source": "no",
    "drug_allergies": "no",
    **{f"phq9_{i}": "several_days" for i in range(1, 9)},
    "phq9_9": "not_at_all",
    "phq9_difficulty": "somewhat_difficult",
    "suicide_wish_dead": "no",
    "suicide_thoughts": "no",
    "suicide_behaviour_ever": "no",
    **{f"gad7_{i}": "several_days" for i in range(1, 8)},
    "trauma_exposure": "no",
    "bp": {"systolic": 122, "diastolic": 78},
    "heart_rate": 72,
    "transport_home": "yes",
    "escort_name": "Sam Lee",
    "escort_phone": "555 201 4479",
}

# One demo patient per level, so the queue shows each (most urgent first).
DEMO_PATIENTS = [
    (
        "uma.urgent@example.com",
        "Uma Urgent",
        {
            "phq9_9": "several_days",
            "questions_for_clinic": "Can I keep taking my sertraline on treatment days?",
        },
    ),
    ("cora.contra@example.com", "Cora Contraindicated", {"pregnant": "yes"}),
    (
        "cal.caution@example.com",
        "Cal Caution",
        {
            "medications": {
                "rows": [
                    {"name": "Biaxin", "dose": "500 mg", "frequency": "twice a day"},
                    {"name": "Xanax", "dose": "0.5 mg", "frequency": "at night"},
                ],
                "none": False,
            },
            "bp": {"systolic": 150, "diastolic": 88},
        },
    ),
    ("ian.info@example.com", "Ian Info", {"date_of_birth": "1952-06-01", "sex_at_birth": "male"}),
    ("nora.nothing@example.com", "Nora Nothing", {}),
]


@transaction.atomic
def seed_demo_screenings() -> int:
    """Create the demo patients' submitted screenings; returns how many were created."""
    version = current_version()
    questions = {q.code: q for q in version.questions.all()}
    created = 0
    for email, name, changes in DEMO_PATIENTS:
        if User.objects.filter(email=email).exists():
            continue
        patient = User.objects.create_user(email=email, password=DEMO_PASSWORD, full_name=name)
        screening = Screening.objects.create(patient=patient, version=version)
        answers = {**CALM_ANSWERS, **changes}
        Answer.objects.bulk_create(
            Answer(screening=screening, question=questions[code], value=value)
            for code, value in answers.items()
            if code in questions
        )
        CompletedSection.objects.bulk_create(
            CompletedSection(screening=screening, section=section)
            for section in version.sections.all()
        )
        # No urgent alert email: the worker of `make run` would print it whole in the
        # terminal, about a made-up patient, just below the demo accounts.
        submit_screening(screening=screening, alert_physicians=False)
        created += 1
    return created


def demo_authenticator(user: User) -> TOTPDevice:
    """The demo staff member's confirmed authenticator device (created on first run)."""
    device = TOTPDevice.objects.devices_for_user(user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="Demo authenticator", confirmed=True)


def current_codes(users: Iterable[User]) -> dict[str, str]:
    """What each demo staff member's authenticator app would show now."""
    return {user.email: code_shown(demo_authenticator(user)) for user in users}
