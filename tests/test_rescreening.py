"""Re-screening (issue 14, item 5): a clearance holds CLEARANCE_VALID_DAYS from its signature
or until a physician asks again; then the patient repeats the full intake, starting from
their previous answers, and the physician sees what changed.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from screening.engine.questionnaire import (
    HEIGHT,
    INTEGER,
    MULTIPLE_CHOICE,
    SINGLE_CHOICE,
    YES_NO,
    ChoiceDef,
    QuestionDef,
)
from screening.models import (
    Answer,
    AuditEvent,
    Choice,
    CompletedSection,
    Decision,
    Question,
    RescreeningRequest,
    Screening,
)
from screening.selectors import ClearanceStatus, current_clearance
from screening.services.content import make_draft
from screening.services.intake import AlreadyScreened, start_first_screening, start_screening
from screening.services.rescreening import answer_still_fits, copy_previous_answers
from screening.services.review import acknowledge_flag, record_decision
from tests.logins import log_in_staff

from .intake_helpers import fill_intake

pytestmark = pytest.mark.django_db

BLORBEX = {"medications-none": "", "medications-rows": "1", "medications-0-name": "Blorbex 10 mg"}
REASON = "New diagnosis of uncontrolled hypertension reported by the GP; re-check before dosing"


def submit(client, screening):
    response = client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    assert response.status_code == 302
    screening.refresh_from_db()
    assert screening.status == Screening.Status.SUBMITTED


def clear(screening, physician, outcome=Decision.Outcome.CLEARED, **extra):
    """Acknowledge every flag and sign a clearing (or other) decision, through the services."""
    for flag in screening.flags.all():
        screening.refresh_from_db()
        acknowledge_flag(
            flag=flag, physician=physician, note="", seen_version=screening.lock_version
        )
    screening.refresh_from_db()
    return record_decision(
        screening=screening,
        physician=physician,
        outcome=outcome,
        seen_version=screening.lock_version,
        **extra,
    )


@pytest.fixture
def cleared(patient, patient_client, physician, default_version):
    """Alice answered the whole intake (blood pressure 120/80, no medicines) and was cleared."""
    screening = start_screening(patient=patient)
    fill_intake(patient_client, screening, {"bp_systolic": "120", "bp_diastolic": "80"})
    submit(patient_client, screening)
    clear(screening, physician)
    screening.refresh_from_db()
    return screening


def signed_at(screening):
    return screening.decisions.get().signed_at


# Clearance status -------------------------------------------------------------------------


def test_a_patient_never_decided_has_no_clearance(patient, default_version):
    assert current_clearance(patient).status == ClearanceStatus.NONE


def test_a_clearance_is_valid_until_the_last_second_of_its_180_days_and_expired_from_then(
    cleared, patient
):
    signed = signed_at(cleared)
    at = lambda delta: current_clearance(patient, now=signed + delta)  # noqa: E731
    assert at(timedelta(days=179)).status == ClearanceStatus.VALID
    assert at(timedelta(days=180) - timedelta(seconds=1)).status == ClearanceStatus.VALID
    assert at(timedelta(days=180)).status == ClearanceStatus.EXPIRED
    assert at(timedelta(days=181)).status == ClearanceStatus.EXPIRED
    assert at(timedelta(days=0)).expires_at == signed + timedelta(days=180)
    assert at(timedelta(days=0)).decision.screening_id == cleared.pk


def test_the_validity_follows_the_setting(cleared, patient, settings):
    settings.CLEARANCE_VALID_DAYS = 30
    signed = signed_at(cleared)
    assert current_clearance(patient, now=signed + timedelta(days=29)).is_valid
    assert current_clearance(patient, now=signed + timedelta(days=30)).needs_rescreening


def test_not_a_candidate_signed_after_a_clearance_ends_it(cleared, patient, physician):
    record_decision(
        screening=cleared,
        physician=physician,
        outcome=Decision.Outcome.NOT_A_CANDIDATE,
        seen_version=cleared.lock_version,
        reason="Reported a psychotic episode by phone",
    )
    clearance = current_clearance(patient)
    assert clearance.status == ClearanceStatus.NONE
    assert not clearance.is_valid


def test_a_clearance_amended_to_more_information_needed_no_longer_stands(
    cleared, patient, physician
):
    record_decision(
        screening=cleared,
        physician=physician,
        outcome=Decision.Outcome.MORE_INFORMATION_NEEDED,
        seen_version=cleared.lock_version,
        message_to_patient="Please tell us the dose of your new medicine.",
    )
    assert current_clearance(patient).status == ClearanceStatus.NONE


def test_cleared_with_conditions_is_a_clearance(
    patient, patient_client, physician, default_version
):
    screening = start_screening(patient=patient)
    fill_intake(patient_client, screening)
    submit(patient_client, screening)
    clear(
        screening,
        physician,
        outcome=Decision.Outcome.CLEARED_WITH_CONDITIONS,
        conditions="Blood pressure re-checked on the day",
    )
    assert current_clearance(patient).is_valid


# The physician asks for re-screening --------------------------------------------------------


def rescreen_url(screening):
    return f"/staff/screenings/{screening.pk}/rescreen/"


def test_a_physician_asks_for_re_screening_once_audited_and_the_patient_is_emailed(
    cleared, patient, physician_client, mailoutbox
):
    page = physician_client.get(f"/staff/screenings/{cleared.pk}/").content.decode()
    assert "Ask for re-screening" in page
    mailoutbox.clear()
    for _ in range(2):  # a double click
        response = physician_client.post(rescreen_url(cleared), {"rescreen-reason": REASON})
        assert response.status_code == 302
    assert RescreeningRequest.objects.filter(screening=cleared).count() == 1
    assert AuditEvent.objects.filter(action="rescreening.requested").count() == 1
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [patient.email]
    assert "hypertension" not in mailoutbox[0].body and "re-screen" not in mailoutbox[0].subject
    assert current_clearance(patient).status == ClearanceStatus.RESCREENING_REQUESTED
    page = physician_client.get(f"/staff/screenings/{cleared.pk}/").content.decode()
    assert REASON in page
    assert "Ask for re-screening" not in page


def test_a_re_screening_request_needs_a_reason_said_next_to_the_field(
    cleared, patient, physician_client
):
    response = physician_client.post(rescreen_url(cleared), {"rescreen-reason": "   "})
    assert response.status_code == 200
    html = response.content.decode()
    field_at = html.index('name="rescreen-reason"')
    message_at = html.index("Please say why the patient should be screened again.")
    assert abs(message_at - field_at) < 1500
    assert not RescreeningRequest.objects.exists()
    assert current_clearance(patient).is_valid


@pytest.mark.parametrize("who", ["clinic_admin", "patient", "other_patient"])
def test_only_a_physician_may_ask_for_re_screening(cleared, who, request):
    user = request.getfixturevalue(who)
    client = Client()
    if who == "clinic_admin":
        log_in_staff(client, user)
    else:
        client.force_login(user)
    response = client.post(rescreen_url(cleared), {"rescreen-reason": REASON})
    assert response.status_code == 403
    assert not RescreeningRequest.objects.exists()


def test_re_screening_is_refused_on_a_screening_without_the_current_clearance(
    cleared, physician, physician_client
):
    record_decision(
        screening=cleared,
        physician=physician,
        outcome=Decision.Outcome.NOT_A_CANDIDATE,
        seen_version=cleared.lock_version,
        reason="Not suitable",
    )
    response = physician_client.post(
        rescreen_url(cleared), {"rescreen-reason": REASON}, follow=True
    )
    assert "holds the patient&#x27;s current clearance" in response.content.decode()
    assert not RescreeningRequest.objects.exists()


# The patient repeats the intake -------------------------------------------------------------


def ask_again(screening, physician_client):
    response = physician_client.post(rescreen_url(screening), {"rescreen-reason": REASON})
    assert response.status_code == 302


def test_the_patient_is_told_plainly_their_doctor_asks_them_to_answer_again(
    cleared, patient_client, physician_client
):
    home = patient_client.get("/screenings/").content.decode()
    assert "You are cleared for treatment" in home
    assert "Start the questionnaire again" not in home
    ask_again(cleared, physician_client)
    home = patient_client.get("/screenings/").content.decode()
    assert "Your doctor has asked you to answer the questionnaire again" in home
    assert "Start the questionnaire again" in home
    assert REASON not in home  # the physician's note is not the patient's to read


def test_the_patient_is_told_their_clearance_has_ended_when_it_expires(cleared, patient_client):
    Decision.objects.filter(screening=cleared).update(
        signed_at=timezone.now() - timedelta(days=181)
    )
    home = patient_client.get("/screenings/").content.decode()
    assert "Your clearance for treatment has ended" in home
    assert "Start the questionnaire again" in home


def test_start_makes_a_new_pre_filled_screening_and_leaves_the_old_one_untouched(
    cleared, patient, patient_client, physician_client
):
    ask_again(cleared, physician_client)
    before = sorted(Answer.objects.filter(screening=cleared).values_list("question_id", "value"))
    response = patient_client.post("/screenings/start/")
    assert response.status_code == 302
    again = patient_client.post("/screenings/start/")  # a second tab, a double click
    new = Screening.objects.exclude(pk=cleared.pk).get()
    assert again.url == response.url == f"/screenings/{new.pk}/"
    assert new.previous_id == cleared.pk
    assert new.status == Screening.Status.IN_PROGRESS
    copied = dict(new.answers.values_list("question__code", "value"))
    assert copied["date_of_birth"] == "1980-05-17"
    assert "bp" not in copied  # today's blood pressure is asked afresh
    assert not CompletedSection.objects.filter(screening=new).exists()
    # The old screening keeps every answer, its status and its decision.
    cleared.refresh_from_db()
    assert cleared.status == Screening.Status.DECIDED
    assert (
        sorted(Answer.objects.filter(screening=cleared).values_list("question_id", "value"))
        == before
    )
    # The patient starts at the first page, shown their answer and told to check it.
    first = patient_client.get(f"/screenings/{new.pk}/", follow=True)
    html = first.content.decode()
    assert first.redirect_chain[-1][0].endswith("/page/about_you/")
    assert "From your last questionnaire" in html
    assert 'value="1980-05-17"' in html


def test_a_patient_cannot_start_another_while_the_clearance_is_valid(cleared, patient):
    with pytest.raises(AlreadyScreened):
        start_first_screening(patient=patient)


def test_a_sent_re_screening_is_not_started_again(
    cleared, patient, patient_client, physician_client
):
    ask_again(cleared, physician_client)
    new = start_first_screening(patient=patient)
    fill_intake(patient_client, new)
    submit(patient_client, new)
    with pytest.raises(AlreadyScreened):
        start_first_screening(patient=patient)
    assert Screening.objects.filter(patient=patient).count() == 2


def test_a_cleared_re_screening_makes_the_clearance_valid_again(
    cleared, patient, patient_client, physician, physician_client
):
    ask_again(cleared, physician_client)
    new = start_first_screening(patient=patient)
    fill_intake(patient_client, new)
    submit(patient_client, new)
    assert current_clearance(patient).status == ClearanceStatus.RESCREENING_REQUESTED
    clear(new, physician)
    clearance = current_clearance(patient)
    assert clearance.is_valid
    assert clearance.decision.screening_id == new.pk


def test_answers_that_no_longer_fit_the_current_version_are_not_copied(
    cleared, clinic_admin, default_version
):
    draft = make_draft(source=default_version, actor=clinic_admin, ip_address=None)
    # The answer "female" is no longer offered; height is now asked as a plain number;
    # the date of birth is asked as before.
    Choice.objects.filter(question__version=draft, question__code="sex_at_birth").filter(
        value="female"
    ).delete()
    Question.objects.filter(version=draft, code="height_cm").update(kind=INTEGER)
    Question.objects.filter(version=draft, code="weight_kg").delete()
    new = Screening.objects.create(patient=cleared.patient, version=draft, previous=cleared)
    copied = copy_previous_answers(previous=cleared, screening=new)
    stored = dict(new.answers.values_list("question__code", "value"))
    assert stored["date_of_birth"] == "1980-05-17"
    assert "sex_at_birth" not in stored
    assert "height_cm" not in stored
    assert "weight_kg" not in stored
    assert set(copied) == set(stored)


PRESENT_STATE = {
    "phq9_9": "nearly_every_day",
    "gad7_1": "nearly_every_day",
    "auditc_1": "four_or_more_a_week",
    "can_be_pregnant": "yes",
    "pregnant": "yes",
    "breastfeeding": "yes",
    "used_last_24h": "yes",
    "grapefruit": "yes",
    "suicide_wish_dead": "yes",
    "suicide_thoughts": "yes",
    "bp_systolic": "150",
    "bp_diastolic": "95",
    "heart_rate": "88",
    "weight_kg": "81",
}


def test_answers_about_the_present_start_empty_and_stable_facts_are_copied(
    patient, patient_client, default_version
):
    """A patient pressing "Save and continue" on every page must never send last time's
    item 9, pregnancy, blood pressure or recent drug use as today's."""
    previous = start_screening(patient=patient)
    fill_intake(patient_client, previous, {**PRESENT_STATE, **BLORBEX})
    sent = dict(previous.answers.values_list("question__code", "value"))
    assert sent["phq9_9"] == "nearly_every_day"
    assert sent["pregnant"] == "yes"
    assert sent["suicide_thoughts"] == "yes"
    submit(patient_client, previous)
    new = Screening.objects.create(patient=patient, version=default_version, previous=previous)
    copied = copy_previous_answers(previous=previous, screening=new)
    stored = dict(new.answers.values_list("question__code", "value"))
    assert set(copied) == set(stored)
    for code in (
        "phq9_9",
        "gad7_1",
        "auditc_1",
        "can_be_pregnant",
        "pregnant",
        "breastfeeding",
        "used_last_24h",
        "grapefruit",
        "suicide_wish_dead",
        "suicide_thoughts",
        "bp",
        "heart_rate",
        "weight_kg",
    ):
        assert code not in stored, code
    # No scale item (PHQ-9, GAD-7, PCL-5, AUDIT-C) and nothing on a page about the present.
    assert not [code for code in stored if code.startswith(("phq9", "gad7", "pcl5", "audit"))]
    assert not [code for code in stored if code.startswith("suicide")]
    assert stored["date_of_birth"] == "1980-05-17"
    assert stored["height_cm"] == sent["height_cm"]
    assert stored["emergency_contact_name"] == "Sam Lee"
    assert stored["medications"] == sent["medications"]


