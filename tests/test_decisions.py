"""A physician reads a screening, acknowledges its flags and signs a decision; everything is audited."""

import re

import pytest
from django.test import Client

from screening.models import AuditAction, AuditEvent, Decision, FlagAcknowledgement, Screening, User
from screening.services.intake import start_screening
from screening.services.review import acknowledge_flag
from tests.logins import log_in_staff

from .factories import make_submitted_screening
from .intake_helpers import fill_intake

pytestmark = pytest.mark.django_db


def url(screening, tail=""):
    return f"/staff/screenings/{screening.pk}/{tail}"


def acknowledge_all(client, screening):
    for flag in screening.flags.all():
        screening.refresh_from_db()
        response = client.post(
            url(screening, f"flags/{flag.pk}/acknowledge/"),
            {"note": "", "lock_version": screening.lock_version},
        )
        assert response.status_code == 302
    screening.refresh_from_db()


def decide(client, screening, **data):
    screening.refresh_from_db()
    return client.post(url(screening, "decide/"), {"lock_version": screening.lock_version, **data})


def test_the_screening_page_shows_flags_scores_and_logs_the_read(
    physician_client, physician, default_version
):
    screening = make_submitted_screening(
        flags=[("bp_crisis_range", "urgent"), ("opioid", "caution")]
    )
    response = physician_client.get(url(screening))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Title of bp_crisis_range" in body and "Message of opioid" in body
    assert "PHQ-9 total" in body and "Mild" in body
    event = AuditEvent.objects.get(action="screening.viewed")
    assert (
        event.actor == physician
        and event.screening == screening
        and event.ip_address == "127.0.0.1"
    )


def test_a_real_submission_shows_typed_medications_beside_what_they_matched(
    physician_client, patient, default_version
):
    patient_client = Client()
    patient_client.force_login(patient)
    screening = start_screening(patient=patient)
    fill_intake(
        patient_client,
        screening,
        {"medications-none": "", "medications-rows": "1", "medications-0-name": "Biaxin 500 mg"},
    )
    patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    body = physician_client.get(url(screening)).content.decode()
    assert "Biaxin 500 mg" in body and "clarithromycin" in body
    assert 'href="#answer-medications"' in body and 'id="answer-medications"' in body


def test_clearing_needs_every_flag_acknowledged(physician_client, default_version):
    screening = make_submitted_screening(flags=[("opioid", "caution")])
    response = decide(physician_client, screening, outcome="cleared")
    assert "Acknowledge every flag" in response.content.decode()
    assert not Decision.objects.exists()
    acknowledge_all(physician_client, screening)
    response = decide(physician_client, screening, outcome="cleared")
    assert response["Location"] == "/staff/queue/"
    screening.refresh_from_db()
    assert screening.status == Screening.Status.DECIDED
    assert screening.flags.get().acknowledgement.physician.full_name == "Dr Dana Physician"


def screening_reads(screening, physician) -> int:
    return AuditEvent.objects.filter(
        action="screening.viewed", screening=screening, actor=physician
    ).count()


@pytest.mark.parametrize(
    "posted",
    [
        {},  # only a CSRF token: the attack's read of the whole page without an audit event
        {"lock_version": "x"},
        {"outcome": "cleared"},  # refused by the form
    ],
    ids=["nothing", "bad-lock-version", "no-lock-version"],
)
def test_a_decision_form_sent_back_with_errors_is_an_audited_read(
    physician_client, physician, default_version, posted
):
    # The retest after issue 10, finding C: the page that comes back shows the whole screening.
    screening = make_submitted_screening(flags=[("opioid", "caution")])
    response = physician_client.post(url(screening, "decide/"), posted)
    assert response.status_code == 200
    assert "Title of opioid" in response.content.decode()
    assert screening_reads(screening, physician) == 1


