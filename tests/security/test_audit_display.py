"""Clinic admins audit who read and did what, without learning outcomes (the retest after
issue 10, finding B).

The audit log showed each decision's outcome ("Not a candidate") and one event per
acknowledged flag with the flag's and the screening's ids, so a clinic admin could read a
screening's outcome and count its flags; the undelivered-email list named the screening of
an urgent alert. Now: new decision events carry no outcome; for people without the review
permission, events about a screening show no identifier and no summary but fixed ones, on
the staff page and in the admin, and an urgent alert's screening is named only to
reviewers (physicians find it on their queue). Stored events are not changed.
"""

import re

import pytest
from django.core.management import call_command
from django.test import Client

from screening import audit
from screening.audit_display import HIDDEN, shown_event
from screening.models import AuditAction, AuditEvent, Decision, Screening, UndeliveredEmail, User
from screening.services.review import acknowledge_flag, record_decision
from tests.factories import make_submitted_screening
from tests.logins import log_in_staff

pytestmark = pytest.mark.django_db

PAGES = ["/staff/audit/", "/admin/screening/auditevent/"]


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser(
        email="root@example.com", password="correct horse battery staple", full_name="Root"
    )


@pytest.fixture
def decided(physician, default_version):
    """A screening with three acknowledged flags and a decision, and one decision event
    stored the old way, naming its outcome (hash-chained, so it stays as it is)."""
    screening = make_submitted_screening(
        flags=[("opioid", "caution"), ("bp_elevated", "caution"), ("phq9_high", "caution")]
    )
    for flag in screening.flags.all():
        screening.refresh_from_db()
        acknowledge_flag(
            flag=flag, physician=physician, note="", seen_version=screening.lock_version
        )
    screening.refresh_from_db()
    decision = record_decision(
        screening=screening,
        physician=physician,
        outcome=Decision.Outcome.NOT_A_CANDIDATE,
        seen_version=screening.lock_version,
        reason="Active suicidal ideation",
    )
    old = audit.record(
        actor=physician,
        action="decision.recorded",
        screening=screening,
        obj=decision,
        summary="Not a candidate",
    )
    return screening, decision, old


def identifiers(screening, decision) -> list[str]:
    return [str(screening.pk), str(decision.pk), *(str(f.pk) for f in screening.flags.all())]


def test_a_decisions_audit_event_does_not_name_its_outcome(decided):
    screening, decision, _ = decided
    event = AuditEvent.objects.filter(object_id=str(decision.pk)).order_by("id").first()
    assert event.summary == "Decision signed"
    assert decision.get_outcome_display() not in event.summary


@pytest.mark.parametrize("page", PAGES)
def test_a_clinic_admin_sees_who_did_what_but_not_which_screening_nor_its_outcome(
    client, clinic_admin, physician, decided, page
):
    screening, decision, _ = decided
    log_in_staff(client, clinic_admin)
    html = client.get(page).content.decode()
    assert physician.email in html or physician.full_name in html
    assert "flag.acknowledged" in html and "decision.recorded" in html
    assert "Decision signed" in html
    assert "Not a candidate" not in html and "not a candidate" not in html.lower()
    leaked = [value for value in identifiers(screening, decision) if value in html]
    assert leaked == []


@pytest.mark.parametrize("page", PAGES)
def test_someone_who_may_review_screenings_sees_every_field(client, superuser, decided, page):
    screening, decision, _ = decided
    log_in_staff(client, superuser)
    html = client.get(page).content.decode()
    assert all(value in html for value in identifiers(screening, decision))
    assert "Not a candidate" in html  # the old event, as it is stored


@pytest.mark.parametrize(
    "search", ["Not a candidate", "candidate", "{screening}", "{decision}", "{flag}"]
)
def test_a_clinic_admins_search_finds_nothing_the_list_hides(client, clinic_admin, decided, search):
    screening, decision, _ = decided
    term = search.format(
        screening=screening.pk, decision=decision.pk, flag=screening.flags.first().pk
    )
    log_in_staff(client, clinic_admin)
    response = client.get("/admin/screening/auditevent/", {"q": term})
    assert response.status_code == 200
    assert "0 audit events" in response.content.decode()


def test_a_clinic_admin_still_searches_by_who(client, clinic_admin, physician, decided):
    log_in_staff(client, clinic_admin)
    html = client.get("/admin/screening/auditevent/", {"q": physician.email}).content.decode()
    assert "flag.acknowledged" in html


def test_what_is_displayed_changes_and_what_is_stored_does_not(
    client, clinic_admin, decided, capsys
):
    _, _, old = decided
    log_in_staff(client, clinic_admin)
    client.get("/staff/audit/")
    client.get("/admin/screening/auditevent/")
    old.refresh_from_db()
    assert old.summary == "Not a candidate"
    call_command("verify_audit")
    assert "Audit log intact" in capsys.readouterr().out