def test_only_pages_with_copied_answers_say_they_come_from_the_last_questionnaire(
    patient, patient_client, default_version
):
    previous = start_screening(patient=patient)
    fill_intake(patient_client, previous, {**PRESENT_STATE, **BLORBEX})
    submit(patient_client, previous)
    new = Screening.objects.create(patient=patient, version=default_version, previous=previous)
    copy_previous_answers(previous=previous, screening=new)

    def page(code):
        response = patient_client.get(f"/screenings/{new.pk}/page/{code}/")
        assert response.status_code == 200, code
        return response.content.decode()

    assert "From your last questionnaire" in page("about_you")
    medicines = page("medicines")
    assert "From your last questionnaire" in medicines
    assert "Add any medicine or supplement you have started since" in medicines
    assert "Add any medicine" not in page("about_you")
    for code in ("mood", "safety", "pregnancy", "vitals"):
        html = page(code)
        assert "From your last questionnaire" not in html, code
    # Nothing on the mood and safety pages is chosen for the patient.
    for code in ("mood", "safety"):
        assert not re.search(r"<input[^>]* checked", page(code)), code


YES_NO_Q = QuestionDef(code="q", kind=YES_NO, text="?")
PICK = QuestionDef(
    code="q",
    kind=SINGLE_CHOICE,
    text="?",
    choices=(ChoiceDef(value="a", label="A"), ChoiceDef(value="b", label="B")),
)
MANY = QuestionDef(
    code="q",
    kind=MULTIPLE_CHOICE,
    text="?",
    choices=(ChoiceDef(value="a", label="A"), ChoiceDef(value="b", label="B")),
)
NUMBER = QuestionDef(code="q", kind=INTEGER, text="?", min_value=Decimal(1), max_value=Decimal(10))