def test_a_refused_decision_is_an_audited_read(physician_client, physician, default_version):
    screening = make_submitted_screening(flags=[("opioid", "caution")])
    response = decide(physician_client, screening, outcome="cleared")  # flag not acknowledged
    assert response.status_code == 200
    assert "Acknowledge every flag before clearing" in response.content.decode()
    assert screening_reads(screening, physician) == 1


def test_a_decision_is_signed_and_leaves_the_queue(physician_client, physician, default_version):
    screening = make_submitted_screening(level="info")
    acknowledge_all(physician_client, screening)
    decide(
        physician_client,
        screening,
        outcome="cleared_with_conditions",
        conditions="Measure BP before each dose",
    )
    decision = Decision.objects.get()
    assert decision.signed_name == "Dr Dana Physician" and decision.signed_at
    assert decision.physician == physician and decision.conditions == "Measure BP before each dose"
    queue = physician_client.get("/staff/queue/")
    assert screening.pk not in [entry.id for entry in queue.context["page"]]
    assert AuditEvent.objects.filter(action="decision.recorded", screening=screening).exists()
    assert AuditEvent.objects.filter(action="flag.acknowledged", screening=screening).exists()


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"outcome": "cleared_with_conditions"}, "conditions", "Write the conditions."),
        ({"outcome": "not_a_candidate"}, "reason", "Write the reason."),
        (
            {"outcome": "more_information_needed"},
            "message_to_patient",
            "Write what the patient should add",
        ),
        ({"outcome": "maybe"}, "outcome", "Select a valid choice"),
    ],
)
def test_each_outcome_demands_its_explanation(
    physician_client, default_version, data, field, message
):
    screening = make_submitted_screening(level="info")
    acknowledge_all(physician_client, screening)
    response = decide(physician_client, screening, **data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Decision.objects.exists()


def test_clearing_a_contraindication_needs_an_override_reason(physician_client, default_version):
    screening = make_submitted_screening(flags=[("pregnancy", "contraindicated")])
    acknowledge_all(physician_client, screening)
    response = decide(physician_client, screening, outcome="cleared")
    assert "explain why you clear it anyway" in response.content.decode()
    assert not Decision.objects.exists()
    decide(
        physician_client,
        screening,
        outcome="cleared",
        override_reason="Test negative; patient not pregnant",
    )
    assert Decision.objects.get().override_reason == "Test negative; patient not pregnant"


def test_not_a_candidate_needs_no_override(physician_client, default_version):
    screening = make_submitted_screening(flags=[("pregnancy", "contraindicated")])
    decide(physician_client, screening, outcome="not_a_candidate", reason="Pregnant")
    assert Decision.objects.get().outcome == "not_a_candidate"


def test_an_amendment_is_a_new_decision_that_keeps_the_old_one(physician_client, default_version):
    screening = make_submitted_screening(level="info")
    acknowledge_all(physician_client, screening)
    decide(physician_client, screening, outcome="cleared")
    decide(
        physician_client, screening, outcome="not_a_candidate", reason="New information from the GP"
    )
    first, second = Decision.objects.order_by("signed_at")
    assert second.amends == first
    assert first.outcome == "cleared"
    body = physician_client.get(url(screening)).content.decode()
    assert "Cleared for treatment" in body and "amendment" in body


def test_a_second_physician_saving_a_stale_page_is_refused(physician_client, default_version):
    screening = make_submitted_screening(level="info")
    acknowledge_all(physician_client, screening)
    stale_version = screening.lock_version
    decide(physician_client, screening, outcome="cleared")
    response = physician_client.post(
        url(screening, "decide/"),
        {"lock_version": stale_version, "outcome": "not_a_candidate", "reason": "x"},
        follow=True,
    )
    body = response.content.decode()
    assert "Another physician changed this screening" in body
    assert "Cleared for treatment" in body  # the page shows what changed
    assert Decision.objects.count() == 1


def test_a_stale_acknowledgement_is_refused(physician_client, default_version):
    screening = make_submitted_screening(flags=[("opioid", "caution"), ("maoi", "caution")])
    first, second = screening.flags.all()
    version = screening.lock_version
    physician_client.post(
        url(screening, f"flags/{first.pk}/acknowledge/"), {"lock_version": version}
    )
    response = physician_client.post(
        url(screening, f"flags/{second.pk}/acknowledge/"), {"lock_version": version}, follow=True
    )
    assert "Another physician changed this screening" in response.content.decode()
    # The first acknowledgement stands; the stale one left nothing: no row, no version, no event.
    assert list(FlagAcknowledgement.objects.values_list("flag", flat=True)) == [first.pk]
    screening.refresh_from_db()
    assert screening.lock_version == version + 1
    assert AuditEvent.objects.filter(action="flag.acknowledged").count() == 1


def test_more_information_reopens_the_intake_and_resubmission_returns_it_to_the_queue(
    physician_client, patient, default_version
):
    patient_client = Client()
    patient_client.force_login(patient)
    screening = start_screening(patient=patient)
    fill_intake(patient_client, screening, {})
    patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    decide(
        physician_client,
        screening,
        outcome="more_information_needed",
        message_to_patient="Please add your blood pressure.",
    )
    screening.refresh_from_db()
    assert screening.status == Screening.Status.WAITING_FOR_PATIENT
    home = patient_client.get("/screenings/").content.decode()
    assert "Please add your blood pressure." in home
    review = patient_client.get(f"/screenings/{screening.pk}/review/").content.decode()
    assert "Please add your blood pressure." in review
    # The patient corrects an answer and resubmits: it is evaluated again and back in the queue.
    html = patient_client.get(
        f"/screenings/{screening.pk}/page/vitals/?from=review"
    ).content.decode()
    from .intake_helpers import page_post_data

    patient_client.post(
        f"/screenings/{screening.pk}/page/vitals/?from=review",
        page_post_data(html, screening, {"bp_systolic": "185", "bp_diastolic": "95"}),
    )
    patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    screening.refresh_from_db()
    assert screening.status == Screening.Status.SUBMITTED
    assert screening.flags.filter(code="bp_crisis_range").exists()
    queue = physician_client.get("/staff/queue/")
    assert screening.pk in [entry.id for entry in queue.context["page"]]


def test_a_decision_on_a_resubmission_is_a_new_decision_not_an_amendment(
    physician_client, patient, default_version
):
    """The question asked and the patient's new answers make a new submission: the decision
    on it answers that submission, it does not amend the request for more information."""
    patient_client = Client()
    patient_client.force_login(patient)
    screening = start_screening(patient=patient)
    fill_intake(patient_client, screening, {})
    patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    decide(
        physician_client,
        screening,
        outcome="more_information_needed",
        message_to_patient="Please confirm your medicines.",
    )
    patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    decide(physician_client, screening, outcome="not_a_candidate", reason="Discussed by phone.")
    asked, answered = screening.decisions.order_by("signed_at")
    assert answered.amends is None
    actions = list(
        AuditEvent.objects.filter(screening=screening, action__startswith="decision.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["decision.recorded", "decision.recorded"]
    # A second decision on the same submission is still an amendment.
    decide(physician_client, screening, outcome="not_a_candidate", reason="Changed wording.")
    assert screening.decisions.order_by("-signed_at").first().amends == answered


@pytest.mark.parametrize("who", ["patient", "other_patient", "clinic_admin"])
def test_only_physicians_read_or_decide_a_screening(client, request, who, default_version):
    screening = make_submitted_screening(level="urgent")
    log_in_staff(client, request.getfixturevalue(who))
    assert client.get(url(screening)).status_code == 403
    assert client.get(url(screening, "print/")).status_code == 403
    assert (
        client.post(
            url(screening, "decide/"), {"outcome": "cleared", "lock_version": 0}
        ).status_code
        == 403
    )
    assert not Decision.objects.exists()
    assert not AuditEvent.objects.filter(action="screening.viewed").exists()


def test_a_screening_still_being_filled_in_is_not_visible_to_staff(
    physician_client, patient, default_version
):
    screening = start_screening(patient=patient)
    assert physician_client.get(url(screening)).status_code == 404


def test_the_print_view_is_clean_and_audited(physician_client, default_version):
    screening = make_submitted_screening(flags=[("opioid", "caution")])
    body = physician_client.get(url(screening, "print/")).content.decode()
    assert "Confidential health information" in body
    assert "<form" not in body and "Log out" not in body
    assert AuditEvent.objects.filter(action="screening.printed").exists()


def test_clinic_admins_read_the_audit_log_and_nobody_can_edit_it(
    client, clinic_admin, physician_client, default_version
):
    screening = make_submitted_screening(level="info")
    physician_client.get(url(screening))
    log_in_staff(client, clinic_admin)
    body = client.get("/staff/audit/?action=screening.viewed").content.decode()
    assert "screening.viewed" in body and "doctor@example.com" in body
    event = AuditEvent.objects.get(action="screening.viewed")
    # The admin has only the list: no page per event to change or delete.
    assert client.get(f"/admin/screening/auditevent/{event.pk}/delete/").status_code == 404
    edit = client.post(f"/admin/screening/auditevent/{event.pk}/change/", {"summary": "edited"})
    assert edit.status_code == 404
    event.refresh_from_db()
    assert event.summary != "edited"


def test_the_audit_logs_filter_lists_every_action_once_by_its_label(
    client, clinic_admin, physician_client, default_version
):
    screening = make_submitted_screening(level="info")
    for _ in range(3):  # many events of one action: still one option
        physician_client.get(url(screening))
    log_in_staff(client, clinic_admin)
    body = client.get("/staff/audit/?action=screening.viewed").content.decode()
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', body)
    assert [value for value, _, _ in options] == ["", *AuditAction.values]
    assert ("screening.viewed", " selected", "Screening viewed") in options
    assert ("decision.recorded", "", "Decision signed") in options  # none recorded yet


def test_physicians_cannot_read_the_audit_log(physician_client):
    assert physician_client.get("/staff/audit/").status_code == 403


def test_a_medicine_the_formulary_lacks_is_shown_recognised_with_no_known_interaction(
    physician_client, patient, default_version
):
    # Issue 13: a generic the drug dictionary knows is recognised, not "unrecognised".
    patient_client = Client()
    patient_client.force_login(patient)
    screening = start_screening(patient=patient)
    rows = {"medications-0-name": "Keppra 500mg", "medications-1-name": "Blorbex 10 mg"}
    fill_intake(
        patient_client, screening, {"medications-none": "", "medications-rows": "2", **rows}
    )
    patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    screening.refresh_from_db()
    keppra, blorbex = screening.medications.order_by("position")
    assert (keppra.matched, keppra.method, keppra.classes) == ("levetiracetam", "resolver", [])
    assert (blorbex.matched, blorbex.method) == ("", "none")
    [flag] = screening.flags.filter(code="unrecognised_medication")
    assert [item.get("typed") for item in flag.evidence] == ["Blorbex 10 mg"]
    body = physician_client.get(url(screening)).content.decode()
    assert "levetiracetam" in body and "no known interaction with ketamine" in body
    assert "drug dictionary; not in the clinic formulary" in body
    assert "Check this entry" in body


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
    other = User.objects.create_user(email="other@example.com", password=None, full_name="Dr Other")
    screening = make_submitted_screening(flags=[("opioid", "caution")])
    flag = screening.flags.get()
    acknowledge_flag(flag=flag, physician=physician, note="first", seen_version=0)
    acknowledge_flag(flag=flag, physician=other, note="second", seen_version=1)
    flag.refresh_from_db()
    assert (flag.acknowledgement.physician, flag.acknowledgement.note) == (physician, "first")


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
