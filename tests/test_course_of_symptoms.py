"""The course of symptoms: where its points come from (the questionnaires a patient sent),
the physician's patient page and the patient's own "How you have been feeling" page."""

import datetime
import re
import uuid

import pytest
from django.test import Client

from screening.engine.course import GAD7, PHQ9
from screening.models import AuditAction, AuditEvent, Screening
from screening.selectors import patient_course, sent_questionnaires, symptom_points
from tests.factories import make_patient, make_sent_questionnaire
from tests.logins import log_in_staff
from tests.session_helpers import make_course, make_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def course_patient(default_version):
    """Two questionnaires: PHQ-9 18 then 8 (item 9 positive on the second), GAD-7 12 then 6."""
    patient = make_patient("Pat Course")
    first = make_sent_questionnaire(patient=patient, phq9=18, gad7=12, days_ago=28)
    second = make_sent_questionnaire(patient=patient, phq9=8, gad7=6, item9=1, days_ago=7)
    return patient, first, second


def staff_client(user) -> Client:
    client = Client()
    log_in_staff(client, user)
    return client


def page_text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


# Where the points come from -------------------------------------------------------------


def test_each_questionnaire_sent_is_one_point_labelled_by_its_question_set(course_patient):
    patient, first, second = course_patient
    points = symptom_points(sent_questionnaires(patient))
    phq9 = [p for p in points if p.instrument == PHQ9]
    assert [(p.total, p.item9, p.ref) for p in phq9] == [
        (18, 0, str(first.pk)),
        (8, 1, str(second.pk)),
    ]
    assert {p.label for p in points} == {first.version.question_set.name}
    assert [p.total for p in points if p.instrument == GAD7] == [12, 6]


def test_a_questionnaire_sent_again_counts_once_with_its_latest_answers(default_version):
    patient = make_patient()
    make_sent_questionnaire(patient=patient, phq9=20, days_ago=30, resent_phq9=16)
    make_sent_questionnaire(patient=patient, phq9=9, days_ago=3)
    sent = sent_questionnaires(patient)
    assert [s.times_sent for s in sent] == [2, 1]
    assert [p.total for p in symptom_points(sent)] == [16, 9]


def test_only_this_patients_questionnaires_are_read(course_patient):
    patient, *_ = course_patient
    other = make_patient()
    make_sent_questionnaire(patient=other, phq9=27, days_ago=1)
    assert 27 not in [p.total for p in symptom_points(sent_questionnaires(patient))]
    assert [p.total for p in symptom_points(sent_questionnaires(other))] == [27]


def test_a_questionnaire_without_the_scales_gives_no_point(default_version):
    patient = make_patient()
    make_sent_questionnaire(patient=patient, phq9=None, days_ago=2)
    assert symptom_points(sent_questionnaires(patient)) == []


def test_reading_the_course_costs_the_same_few_queries_however_many_were_sent(
    default_version, django_assert_num_queries
):
    patient = make_patient()
    for days in range(12):
        make_sent_questionnaire(patient=patient, phq9=20 - days, days_ago=60 - days * 5)
    with django_assert_num_queries(3):  # submissions, item 9 and sex choices, bands
        course = patient_course(patient, today=datetime.date(2026, 11, 29))
    assert len(course.points) == 12
    assert course.age == 46 and course.sex == "Female"


# The physician's patient page ---------------------------------------------------------


def test_the_physician_reads_the_patient_their_questionnaires_and_the_course(
    course_patient, physician
):
    patient, first, second = course_patient
    response = staff_client(physician).get(f"/staff/patients/{patient.pk}/")
    assert response.status_code == 200
    text = page_text(response)
    assert "Pat Course" in text and "46 years" in text and "Female" in text
    html = response.content.decode()
    assert f'href="/staff/screenings/{first.pk}/"' in html
    assert f'href="/staff/screenings/{second.pk}/"' in html
    # The chart: an image with a name, and the numbers in a table beside it.
    assert re.search(r'<svg class="course-chart[^"]*"[^>]*role="img"[^>]*aria-labelledby=', html)
    assert "PHQ-9 totals of Pat Course over time" in html
    assert "Latest total 8 on" in text and "−10 (−55%) from baseline" in text
    assert "Response at the latest questionnaire" in text
    assert "Remission (PHQ-9 below 5): no at the latest questionnaire." in text
    assert "Item 9 (thoughts of being better off dead or of self-harm) positive on 1 of 2" in text
    assert "Positive (1)" in text  # the table's item 9 cell
    phq9_chart = html.split('<svg class="course-chart', 1)[1].split("</svg>", 1)[0]
    assert phq9_chart.count('class="course-point-item9"') == 1  # a triangle, the second only
    assert phq9_chart.count('class="course-point"') == 1
    assert "GAD-7 over time" in text
    assert "style=" not in html.split("<main", 1)[1]  # the CSP forbids inline styles


