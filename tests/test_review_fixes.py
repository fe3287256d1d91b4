"""Defects found in review, each pinned by a test so it cannot come back."""

import pytest
from django.test import Client

from screening.engine.questionnaire import QuestionDef
from screening.intake.forms import SectionForm
from screening.models import Answer, AuditEvent, Decision, DrugClass
from screening.services.intake import start_screening
from tests.logins import log_in_staff

from .factories import make_submitted_screening
from .intake_helpers import fill_intake, page_post_data

pytestmark = pytest.mark.django_db


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


def test_an_amendment_cannot_clear_flags_nobody_acknowledged(physician, default_version):
    client = Client()
    log_in_staff(client, physician)
    screening = make_submitted_screening(flags=[("phq9_item9_positive", "urgent")])
    client.post(
        f"/staff/screenings/{screening.pk}/decide/",
        {"lock_version": 0, "outcome": "not_a_candidate", "reason": "r"},
    )
    screening.refresh_from_db()
    response = client.post(
        f"/staff/screenings/{screening.pk}/decide/",
        {"lock_version": screening.lock_version, "outcome": "cleared"},
    )
    assert "Acknowledge every flag" in response.content.decode()
    assert list(Decision.objects.values_list("outcome", flat=True)) == ["not_a_candidate"]


def test_a_second_acknowledgement_does_not_overwrite_the_first(physician, default_version):
    from screening.models import User
    from screening.services.review import acknowledge_flag

    other = User.objects.create_user(email="other@example.com", password=None, full_name="Dr Other")
    screening = make_submitted_screening(flags=[("opioid", "caution")])
    flag = screening.flags.get()
    acknowledge_flag(flag=flag, physician=physician, note="first", seen_version=0)
    acknowledge_flag(flag=flag, physician=other, note="second", seen_version=1)
    flag.refresh_from_db()
    assert (flag.acknowledgement.physician, flag.acknowledgement.note) == (physician, "first")


def test_repeated_medication_names_keep_their_own_doses(patient_client, patient, default_version):
    screening = start_screening(patient=patient)
    fill_intake(
        patient_client,
        screening,
        {
            "medications-none": "",
            "medications-rows": "2",
            "medications-0-name": "Quetiapine",
            "medications-0-dose": "25 mg",
            "medications-1-name": "Quetiapine",
            "medications-1-dose": "300 mg",
        },
    )
    patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    assert list(screening.medications.values_list("dose", flat=True)) == ["25 mg", "300 mg"]


def test_admin_written_help_text_is_inert_on_patient_pages():
    question = QuestionDef("q", "text", "Q?", help_text='<img src=x onerror="alert(1)">')
    html = str(SectionForm(questions=[question]).as_div())
    from crispy_forms.utils import render_crispy_form

    rendered = render_crispy_form(SectionForm(questions=[question]))
    assert "<img" not in rendered and "&lt;img" in rendered
    assert "<img" not in html


def test_a_null_character_in_a_medication_row_is_refused():
    form = SectionForm(
        {"q-rows": "1", "q-0-name": "Sertra\x00line"},
        questions=[QuestionDef("q", "medication_list", "Q?")],
    )
    assert not form.is_valid()
    assert "control character" in str(form.errors)


def test_the_audit_summary_names_no_clinical_finding(physician, default_version):
    client = Client()
    log_in_staff(client, physician)
    screening = make_submitted_screening(flags=[("phq9_item9_positive", "urgent")])
    flag = screening.flags.get()
    client.post(
        f"/staff/screenings/{screening.pk}/flags/{flag.pk}/acknowledge/", {"lock_version": 0}
    )
    summaries = list(AuditEvent.objects.values_list("summary", flat=True))
    assert summaries and not any("phq9" in summary for summary in summaries)


def test_a_drug_class_in_use_cannot_be_deleted_or_renamed(clinic_admin, client, default_version):
    log_in_staff(client, clinic_admin)
    maoi = DrugClass.objects.get(name="maoi")
    assert (
        client.post(f"/admin/screening/drugclass/{maoi.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert DrugClass.objects.filter(name="maoi").exists()


@pytest.mark.parametrize(
    "items, bands, field",
    [
        ('["phq9_one"]', "[]", "items"),
        ('["phq9_1"]', '[{"min": "low"}]', "bands"),
        ('["phq9_1"]', '[{"min": 5, "max": 1, "label": "x"}]', "bands"),
    ],
)
def test_a_score_definition_is_checked_before_it_is_saved(
    clinic_admin, client, default_version, items, bands, field
):
    from screening.admin import ScoreDefinitionAdminForm
    from screening.services.content import make_draft

    draft = make_draft(source=default_version, actor=clinic_admin, ip_address=None)
    form = ScoreDefinitionAdminForm(
        data={
            "version": draft.pk,
            "position": 9,
            "code": "x_total",
            "name": "X",
            "items": items,
            "bands": bands,
            "source": "",
        }
    )
    assert not form.is_valid()
    assert field in form.errors


def test_a_failing_mail_server_never_hides_the_crisis_page(
    patient_client, patient, physician, default_version, settings, task_worker
):
    settings.EMAIL_BACKEND = "tests.mailboxes.BrokenMailServer"
    screening = start_screening(patient=patient)
    fill_intake(patient_client, screening, {"phq9_9": "nearly_every_day"})
    response = patient_client.post(
        f"/screenings/{screening.pk}/review/", {"consent": "on"}, follow=True
    )
    # The alert waits in the queue; the worker's failure is retried later (tests/test_task_queue.py).
    task_worker()
    assert response.status_code == 200
    assert "Please read this now" in response.content.decode()