@pytest.fixture
def alert_not_sent(default_version):
    screening = make_submitted_screening(level="urgent")
    UndeliveredEmail.objects.create(
        kind=UndeliveredEmail.Kind.URGENT_ALERT,
        object_type="screening.screening",
        object_id=str(screening.pk),
        attempts=4,
        error="SMTPServerDisconnected",
    )
    invitation_email = UndeliveredEmail.objects.create(
        kind=UndeliveredEmail.Kind.INVITATION,
        object_type="screening.invitation",
        object_id="5b0a4c1e-0000-4000-8000-000000000001",
        attempts=4,
        error="SMTPServerDisconnected",
    )
    return screening, invitation_email


def test_a_clinic_admin_sees_an_urgent_alert_failed_but_not_for_which_screening(
    client, clinic_admin, alert_not_sent
):
    screening, invitation_email = alert_not_sent
    log_in_staff(client, clinic_admin)
    html = client.get("/admin/screening/undeliveredemail/").content.decode()
    assert "Urgent screening alert to physicians" in html
    assert str(screening.pk) not in html
    assert invitation_email.object_id in html  # other emails still say what they were about


def test_reviewers_see_which_screenings_urgent_alert_failed(
    client, superuser, physician, alert_not_sent
):
    screening, _ = alert_not_sent
    log_in_staff(client, superuser)
    assert str(screening.pk) in client.get("/admin/screening/undeliveredemail/").content.decode()
    physician_client = log_in_staff(Client(), physician)
    queue = physician_client.get("/staff/queue/").content.decode()
    assert "The urgent alert email about 1 screening could not be sent" in queue
    assert f'href="/staff/screenings/{screening.pk}/"' in queue


def test_the_queue_says_nothing_when_every_alert_was_sent(physician, default_version):
    make_submitted_screening(level="urgent")
    queue = log_in_staff(Client(), physician).get("/staff/queue/").content.decode()
    assert "could not be sent" not in queue


# --- The "What" column in plain words, for every action the log records ----------------------

# Each action with what its events name, as the code records them: the object's kind (its
# model's label) and whether the event is about a screening.
OBJECTS_BY_ACTION = {
    AuditAction.SCREENING_VIEWED: ("screening.Screening", True),
    AuditAction.SCREENING_PRINTED: ("screening.Screening", True),
    AuditAction.SCREENING_EXPORTED: ("screening.Screening", True),
    AuditAction.DRAFT_PREVIEW: ("screening.QuestionSetVersion", True),
    AuditAction.FLAG_ACKNOWLEDGED: ("screening.Flag", True),
    AuditAction.DECISION_RECORDED: ("screening.Decision", True),
    AuditAction.DECISION_AMENDED: ("screening.Decision", True),
    AuditAction.CONTENT_ADDED: ("screening.Rule", False),
    AuditAction.CONTENT_CHANGED: ("screening.DrugClass", False),
    AuditAction.CONTENT_DELETED: ("screening.Question", False),
    AuditAction.DRAFT_MADE: ("screening.QuestionSetVersion", False),
    AuditAction.PUBLISHED: ("screening.QuestionSetVersion", False),
    AuditAction.IMPORTED: ("screening.QuestionSetVersion", False),
    AuditAction.TWO_FACTOR_ENROLLED: ("otp_totp.TOTPDevice", False),
    AuditAction.TWO_FACTOR_VERIFIED: ("otp_totp.TOTPDevice", False),
    AuditAction.TWO_FACTOR_FAILED: ("", False),
    AuditAction.TWO_FACTOR_LINK_SENT: ("screening.User", False),
    AuditAction.TWO_FACTOR_LINK_OPENED: ("screening.User", False),
    AuditAction.TWO_FACTOR_REMOVED: ("screening.User", False),
    AuditAction.FHIR_TOKEN_ISSUED: ("screening.ApiToken", False),
    AuditAction.FHIR_TOKEN_REVOKED: ("screening.ApiToken", False),
    AuditAction.FHIR_READ: ("screening.ApiToken", True),
    AuditAction.URGENT_RESPONSE_VIEWED: ("", False),
    AuditAction.QUEUE_VIEWED: ("", False),
    AuditAction.PATIENT_COURSE_VIEWED: ("screening.User", False),
    AuditAction.SESSIONS_BOARD_VIEWED: ("", False),
    AuditAction.COURSE_START_VIEWED: ("", False),
    AuditAction.COURSE_STARTED: ("screening.TreatmentCourse", True),
    AuditAction.COURSE_VIEWED: ("screening.TreatmentCourse", True),
    AuditAction.SESSION_SCHEDULED: ("screening.TreatmentSession", False),
    AuditAction.SESSION_VIEWED: ("screening.TreatmentSession", True),
    AuditAction.SESSION_CANCELLED: ("screening.TreatmentSession", False),
    AuditAction.SESSION_RESCHEDULED: ("screening.TreatmentSession", False),
    AuditAction.COURSE_ENDED: ("screening.TreatmentCourse", True),
    AuditAction.VITALS_RECORDED: ("screening.VitalReading", False),
    AuditAction.DOSE_RECORDED: ("screening.DoseRecord", False),
    AuditAction.DISCHARGE_RECORDED: ("screening.DischargeRecord", False),
    AuditAction.BLOOD_PRESSURE_REVIEWED: ("screening.BloodPressureReview", False),
    AuditAction.RESCREENING_REQUESTED: ("screening.RescreeningRequest", True),
}
# What the column calls each kind when the event is not about a screening.
NAMES = {
    "screening.Rule": "Rule",
    "screening.DrugClass": "Drug class",
    "screening.Question": "Question",
    "screening.QuestionSetVersion": "Question set version",
    "otp_totp.TOTPDevice": "Authenticator app",
    "screening.User": "Account",
    "screening.ApiToken": "FHIR API token",
    "screening.TreatmentSession": "Treatment session",
    "screening.VitalReading": "Vitals reading",
    "screening.DoseRecord": "Dose record",
    "screening.DischargeRecord": "Discharge record",
    "screening.BloodPressureReview": "Blood pressure review",
    "": "",
}