def test_reading_the_patient_page_is_audited(course_patient, physician):
    patient, *_ = course_patient
    staff_client(physician).get(f"/staff/patients/{patient.pk}/")
    event = AuditEvent.objects.get(action=AuditAction.PATIENT_COURSE_VIEWED)
    assert event.actor == physician and event.object_id == str(patient.pk)


def test_a_clinic_admin_reading_the_audit_log_is_not_told_whose_course_was_read(
    course_patient, physician, clinic_admin
):
    patient, *_ = course_patient
    staff_client(physician).get(f"/staff/patients/{patient.pk}/")
    admin_view = staff_client(clinic_admin).get("/staff/audit/").content.decode()
    assert "Course of symptoms read" in admin_view and str(patient.pk) not in admin_view


def test_an_unknown_patient_or_one_who_sent_nothing_is_not_found(physician, default_version):
    client = staff_client(physician)
    assert client.get(f"/staff/patients/{uuid.uuid4()}/").status_code == 404
    assert client.get(f"/staff/patients/{physician.pk}/").status_code == 404
    nothing_sent = make_patient()
    assert client.get(f"/staff/patients/{nothing_sent.pk}/").status_code == 404
    assert not AuditEvent.objects.filter(action=AuditAction.PATIENT_COURSE_VIEWED).exists()


def test_clinic_admins_and_patients_cannot_read_the_patient_page(course_patient, clinic_admin):
    patient, *_ = course_patient
    url = f"/staff/patients/{patient.pk}/"
    assert staff_client(clinic_admin).get(url).status_code == 403
    own = Client()
    own.force_login(patient)
    assert own.get(url).status_code == 403
    assert Client().get(url)["Location"].startswith("/login/")


def test_the_physicians_patient_page_costs_a_fixed_number_of_queries(
    course_patient, physician, django_assert_max_num_queries
):
    patient, *_ = course_patient
    client = staff_client(physician)
    url = f"/staff/patients/{patient.pk}/"
    client.get(url)  # warm the session and the content caches
    with django_assert_max_num_queries(16) as few:
        client.get(url)
    for days in range(10):
        make_sent_questionnaire(patient=patient, phq9=10, days_ago=6 - days * 0.5)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200


def test_the_screening_summary_links_to_the_patient_page(course_patient, physician):
    patient, first, _ = course_patient
    html = staff_client(physician).get(f"/staff/screenings/{first.pk}/").content.decode()
    assert f'href="/staff/patients/{patient.pk}/"' in html


def test_a_baseline_of_0_says_response_cannot_be_judged(physician, default_version):
    patient = make_patient()
    make_sent_questionnaire(patient=patient, phq9=0, days_ago=9)
    make_sent_questionnaire(patient=patient, phq9=3, days_ago=2)
    text = page_text(staff_client(physician).get(f"/staff/patients/{patient.pk}/"))
    assert "Response cannot be judged: the baseline total is 0." in text


# The patient's own page ---------------------------------------------------------------


def test_the_patient_reads_their_scores_in_plain_words(course_patient):
    patient, *_ = course_patient
    client = Client()
    client.force_login(patient)
    assert (
        'href="/screenings/how-you-have-been-feeling/"'
        in client.get("/screenings/").content.decode()
    )
    response = client.get("/screenings/how-you-have-been-feeling/")
    text = page_text(response)
    # The latest questionnaire had thoughts of self-harm: the numbers, no praise of the fall.
    assert (
        "Your depression questionnaire (PHQ-9) score was 18 at your first questionnaire and 8 "
        "at your latest."
    ) in text
    assert "down by" not in text
    assert "Your anxiety questionnaire (GAD-7) score was 12" in text
    assert "10 lower than your first" in text
    assert "988" in text  # the crisis lines, as on the other patient pages
    html = response.content.decode()
    assert 'role="img"' in html
    # No item 9 marking and no clinical labels for the patient.
    for word in ("course-point-item9", "Item 9", "Positive", "Response", "Remission", "Severe"):
        assert word not in html, word


def test_a_fall_is_not_praised_when_the_latest_questionnaire_had_thoughts_of_self_harm(
    course_patient,
):
    """The day the latest PHQ-9 has item 9 positive, the patient is pointed kindly to the
    crisis lines and their clinic, not told their score is down by half."""
    patient, *_ = course_patient
    client = Client()
    client.force_login(patient)
    response = client.get("/screenings/how-you-have-been-feeling/")
    text = page_text(response)
    html = response.content.decode()
    assert "down by half or more" not in text
    assert "down by" not in text
    assert "thoughts that you would be better off dead, or of hurting yourself" in text
    assert "Please talk to your clinic" in text
    assert 'href="#crisis-lines"' in html and 'id="crisis-lines"' in html
    for word in ("Item 9", "PHQ-9 item", "suicid", "Positive"):
        assert word not in html, word