@pytest.mark.parametrize(
    ("question", "previous", "value", "fits"),
    [
        (YES_NO_Q, YES_NO_Q, "yes", True),
        (PICK, PICK, "b", True),
        (PICK, MANY, "b", False),  # the kind changed
        (PICK, PICK, "c", False),  # the choice is gone
        (MANY, MANY, ["a", "b"], True),
        (MANY, MANY, ["a", "c"], False),
        (NUMBER, NUMBER, 5, True),
        (NUMBER, NUMBER, 12, False),  # outside the new limits
        (QuestionDef(code="q", kind=HEIGHT, text="?"), NUMBER, 170, False),
        (PICK, PICK, None, False),
    ],
)
def test_an_answer_fits_only_the_same_kind_and_offered_choices(question, previous, value, fits):
    assert answer_still_fits(question, previous, value) is fits


# The physician sees what changed ----------------------------------------------------------


def test_the_physician_sees_what_changed_since_the_previous_screening_and_the_queue_says_so(
    cleared, patient, patient_client, physician_client
):
    ask_again(cleared, physician_client)
    new = start_first_screening(patient=patient)
    fill_intake(patient_client, new, {"bp_systolic": "185", "bp_diastolic": "95", **BLORBEX})
    submit(patient_client, new)
    html = physician_client.get(f"/staff/screenings/{new.pk}/").content.decode()
    assert "Changed since the previous screening (signed" in html
    assert "by Dr Dana Physician)" in html
    start = html.index('id="rescreen-changes-heading"')
    panel = html[start : html.index("</section>", start)]
    assert "What changed since the last submission" not in html  # sent once: no such panel
    assert "120/80" in panel and "185/95" in panel
    assert "New: <strong data-patient-text>Blorbex 10 mg</strong>" in panel
    new_flag_titles = list(new.flags.values_list("title", flat=True))
    assert any(title in panel for title in new_flag_titles)
    queue = physician_client.get("/staff/queue/").content.decode()
    assert "Re-screening</span>" in queue