def test_every_action_the_log_records_is_in_the_table():
    assert set(OBJECTS_BY_ACTION) == set(AuditAction)


def an_event(action: AuditAction) -> AuditEvent:
    object_type, about_a_screening = OBJECTS_BY_ACTION[action]
    screening = Screening(patient=User(full_name="Sam Lee"))
    object_id = str(screening.pk) if object_type == "screening.Screening" else "77"
    return AuditEvent(
        action=action,
        screening=screening if about_a_screening else None,
        object_type=object_type,
        object_id=object_id if object_type else "",
        summary="",
    )


@pytest.mark.parametrize("action", list(AuditAction))
def test_the_what_column_says_in_words_what_each_action_was_about(action):
    event = an_event(action)
    object_type, about_a_screening = OBJECTS_BY_ACTION[action]
    reviewer = shown_event(event, identify_screenings=True)
    clinic_admin = shown_event(event, identify_screenings=False)
    private = about_a_screening or action.startswith(("patient.", "session.", "course."))

    if about_a_screening:
        assert reviewer.what == "Screening of <bdi>Sam Lee</bdi>"
        assert clinic_admin.what == "A screening"
    elif action == AuditAction.PATIENT_COURSE_VIEWED:
        assert reviewer.what == clinic_admin.what == "Patient"
    else:
        assert reviewer.what == clinic_admin.what == NAMES[object_type]
    # Never a model's label, a placeholder for what is hidden, or a missing value.
    for shown in (reviewer, clinic_admin):
        for text in (shown.what, shown.reference):
            assert not re.search(r"\b(screening|otp_totp)\.[A-Z]", text), text
            assert HIDDEN not in text and "None" not in text
    assert clinic_admin.reference == ("" if private else reviewer.reference)
    if about_a_screening:
        assert str(event.screening_id) in reviewer.reference
    if object_type and object_type != "screening.Screening":
        assert "77" in reviewer.reference


def test_the_reference_names_the_object_and_its_screening():
    event = an_event(AuditAction.FLAG_ACKNOWLEDGED)
    shown = shown_event(event, identify_screenings=True)
    assert shown.reference == f"Flag 77, screening {event.screening_id}"
    viewed = shown_event(an_event(AuditAction.SCREENING_VIEWED), identify_screenings=True)
    assert viewed.reference.startswith("screening ") and "," not in viewed.reference


def test_the_audit_log_page_says_whose_screening_was_read_to_those_who_may_know(
    client, superuser, clinic_admin, physician, decided
):
    screening, _, _ = decided
    log_in_staff(Client(), physician).get(f"/staff/screenings/{screening.pk}/")
    name = screening.patient.full_name

    log_in_staff(client, superuser)
    html = client.get("/staff/audit/", {"action": "screening.viewed"}).content.decode()
    assert f"Screening of <bdi>{name}</bdi>" in html
    assert "screening.Screening" not in html

    admin = log_in_staff(Client(), clinic_admin)
    html = admin.get("/staff/audit/", {"action": "screening.viewed"}).content.decode()
    assert "A screening" in html
    assert name not in html and "screening.Screening" not in html and " — " not in html


def test_the_audit_log_page_names_each_action_in_words(client, superuser, physician, decided):
    """The Action column reads as the filter above it does, not as the stored code."""
    from screening.audit_display import action_label
    from screening.models import AuditAction

    screening, _, _ = decided
    log_in_staff(Client(), physician).get(f"/staff/screenings/{screening.pk}/")
    log_in_staff(client, superuser)
    html = client.get("/staff/audit/", {"action": "screening.viewed"}).content.decode()
    label = str(AuditAction.SCREENING_VIEWED.label)
    assert f"<td data-content>{label}</td>" in html
    assert "<td data-content>screening.viewed</td>" not in html
    # An action no longer listed (an old event's) reads as it was stored.
    assert action_label("an.action.no.longer.listed") == "an.action.no.longer.listed"