def test_a_fall_is_said_when_the_latest_questionnaire_had_no_thoughts_of_self_harm(
    course_patient,
):
    patient, *_ = course_patient
    make_sent_questionnaire(patient=patient, phq9=7, gad7=5, item9=0, days_ago=1)
    client = Client()
    client.force_login(patient)
    text = page_text(client.get("/screenings/how-you-have-been-feeling/"))
    assert "18 at your first questionnaire and 7 at your latest: down by half or more." in text
    assert "better off dead" not in text


def test_the_physician_reads_a_positive_item9_at_the_latest_questionnaire_first(
    course_patient, physician
):
    patient, *_ = course_patient
    html = staff_client(physician).get(f"/staff/patients/{patient.pk}/").content.decode()
    section = html.split('id="course-phq9_total"', 1)[1].split("</section>", 1)[0]
    warning = section.index("Item 9 positive at the latest questionnaire")
    assert "Needs same-day clinician review" in section
    # Before the statements, the chart and the response line.
    assert warning < section.index("Response at the latest questionnaire")
    assert warning < section.index("<svg")
    assert 'class="alert alert-danger' in section[:warning]


def test_the_charts_long_description_is_read_once_not_three_times(course_patient, physician):
    """The chart's name is short; its sentence is on the page once and the SVG points at it."""
    patient, *_ = course_patient
    client = Client()
    client.force_login(patient)
    html = client.get("/screenings/how-you-have-been-feeling/").content.decode()
    sentence = "score was 18 at your first questionnaire and 8 at your latest"
    assert html.count(sentence) == 1
    assert "<desc" not in html
    svg = re.search(r'<svg class="course-chart"[^>]*>', html).group(0)
    assert 'aria-labelledby="chart-phq9_total-title"' in svg
    assert 'aria-describedby="course-phq9_total-sentence"' in svg
    assert 'id="course-phq9_total-sentence"' in html
    assert "scores over time, chart</title>" in html
    staff = staff_client(physician).get(f"/staff/patients/{patient.pk}/").content.decode()
    phq9_section = staff.split('id="course-phq9_total"', 1)[1].split("</section>", 1)[0]
    assert phq9_section.count("Response at the latest questionnaire") == 1
    assert "<desc" not in staff
    assert 'aria-describedby="course-phq9_total-statements"' in staff


def test_the_patient_sees_only_their_own_scores(course_patient, other_patient):
    make_sent_questionnaire(patient=other_patient, phq9=27, gad7=21, days_ago=1)
    client = Client()
    client.force_login(other_patient)
    text = page_text(client.get("/screenings/how-you-have-been-feeling/"))
    assert "score was 27 on" in text and "18" not in text


def test_a_patient_with_nothing_sent_is_told_the_scores_will_come(patient):
    client = Client()
    client.force_login(patient)
    text = page_text(client.get("/screenings/how-you-have-been-feeling/"))
    assert "When you have sent a questionnaire, your scores will show here." in text


def test_the_patients_own_page_costs_a_fixed_number_of_queries(
    course_patient, django_assert_max_num_queries
):
    patient, *_ = course_patient
    client = Client()
    client.force_login(patient)
    url = "/screenings/how-you-have-been-feeling/"
    client.get(url)
    with django_assert_max_num_queries(8) as few:
        client.get(url)
    for days in range(10):
        make_sent_questionnaire(patient=patient, phq9=10, days_ago=6 - days * 0.5)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200


def test_a_session_check_in_links_to_its_session_not_to_a_review_that_never_comes(
    course_patient, physician
):
    """A check-in has no decision form: "Awaiting review" beside it would never change."""
    patient, *_ = course_patient
    course = make_course(physician, patient=patient)
    check_in = make_sent_questionnaire(patient=patient, phq9=3, days_ago=1, status="submitted")
    Screening.objects.filter(pk=check_in.pk).update(purpose=Screening.Purpose.CHECK_IN)
    session = make_session(physician, course=course, check_in=False)
    session.check_in = check_in
    session.save(update_fields=["check_in"])
    html = staff_client(physician).get(f"/staff/patients/{patient.pk}/").content.decode()
    listed = html.split("Questionnaires sent", 1)[1].split("</ul>", 1)[0]
    (line,) = [li for li in listed.split("<li>") if f"/staff/screenings/{check_in.pk}/" in li]
    assert f'href="/staff/sessions/{session.pk}/"' in line
    assert "Awaiting review" not in page_text_of(line)


def page_text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
