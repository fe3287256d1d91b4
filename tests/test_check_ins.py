"""The session check-in (issue 14, item 2): the patient answers it on the intake's wizard
before each session; its rules read it together with the baseline intake's answers; it
never enters the physician's intake queue; urgent ones alert physicians like an intake."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from screening import tasks
from screening.engine.severity import Severity
from screening.models import Flag, QuestionSetVersion, Screening, TreatmentCourse
from screening.services.check_ins import CheckInClosed, open_check_in
from screening.services.content import make_draft, publish_version
from screening.services.intake import AlreadyScreened, start_first_screening
from tests.check_in_helpers import (
    CANNOT_BE_PREGNANT,
    COULD_BE_PREGNANT,
    MAN,
    answer_check_in,
    make_cleared_course,
    make_session,
)
from tests.logins import log_in_staff

pytestmark = pytest.mark.django_db

HOLDS = {Severity.CAUTION, Severity.CONTRAINDICATED, Severity.URGENT}


def flags_of(screening: Screening) -> dict[str, Flag]:
    return {flag.code: flag for flag in Flag.objects.filter(screening=screening)}


@pytest.fixture
def course(patient, physician, check_in_version):
    return make_cleared_course(patient=patient, physician=physician, baseline=COULD_BE_PREGNANT)


# What the rules find ----------------------------------------------------------------------


def test_a_calm_check_in_raises_nothing_that_holds_the_session(patient_client, course, physician):
    session = make_session(course)
    check_in, pages = answer_check_in(patient_client, session)
    assert check_in.purpose == Screening.Purpose.CHECK_IN
    assert check_in.status == Screening.Status.SUBMITTED
    # The pregnancy page was asked: her intake said she could become pregnant.
    assert "pregnancy" in pages
    assert not {flag.severity for flag in flags_of(check_in).values()} & HOLDS
    assert [s["code"] for s in check_in.scores] == ["phq9_total"]
    # Not in the physician's intake queue, and no "new screening" alert of any kind.
    queue = log_in_staff(patient_client.__class__(), physician).get("/staff/").content.decode()
    assert str(check_in.pk) not in queue
    assert mail.outbox == []


def test_a_newly_started_clarithromycin_holds_the_session(patient_client, course):
    session = make_session(course)
    check_in, _ = answer_check_in(
        patient_client,
        session,
        {
            "medicines_started": "yes",
            "medications_started-none": "",
            "medications_started-0-name": "clarithromycin",
            "medications_started-0-dose": "500 mg",
        },
    )
    flag = flags_of(check_in)["cyp3a4_strong_inhibitor"]
    assert flag.severity == Severity.CAUTION
    assert [e.get("typed") for e in flag.evidence] == ["clarithromycin"]
    assert check_in.medications.get().matched == "clarithromycin"


def test_a_positive_pregnancy_answer_holds_the_session(patient_client, course):
    check_in, _ = answer_check_in(patient_client, make_session(course), {"pregnant": "yes"})
    flag = flags_of(check_in)["pregnancy"]
    assert flag.severity == Severity.CONTRAINDICATED
    assert flag.evidence == [{"question": "pregnant", "answer": "yes"}]


def test_pregnancy_is_not_asked_when_the_intake_said_it_cannot_happen(
    patient_client, patient, physician, check_in_version
):
    for baseline in (CANNOT_BE_PREGNANT, MAN):
        course = make_cleared_course(patient=patient, physician=physician, baseline=baseline)
        check_in, pages = answer_check_in(patient_client, make_session(course))
        assert "pregnancy" not in pages
        assert "pregnancy" not in flags_of(check_in)


def test_a_positive_item_9_is_urgent_and_alerts_physicians_like_an_urgent_intake(
    patient_client, course, physician
):
    check_in, _ = answer_check_in(patient_client, make_session(course), {"phq9_9": "several_days"})
    flag = flags_of(check_in)["phq9_item9_positive"]
    assert flag.severity == Severity.URGENT and check_in.level == Severity.URGENT
    # The same alert as an urgent intake (immediate task backend in tests), no health data.
    (alert,) = mail.outbox
    assert alert.to == [physician.email] and "same-day" in alert.subject
    assert "check-in before a treatment session" in alert.body and "suicide" in alert.body
    # The patient's confirmation shows the crisis message, as after an urgent intake.
    done = patient_client.get(f"/screenings/{check_in.pk}/submitted/").content.decode()
    assert "your check-in has been sent" in done
    assert "988" in done


def test_the_same_suicide_risk_follow_ups_as_the_intake(patient_client, course):
    check_in, _ = answer_check_in(
        patient_client,
        make_session(course),
        {"suicide_thoughts": "yes", "suicide_intent": "yes"},
    )
    assert flags_of(check_in)["suicide_risk_high"].severity == Severity.URGENT


# The patient's side -------------------------------------------------------------------------


def test_home_lists_upcoming_sessions_with_their_check_in(patient_client, course):
    soon = make_session(course, hours_ahead=20)
    later = make_session(course, hours_ahead=24 * 9)
    make_session(course, hours_ahead=-3)  # past: not listed
    home = patient_client.get("/screenings/").content.decode()
    assert home.count("Ketamine by drip (IV)") == 2
    assert f"/screenings/sessions/{soon.pk}/check-in/" in home
    assert "Answer your check-in" in home
    # Nine days ahead: opens CHECK_IN_OPENS_HOURS_BEFORE hours before the session.
    assert f"/screenings/sessions/{later.pk}/check-in/" not in home
    assert "Check-in opens" in home
    answer_check_in(patient_client, soon)
    home = patient_client.get("/screenings/").content.decode()
    assert "Check-in sent" in home


def test_the_wizard_reads_as_a_check_in(patient_client, course):
    session = make_session(course)
    patient_client.post(f"/screenings/sessions/{session.pk}/check-in/")
    session.refresh_from_db()
    page = patient_client.get(f"/screenings/{session.check_in.pk}/", follow=True)
    html = page.content.decode()
    assert "Check-in before your session on" in html
    assert "Since your last visit" in html
    review = patient_client.get(f"/screenings/{session.check_in.pk}/review/").content.decode()
    assert "information about treatment" not in review  # no consent page to confirm again


def test_opening_a_check_in_twice_gives_one(course):
    session = make_session(course)
    first = open_check_in(session=session)
    again = open_check_in(session=type(session).objects.get(pk=session.pk))
    assert first == again
    assert Screening.objects.check_ins().count() == 1
    session.refresh_from_db()
    assert session.check_in == first


def test_no_check_in_for_a_session_in_the_past(course):
    with pytest.raises(CheckInClosed):
        open_check_in(session=make_session(course, hours_ahead=-1))


def test_a_patient_reaches_only_their_own_sessions_and_check_ins(
    client, course, other_patient, patient_client
):
    session = make_session(course)
    patient_client.post(f"/screenings/sessions/{session.pk}/check-in/")
    session.refresh_from_db()
    client.force_login(other_patient)
    assert client.post(f"/screenings/sessions/{session.pk}/check-in/").status_code == 404
    assert client.get(f"/screenings/{session.check_in.pk}/").status_code == 404
    assert "upcoming-sessions" not in client.get("/screenings/").content.decode()


def test_an_open_check_in_is_not_the_patients_intake(patient, course):
    open_check_in(session=make_session(course))
    # Her intake was sent and decided: Start refuses, it does not hand her the check-in.
    with pytest.raises(AlreadyScreened):
        start_first_screening(patient=patient)


# The invitation -----------------------------------------------------------------------------


def queued_invitations() -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(status="READY", task_path__endswith=".invite_to_check_in")
    )


def test_the_invitation_waits_until_the_check_in_opens(course, settings, task_worker):
    settings.CHECK_IN_OPENS_HOURS_BEFORE = 48
    session = make_session(course, hours_ahead=24 * 5)
    tasks.invite_to_check_in.enqueue(session_id=str(session.pk))
    task_worker()
    assert mail.outbox == []
    (waiting,) = queued_invitations()
    opens = session.scheduled_for - timedelta(hours=48)
    assert abs(waiting.run_after - opens) < timedelta(seconds=1)


def test_booking_a_session_invites_the_patient_to_its_check_in(
    course, patient, physician, task_worker
):
    """The clinic books a session: the patient is emailed the check-in link (at once here,
    the session being within CHECK_IN_OPENS_HOURS_BEFORE), with no step for staff to forget."""
    from screening.services.sessions import schedule_session

    schedule_session(
        course=course,
        scheduled_for=timezone.now() + timedelta(hours=20),
        actor=physician,
        ip_address=None,
    )
    task_worker()
    (email,) = mail.outbox
    assert email.to == [patient.email]


def test_the_invitation_is_sent_once_with_no_health_data(course, patient, task_worker, settings):
    session = make_session(course, hours_ahead=20)
    tasks.invite_to_check_in.enqueue(session_id=str(session.pk))
    tasks.invite_to_check_in.enqueue(session_id=str(session.pk))
    task_worker()
    (email,) = mail.outbox
    assert email.to == [patient.email]
    assert "/screenings/" in email.body
    # Nothing about the treatment or the answers (the clinic's name is in every email).
    text = (email.subject + email.body).replace(settings.CLINIC_NAME, "")
    for word in ("ketamine", "Ketamine", "infusion", "depress", "suicid", "pregnan"):
        assert word not in text


def test_no_invitation_for_a_past_session_or_a_check_in_already_sent(
    patient_client, course, task_worker
):
    past = make_session(course, hours_ahead=-2)
    answered = make_session(course, hours_ahead=20)
    answer_check_in(patient_client, answered)
    mail.outbox.clear()
    for session in (past, answered):
        tasks.invite_to_check_in.enqueue(session_id=str(session.pk))
    task_worker()
    assert mail.outbox == []
    assert queued_invitations() == []


def test_no_invitation_once_the_course_has_ended(course, task_worker):
    session = make_session(course, hours_ahead=20)
    TreatmentCourse.objects.filter(pk=course.pk).update(ended_at=timezone.now())
    tasks.invite_to_check_in.enqueue(session_id=str(session.pk))
    task_worker()
    assert mail.outbox == []


# Content ------------------------------------------------------------------------------------


def test_the_check_in_is_its_own_question_set_an_admin_can_publish(check_in_version, clinic_admin):
    assert check_in_version.question_set.slug == "ketamine-session-check-in"
    draft = make_draft(source=check_in_version, actor=clinic_admin, ip_address=None)
    # The draft's conditions and rules read the intake's answers; its test panel passes.
    published = publish_version(version=draft, actor=clinic_admin, ip_address=None)
    assert published.status == QuestionSetVersion.Status.PUBLISHED
    intake = QuestionSetVersion.objects.published().get(question_set__purpose="intake")
    assert intake.question_set.slug == "ketamine-pretreatment"


def test_load_default_content_loads_the_intake_and_the_check_in(db, capsys):
    call_command("load_default_content")
    output = capsys.readouterr().out
    assert "Ketamine pre-treatment screening" in output and "Session check-in" in output


def test_a_physician_can_read_a_submitted_check_in(patient_client, course, physician, client):
    check_in, _ = answer_check_in(patient_client, make_session(course), {"pregnant": "yes"})
    log_in_staff(client, physician)
    page = client.get(f"/staff/screenings/{check_in.pk}/")
    assert page.status_code == 200
    assert "Could you be pregnant now?" in page.content.decode()


def test_the_session_page_shows_the_check_in_answers_its_intake_made_it_ask(
    patient_client, course, physician, client
):
    """The pregnancy page is asked because the intake said she could become pregnant: the
    physician's "what changed" on the session page must show her answer to it."""
    session = make_session(course)
    answer_check_in(patient_client, session, {"pregnant": "yes"})
    log_in_staff(client, physician)
    changes = client.get(f"/staff/sessions/{session.pk}/").context["changes"]
    rows = changes["changed"] + changes["check_in_only"] + changes["unchanged"]
    shown = {row["question"].code: row["now"] for row in rows}
    assert shown.get("pregnant") == "Yes, I am pregnant"


def test_a_check_in_page_costs_no_more_queries_than_a_wizard_page(
    patient_client, course, django_assert_max_num_queries
):
    # Issue 14: a check-in page stays within the wizard page's budget (six queries,
    # tests/test_intake_wizard.py), though it also reads its session and the baseline's answers.
    session = make_session(course)
    patient_client.post(f"/screenings/sessions/{session.pk}/check-in/")
    session.refresh_from_db()
    url = f"/screenings/{session.check_in.pk}/page/pregnancy/"
    assert patient_client.get(url).status_code == 200
    with django_assert_max_num_queries(6):
        response = patient_client.get(url)
    assert response.status_code == 200
    assert "Could you be pregnant now?" in response.content.decode()  # read with the baseline
