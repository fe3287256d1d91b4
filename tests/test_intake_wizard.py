"""The patient's journey through the intake: pages, follow-ups, resume, review and submit."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from screening import selectors
from screening.engine.questionnaire import work_out_visibility
from screening.models import Answer, Screening
from screening.selectors import read_answers, visibility_for
from screening.services.intake import save_page, start_screening
from screening.snapshots import questionnaire_for

from .intake_helpers import fill_intake, page_post_data, presented_codes

pytestmark = pytest.mark.django_db


@pytest.fixture
def screening(default_version, patient):
    return start_screening(patient=patient)


def page_url(screening, code):
    return f"/screenings/{screening.pk}/page/{code}/"


def test_starting_creates_one_screening_on_the_published_version(patient_client, default_version):
    first = patient_client.post("/screenings/start/")
    second = patient_client.post("/screenings/start/")
    assert first["Location"] == second["Location"]
    screening = Screening.objects.get()
    assert screening.version == default_version


def test_new_screening_resumes_at_the_first_page(patient_client, screening):
    response = patient_client.get(f"/screenings/{screening.pk}/")
    assert response["Location"] == page_url(screening, "about_you")


def test_page_shows_progress(patient_client, screening):
    response = patient_client.get(page_url(screening, "about_you"))
    assert b"Section 1 of" in response.content


def section_progress(html):
    return tuple(map(int, re.search(r"Section (\d+) of (\d+)", html).groups()))


@pytest.mark.parametrize(("sex", "pages_ruled_out"), [("female", 0), ("male", 1)])
def test_the_section_count_never_climbs_as_pages_apply(
    patient_client, screening, sex, pages_ruled_out
):
    """The pregnancy page waits on sex at birth: it is counted while it can still apply, so
    "1 of 17" is not followed by "2 of 18"; ruled out, the count falls by one."""
    html = patient_client.get(page_url(screening, "about_you")).content.decode()
    first, count = section_progress(html)
    assert first == 1
    patient_client.post(
        page_url(screening, "about_you"), page_post_data(html, screening, {"sex_at_birth": sex})
    )
    second = patient_client.get(page_url(screening, "treatment_history")).content.decode()
    assert section_progress(second) == (2, count - pages_ruled_out)


def test_a_saved_page_is_kept_and_the_wizard_moves_on(patient_client, screening):
    html = patient_client.get(page_url(screening, "about_you")).content.decode()
    response = patient_client.post(
        page_url(screening, "about_you"),
        page_post_data(html, screening, {"date_of_birth": "1970-02-03", "sex_at_birth": "male"}),
    )
    assert response.status_code == 302
    stored = dict(screening.answers.values_list("question__code", "value"))
    assert stored["date_of_birth"] == "1970-02-03"
    assert stored["sex_at_birth"] == "male"
    # A male patient is never asked about pregnancy: the wizard skips that page.
    next_page = patient_client.get(response["Location"])
    assert next_page["Location"] == page_url(screening, "treatment_history")
    shown = [section.code for section in visibility_for(screening).sections]
    assert shown.index("heart") == shown.index("care_team") + 1
    assert "pregnancy" not in shown


def test_bad_input_is_refused_beside_the_field_and_kept_as_typed(patient_client, screening):
    html = patient_client.get(page_url(screening, "about_you")).content.decode()
    data = page_post_data(html, screening, {"height_cm": "abc", "weight_kg": "9000"})
    response = patient_client.post(page_url(screening, "about_you"), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Enter your height in centimeters as a number" in body
    assert "Enter a weight between 25 and 350 kg" in body
    assert 'value="abc"' in body
    assert 'value="9000"' in body
    assert not screening.answers.exists()


def test_a_follow_up_revealed_by_an_answer_is_asked_before_moving_on(patient_client, screening):
    fill_intake_until(patient_client, screening, "pregnancy")
    html = patient_client.get(page_url(screening, "pregnancy")).content.decode()
    assert "pregnant" not in presented_codes(html)
    data = page_post_data(html, screening, {"can_be_pregnant": "yes"})
    response = patient_client.post(page_url(screening, "pregnancy"), data)
    assert response["Location"] == page_url(screening, "pregnancy")
    again = patient_client.get(page_url(screening, "pregnancy")).content.decode()
    assert "pregnant" in presented_codes(again)
    assert "follow-up" in again


def test_a_follow_up_made_irrelevant_is_not_demanded_and_its_answer_is_ignored(
    patient_client, screening
):
    fill_intake_until(patient_client, screening, "pregnancy")
    html = patient_client.get(page_url(screening, "pregnancy")).content.decode()
    patient_client.post(
        page_url(screening, "pregnancy"),
        page_post_data(html, screening, {"can_be_pregnant": "yes"}),
    )
    html = patient_client.get(page_url(screening, "pregnancy")).content.decode()
    data = page_post_data(
        html, screening, {"can_be_pregnant": "yes", "pregnant": "unsure", "contraception": "yes"}
    )
    patient_client.post(page_url(screening, "pregnancy"), data)
    assert Answer.objects.filter(screening=screening, question__code="pregnant").exists()
    # Now the patient changes their mind: they cannot become pregnant. The page shows the
    # pregnancy question (it was answered), but no longer requires it.
    html = patient_client.get(page_url(screening, "pregnancy")).content.decode()
    data = page_post_data(html, screening, {"can_be_pregnant": "no"})
    data.pop("pregnant", None)
    response = patient_client.post(page_url(screening, "pregnancy"), data)
    assert response.status_code == 302
    review = patient_client.get(f"/screenings/{screening.pk}/review/").content.decode()
    assert "Could you be pregnant now" not in review and "unsure" not in review.lower()


def fill_intake_until(client, screening, stop_at):
    """Answer pages until the wizard asks for `stop_at`."""
    for _ in range(30):
        location = client.get(f"/screenings/{screening.pk}/")["Location"]
        if location == page_url(screening, stop_at):
            return
        html = client.get(location).content.decode()
        client.post(location, page_post_data(html, screening, {"sex_at_birth": "female"}))
    raise AssertionError(f"never reached {stop_at}")


def test_resume_after_logout_returns_to_the_first_unanswered_page(client, patient, screening):
    client.force_login(patient)
    fill_intake_until(client, screening, "brain_eyes")
    client.post("/logout/")
    assert client.get(f"/screenings/{screening.pk}/")["Location"].startswith("/login/")
    client.post("/login/", {"username": patient.email, "password": "correct horse battery staple"})
    assert client.get(f"/screenings/{screening.pk}/")["Location"] == page_url(
        screening, "brain_eyes"
    )


def test_review_lists_every_answer_with_a_link_to_change_it(patient_client, screening):
    fill_intake(patient_client, screening, {"height_cm": "181"})
    response = patient_client.get(f"/screenings/{screening.pk}/review/")
    body = response.content.decode()
    assert "Check your answers" in body
    assert "181" in body
    assert f'href="{page_url(screening, "about_you")}?from=review"' in body
    assert "Submit my answers" in body


def test_review_shows_each_section_as_one_line_with_its_answers_folded_away(
    patient_client, screening
):
    """The review page was 9,017 px tall on a phone: each section is now one summary line
    ("About you — 5 answers") with Change beside it, its answers inside a <details>."""
    fill_intake(patient_client, screening)
    body = patient_client.get(f"/screenings/{screening.pk}/review/").content.decode()
    shown = visibility_for(screening)
    assert body.count("<details") == len(shown.sections)
    assert "<details open" not in body
    about_you = next(s for s in shown.sections if s.code == "about_you")
    asked = len(shown.visible_in(about_you))
    line = re.search(r'<summary class="py-2">(.*?)</summary>', body, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", line) == f"{about_you.title} — {asked} answers"
    # The answers are still there to open, each section with its Change link.
    assert "1980-05-17" in body or "17 May 1980" in body or "May 17, 1980" in body
    assert body.count("?from=review") == len(shown.sections)


def test_changing_an_answer_from_review_returns_to_review(patient_client, screening):
    fill_intake(patient_client, screening)
    url = page_url(screening, "about_you") + "?from=review"
    html = patient_client.get(url).content.decode()
    response = patient_client.post(url, page_post_data(html, screening, {"weight_kg": "82"}))
    assert response["Location"] == f"/screenings/{screening.pk}/review/"


def test_submit_requires_the_consent_acknowledgement(patient_client, screening):
    fill_intake(patient_client, screening)
    response = patient_client.post(f"/screenings/{screening.pk}/review/", {})
    assert response.status_code == 200
    assert b"Please check this box to confirm" in response.content
    screening.refresh_from_db()
    assert screening.status == Screening.Status.IN_PROGRESS


def test_submit_makes_the_screening_read_only(patient_client, screening):
    fill_intake(patient_client, screening)
    response = patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    assert response["Location"] == f"/screenings/{screening.pk}/submitted/"
    screening.refresh_from_db()
    assert screening.status == Screening.Status.SUBMITTED
    assert screening.consent_acknowledged_at is not None
    confirmation = patient_client.get(response["Location"])
    assert b"your answers have been sent" in confirmation.content
    # A later save of a page is refused and changes nothing.
    before = list(screening.answers.values_list("question__code", "value"))
    late = patient_client.post(page_url(screening, "about_you"), {"height_cm": "150"})
    assert late["Location"] == f"/screenings/{screening.pk}/submitted/"
    assert list(screening.answers.values_list("question__code", "value")) == before


def test_submitting_twice_creates_one_submission(patient_client, screening):
    fill_intake(patient_client, screening)
    first = patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    screening.refresh_from_db()
    submitted_at = screening.submitted_at
    second = patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    assert first["Location"] == second["Location"]
    screening.refresh_from_db()
    assert screening.submitted_at == submitted_at
    assert Screening.objects.filter(status=Screening.Status.SUBMITTED).count() == 1


def test_an_incomplete_screening_cannot_be_submitted(patient_client, screening):
    response = patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    assert response.status_code == 200
    assert b"still need answers" in response.content
    screening.refresh_from_db()
    assert screening.status == Screening.Status.IN_PROGRESS


def test_patient_cannot_open_another_patients_screening(client, other_patient, screening):
    client.force_login(other_patient)
    for url in (
        f"/screenings/{screening.pk}/",
        page_url(screening, "about_you"),
        f"/screenings/{screening.pk}/review/",
        f"/screenings/{screening.pk}/submitted/",
    ):
        assert client.get(url).status_code == 404
    assert client.post(page_url(screening, "about_you"), {"height_cm": "150"}).status_code == 404
    assert not screening.answers.exists()


def test_an_unknown_page_code_is_a_404(patient_client, screening):
    assert patient_client.get(page_url(screening, "no-such-page")).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, screening):
    response = client.get(f"/screenings/{screening.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_a_medication_list_keeps_every_row_as_typed(patient_client, screening):
    fill_intake_until(patient_client, screening, "medicines")
    url = page_url(screening, "medicines")
    html = patient_client.get(url).content.decode()
    data = page_post_data(html, screening, {})
    data.pop("medications-none")
    data.update(
        {
            "medications-rows": "3",
            "medications-0-name": "Biaxin",
            "medications-0-dose": "500 mg",
            "medications-0-frequency": "twice a day",
            "medications-1-name": "st john's wort",
        }
    )
    assert patient_client.post(url, data).status_code == 302
    stored = Answer.objects.get(screening=screening, question__code="medications").value
    assert stored["rows"] == [
        {"name": "Biaxin", "dose": "500 mg", "frequency": "twice a day"},
        {"name": "st john's wort", "dose": "", "frequency": ""},
    ]


def test_the_add_rows_button_offers_more_rows_without_saving(patient_client, screening):
    fill_intake_until(patient_client, screening, "medicines")
    url = page_url(screening, "medicines")
    html = patient_client.get(url).content.decode()
    data = page_post_data(html, screening, {})
    data.pop("medications-none")
    data.update(
        {"medications-rows": "3", "medications-0-name": "Xanax", "more_rows": "medications"}
    )
    response = patient_client.post(url, data)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'value="Xanax"' in body
    assert 'name="medications-7-name"' in body
    assert not Answer.objects.filter(screening=screening, question__code="medications").exists()


# What a page costs: queries, reads and working-out, fixed whatever was answered before ----


def fill_until_mood(client, screening):
    fill_intake_until(client, screening, "mood")
    client.get(page_url(screening, "mood"))  # the session's first visit records its start


def mood_answers(client, screening):
    html = client.get(page_url(screening, "mood")).content.decode()
    return page_post_data(html, screening, {"phq9_9": "not_at_all"})


def test_a_wizard_page_costs_at_most_six_queries(
    patient_client, screening, django_assert_max_num_queries
):
    fill_until_mood(patient_client, screening)
    with django_assert_max_num_queries(6):
        response = patient_client.get(page_url(screening, "mood"))
    assert response.status_code == 200


def test_saving_a_page_costs_at_most_twelve_queries(
    patient_client, screening, django_assert_max_num_queries
):
    fill_until_mood(patient_client, screening)
    data = mood_answers(patient_client, screening)
    with django_assert_max_num_queries(12):
        response = patient_client.post(page_url(screening, "mood"), data)
    assert response.status_code == 302


def test_a_save_reads_the_stored_answers_once_and_writes_them_in_one_statement(
    patient_client, screening
):
    fill_until_mood(patient_client, screening)
    data = mood_answers(patient_client, screening)
    with CaptureQueriesContext(connection) as queries:
        patient_client.post(page_url(screening, "mood"), data)
    # The read and the write are written out as SQL, and run as prepared statements on
    # PostgreSQL (screening/patient_reads.py, screening/page_writes.py, screening/prepared.py),
    # where the answers are read in the screening's own statement.
    sqls = [q["sql"] for q in queries.captured_queries]
    on_postgresql = connection.vendor == "postgresql"
    reads = [s for s in sqls if s.startswith("EXECUTE screening_answers_")]
    reads = [s for s in reads if not s.startswith("EXECUTE screening_answers_write")]
    reads += [s for s in sqls if s.startswith("SELECT") and '"screening_answer"' in s]
    if on_postgresql:
        reads += [s for s in sqls if s.startswith("EXECUTE screening_patient_screening_read")]
    writes = [s for s in sqls if s.startswith("EXECUTE screening_answers_write")]
    writes += [s for s in sqls if s.startswith(("INSERT", "UPDATE")) and '"screening_answer"' in s]
    assert len(reads) == 1
    assert len(writes) == 1
    stored = dict(screening.answers.values_list("question__code", "value"))
    assert stored["phq9_9"] == "not_at_all"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_page_works_out_what_is_asked_once_per_request(
    patient_client, screening, monkeypatch, method
):
    fill_until_mood(patient_client, screening)
    data = mood_answers(patient_client, screening)
    calls = []
    real = selectors.work_out_visibility
    monkeypatch.setattr(
        selectors, "work_out_visibility", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    if method == "GET":
        patient_client.get(page_url(screening, "mood"))
    else:
        assert patient_client.post(page_url(screening, "mood"), data).status_code == 302
    assert len(calls) == 1


def test_a_save_makes_each_field_of_the_page_once(patient_client, screening, monkeypatch):
    """The lenient reading of the post and the form that checks it ask the same questions:
    the checking form takes over the fields the reading made."""
    from screening.intake import forms

    fill_until_mood(patient_client, screening)
    data = mood_answers(patient_client, screening)
    made = []
    real = forms.field_for
    monkeypatch.setattr(forms, "field_for", lambda q: made.append(q.code) or real(q))
    assert patient_client.post(page_url(screening, "mood"), data).status_code == 302
    # Each question on the page once (a follow-up the answers leave hidden: not at all).
    assert sorted(made) == sorted(set(data["presented"]))


def test_a_blank_answer_is_still_refused_by_the_field_that_first_read_it_leniently(
    patient_client, screening
):
    fill_until_mood(patient_client, screening)
    data = {**mood_answers(patient_client, screening), "phq9_9": ""}
    response = patient_client.post(page_url(screening, "mood"), data)
    assert response.status_code == 200
    assert "Please answer this question." in response.content.decode()
    assert not screening.completed_sections.filter(section__code="mood").exists()
    assert not Answer.objects.filter(screening=screening, question__code="phq9_9").exists()


def test_a_save_works_the_page_out_again_when_another_save_came_in_between(screening):
    """The step's reading is reused only while nobody else saved: another tab's save in
    between makes the service read the answers again under the lock."""
    safety = questionnaire_for(screening.version).section("safety")
    stale = read_answers(screening)
    nothing_shown = work_out_visibility(
        questionnaire_for(screening.version), {}, datetime.date.today()
    )
    nothing_shown.sections, nothing_shown.questions = [], {}  # would make any page complete
    # The other tab: a save of another page moves the screening's updated_at on.
    save_page(
        screening=Screening.objects.get(pk=screening.pk),
        section=questionnaire_for(screening.version).section("consent"),
        answers={},
        presented=set(),
    )
    saved = save_page(
        screening=screening,
        section=safety,
        answers={"suicide_thoughts": "yes"},
        presented={"suicide_thoughts"},
        read=stale,
        visibility=nothing_shown,
    )
    # Worked out afresh: "yes" reveals the method, intent and plan questions, unseen.
    assert saved.complete is False
    assert not screening.completed_sections.filter(section__code="safety").exists()


# How a page is drawn: lean templates, prepared once per version, as accessible as before ----


def test_a_refused_answer_is_tied_to_its_field_for_screen_readers(patient_client, screening):
    # A number box (heart rate, on the vitals page).
    url = page_url(screening, "vitals")
    html = patient_client.get(url).content.decode()
    data = page_post_data(html, screening, {"heart_rate": "999"})
    body = patient_client.post(url, data).content.decode()
    summary = re.search(
        r'<div class="alert alert-danger" role="alert"[^>]*>(.*?)</div>', body, re.S
    )
    assert 'href="#div_id_heart_rate"' in summary.group(1)
    assert 'id="div_id_heart_rate"' in body
    # A box: invalid, and described by its help and its error, which says what to type.
    box = re.search(r'<input [^>]*name="heart_rate"[^>]*>', body).group(0)
    assert 'aria-invalid="true"' in box and 'value="999"' in box
    assert "id_heart_rate_error" in box
    error = re.search(r'<div id="id_heart_rate_error"[^>]*>(.*?)</div>', body, re.S).group(1)
    assert "between 30 and 220" in error
    # A radio group left unanswered on the first page.
    url = page_url(screening, "about_you")
    html = patient_client.get(url).content.decode()
    data = page_post_data(html, screening, {})
    data.pop("sex_at_birth")
    body = patient_client.post(url, data).content.decode()
    summary = re.search(
        r'<div class="alert alert-danger" role="alert"[^>]*>(.*?)</div>', body, re.S
    )
    assert 'href="#div_id_sex_at_birth"' in summary.group(1)
    assert 'id="div_id_sex_at_birth"' in body
    # A radio group: a fieldset with the question as its legend, described by its error.
    group = re.search(r"<fieldset[^>]*>\s*<legend[^>]*>\s*What sex were you assigned", body)
    assert "id_sex_at_birth_error" in group.group(0)
    radios = re.findall(r'<input type="radio"[^>]*name="sex_at_birth"[^>]*>', body)
    assert radios and all('aria-invalid="true"' in radio for radio in radios)
    assert all(f'<label for="{i}"' in body for i in re.findall(r'id="(id_sex_at_birth_\d)"', body))


def test_stored_answers_are_shown_escaped_in_the_prepared_fields(patient_client, screening):
    fill_intake_until(patient_client, screening, "consent")
    url = page_url(screening, "consent")
    html = patient_client.get(url).content.decode()
    typed = '"><script>alert(1)</script>'
    patient_client.post(url, page_post_data(html, screening, {"questions_for_clinic": typed}))
    body = patient_client.get(url).content.decode()
    assert "<script>alert(1)" not in body
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</textarea>" in body


def test_a_published_versions_fields_are_prepared_once(patient_client, screening, monkeypatch):
    from screening.intake import fields

    patient_client.get(page_url(screening, "about_you"))  # prepared here, if not before
    renders = []
    real = fields.render_to_string
    monkeypatch.setattr(
        fields, "render_to_string", lambda *a, **k: renders.append(a) or real(*a, **k)
    )
    for code in ("about_you", "heart", "about_you"):
        assert patient_client.get(page_url(screening, code)).status_code in (200, 302)
    assert renders == []


def test_a_follow_up_answer_survives_the_patient_changing_their_mind_twice(
    patient_client, patient, default_version
):
    screening = start_screening(patient=patient)
    for _ in range(30):
        location = patient_client.get(f"/screenings/{screening.pk}/")["Location"]
        if location.endswith("/page/safety/"):
            break
        html = patient_client.get(location).content.decode()
        patient_client.post(location, page_post_data(html, screening, {}))
    url = f"/screenings/{screening.pk}/page/safety/"
    html = patient_client.get(url).content.decode()
    patient_client.post(url, page_post_data(html, screening, {"suicide_thoughts": "yes"}))
    html = patient_client.get(url).content.decode()
    patient_client.post(
        url, page_post_data(html, screening, {"suicide_thoughts": "yes", "suicide_method": "yes"})
    )
    for answer in ("no", "yes"):
        html = patient_client.get(url).content.decode()
        data = page_post_data(html, screening, {"suicide_thoughts": answer})
        for code in ("suicide_method", "suicide_intent", "suicide_plan"):
            data.pop(code, None)
        data["presented"] = [
            c
            for c in data["presented"]
            if c not in ("suicide_method", "suicide_intent", "suicide_plan")
        ]
        patient_client.post(url, data)
    assert Answer.objects.get(screening=screening, question__code="suicide_method").value == "yes"
