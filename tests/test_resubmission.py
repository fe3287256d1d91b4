"""A resubmission after "more information needed" (issue 12, items 5 and 6).

Clinical documentation is never destroyed: a physician's acknowledgement and note survive
re-evaluation; a flag raised on changed answers is acknowledged again beside the earlier
note; a flag no longer raised is kept and shown as such. Every submission keeps a snapshot,
and the physician's page says what the patient changed since the last one.
"""

import re

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError
from django.test import Client

from screening.engine.rules import Evaluation
from screening.engine.rules import Flag as RaisedFlag
from screening.models import (
    AppendOnlyError,
    AuditEvent,
    Decision,
    Flag,
    FlagAcknowledgement,
    Screening,
    Submission,
)
from screening.services.evaluation import store_evaluation
from screening.services.intake import start_screening
from tests.logins import log_in_staff

from .factories import make_submitted_screening
from .intake_helpers import fill_intake, page_post_data

pytestmark = pytest.mark.django_db

BP_NOTE = "Called patient 14:05; repeat reading at the clinic arranged before any dose"
MEDICINE_NOTE = "Asked the patient to spell the medicine; awaiting reply"
ASKED = "Please check your blood pressure reading and the name of your medicine."
BP_QUESTION = "What was your most recent blood pressure reading?"
BLORBEX = {"medications-none": "", "medications-rows": "1", "medications-0-name": "Blorbex 10 mg"}
TYPED = "Can my partner drive me home? <b>2pm</b> works"
NO_MEDICINES = {"medications-none": "on", "medications-rows": "1", "medications-0-name": ""}


@pytest.fixture
def physician_client(physician):
    client = Client()
    log_in_staff(client, physician)
    return client


@pytest.fixture
def patient_client(patient):
    client = Client()
    client.force_login(patient)
    return client


def page(screening, tail=""):
    return f"/staff/screenings/{screening.pk}/{tail}"


def lock_version(screening) -> int:
    return Screening.objects.get(pk=screening.pk).lock_version


def acknowledge(client, screening, flag, note=""):
    response = client.post(
        page(screening, f"flags/{flag.pk}/acknowledge/"),
        {"note": note, "lock_version": lock_version(screening)},
    )
    assert response.status_code == 302


def decide(client, screening, **data):
    return client.post(
        page(screening, "decide/"), {"lock_version": lock_version(screening), **data}
    )


def edit(patient_client, screening, section, overrides):
    url = f"/screenings/{screening.pk}/page/{section}/?from=review"
    html = patient_client.get(url).content.decode()
    response = patient_client.post(url, page_post_data(html, screening, overrides))
    assert response.status_code == 302, response.content.decode()[:2000]


def submit(patient_client, screening):
    response = patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    assert response.status_code == 302
    screening.refresh_from_db()
    assert screening.status == Screening.Status.SUBMITTED


@pytest.fixture
def reviewed(patient, patient_client, physician_client, default_version):
    """Submitted once (a blood pressure of 185/95, an unknown medicine), every flag
    acknowledged (two with notes), then sent back: "more information needed"."""
    screening = start_screening(patient=patient)
    fill_intake(patient_client, screening, {"bp_systolic": "185", "bp_diastolic": "95", **BLORBEX})
    submit(patient_client, screening)
    notes = {"bp_crisis_range": BP_NOTE, "unrecognised_medication": MEDICINE_NOTE}
    for flag in screening.flags.all():
        acknowledge(physician_client, screening, flag, notes.get(flag.code, ""))
    response = decide(
        physician_client,
        screening,
        outcome="more_information_needed",
        message_to_patient=ASKED,
    )
    assert response.status_code == 302
    return screening


def acknowledgements(screening) -> dict:
    """Every acknowledgement ever written on the screening, by flag code and flag row."""
    return {
        (ack.flag.code, ack.flag_id): (ack.physician_id, ack.note, ack.acknowledged_at)
        for ack in FlagAcknowledgement.objects.filter(flag__screening=screening).select_related(
            "flag"
        )
    }


def test_acknowledgements_and_notes_survive_a_resubmission_with_the_same_evidence(
    reviewed, patient_client, physician_client, physician
):
    before = acknowledgements(reviewed)
    flags_before = set(reviewed.flags.values_list("pk", flat=True))
    assert len(before) == len(flags_before) >= 3
    submit(patient_client, reviewed)  # nothing changed: the patient only submits again
    assert acknowledgements(reviewed) == before
    assert set(reviewed.flags.values_list("pk", flat=True)) == flags_before
    body = physician_client.get(page(reviewed)).content.decode()
    assert "Acknowledged by Dr Dana Physician" in body and f"“<bdi>{BP_NOTE}</bdi>”" in body
    assert "Acknowledge every flag" not in body and "still to acknowledge" not in body
    # Nothing to acknowledge again: the physician can clear it at once.
    response = decide(
        physician_client, reviewed, outcome="cleared", override_reason="Repeat BP 128/80 today"
    )
    assert response.status_code == 302
    assert Decision.objects.filter(screening=reviewed, outcome="cleared").exists()


def test_a_flag_on_changed_evidence_is_acknowledged_again_beside_the_earlier_note(
    reviewed, patient_client, physician_client
):
    old = reviewed.flags.get(code="bp_crisis_range")
    medicine = reviewed.flags.get(code="unrecognised_medication")
    edit(patient_client, reviewed, "vitals", {"bp_systolic": "190", "bp_diastolic": "100"})
    submit(patient_client, reviewed)

    new = reviewed.flags.get(code="bp_crisis_range")
    assert new.pk != old.pk and new.replaces_id == old.pk
    assert not hasattr(new, "acknowledgement")
    old = Flag.with_retired.get(pk=old.pk)
    assert old.retired_at is not None and old.acknowledgement.note == BP_NOTE
    # The medicine's evidence did not change: same row, same acknowledgement.
    assert reviewed.flags.get(code="unrecognised_medication").pk == medicine.pk
    assert medicine.acknowledgement.note == MEDICINE_NOTE

    body = physician_client.get(page(reviewed)).content.decode()
    card = re.search(rf'<article[^>]*id="flag-{new.pk}".*?</article>', body, re.S).group(0)
    assert "Acknowledged earlier by Dr Dana Physician on" in card
    assert (
        f"“<bdi>{BP_NOTE}</bdi>”" in card
        and "the answers behind this flag have changed since" in card
    )
    assert f"flags/{new.pk}/acknowledge/" in card  # to be acknowledged again

    refused = decide(
        physician_client, reviewed, outcome="cleared", override_reason="Repeat BP 128/80 today"
    )
    assert refused.status_code == 200
    assert "Acknowledge every flag before clearing: Blood pressure" in refused.content.decode()
    assert not Decision.objects.filter(outcome="cleared").exists()
    for flag in reviewed.flags.filter(acknowledgement__isnull=True):
        acknowledge(physician_client, reviewed, flag, "Seen the new reading")
    response = decide(
        physician_client, reviewed, outcome="cleared", override_reason="Repeat BP 128/80 today"
    )
    assert response.status_code == 302
    decision = Decision.objects.get(outcome="cleared")
    assert sorted(decision.flag_codes) == sorted(reviewed.flags.values_list("code", flat=True))


def test_a_flag_no_longer_raised_is_kept_and_shown_as_such(
    reviewed, patient_client, physician_client
):
    medicine = reviewed.flags.get(code="unrecognised_medication")
    edit(patient_client, reviewed, "medicines", NO_MEDICINES)
    submit(patient_client, reviewed)

    assert not reviewed.flags.filter(code="unrecognised_medication").exists()
    kept = Flag.with_retired.get(pk=medicine.pk)
    assert kept.retired_at is not None and kept.acknowledgement.note == MEDICINE_NOTE
    reviewed.refresh_from_db()
    assert reviewed.flag_count == reviewed.flags.count()

    body = physician_client.get(page(reviewed)).content.decode()
    assert f"Flags ({reviewed.flag_count})" in body
    assert "No longer raised (1)" in body
    card = re.search(rf'<article[^>]*id="flag-{medicine.pk}".*?</article>', body, re.S).group(0)
    assert "No longer raised" in card and f"“<bdi>{MEDICINE_NOTE}</bdi>”" in card
    assert "acknowledge/" not in card
    # Readers of the current flags leave it out: the FHIR bundle, the clearing rule.
    bundle = physician_client.get(page(reviewed, "fhir/")).content.decode()
    assert str(medicine.pk) not in bundle
    assert str(reviewed.flags.get(code="bp_crisis_range").pk) in bundle


def test_the_database_refuses_to_delete_an_acknowledgement_or_its_flag(physician, default_version):
    screening = make_submitted_screening(flags=[("opioid", "caution")])
    flag = screening.flags.get()
    acknowledgement = FlagAcknowledgement.objects.create(
        flag=flag, physician=physician, note=BP_NOTE
    )
    with pytest.raises(AppendOnlyError):
        flag.delete()
    with pytest.raises(AppendOnlyError):
        Flag.objects.filter(pk=flag.pk).delete()
    with pytest.raises(AppendOnlyError):
        acknowledgement.delete()
    with pytest.raises(AppendOnlyError):
        FlagAcknowledgement.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        FlagAcknowledgement.objects.update(note="")
    acknowledgement.note = "edited"
    with pytest.raises(AppendOnlyError):
        acknowledgement.save()
    # Deleting the screening would take its flags: the acknowledgement's flag is protected.
    with pytest.raises(ProtectedError), transaction.atomic():
        screening.delete()
    assert FlagAcknowledgement.objects.get().note == BP_NOTE


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the triggers are PostgreSQL's")
@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM screening_flagacknowledgement",
        "UPDATE screening_flagacknowledgement SET note = ''",
        "DELETE FROM screening_flag",
        "DELETE FROM screening_submission",
        "UPDATE screening_submission SET answers = '{}'",
    ],
)
def test_postgresql_refuses_raw_changes_to_notes_flags_and_snapshots(
    physician, default_version, sql
):
    screening = make_submitted_screening(flags=[("opioid", "caution")])
    FlagAcknowledgement.objects.create(flag=screening.flags.get(), physician=physician, note="x")
    Submission.objects.create(screening=screening, number=1, submitted_at=screening.submitted_at)
    with (
        pytest.raises(DatabaseError, match="kept as written"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert FlagAcknowledgement.objects.get().note == "x"


def raised(code, evidence, severity="caution"):
    return RaisedFlag(code, severity, f"Title of {code}", "", "", "", tuple(evidence))


def evaluated(*flags):
    return Evaluation(flags=list(flags), scores=[], medications=[])


def test_store_evaluation_keeps_replaces_and_retires_by_topic(physician, default_version):
    screening = make_submitted_screening(flags=[("same", "caution"), ("moved", "caution")])
    store_evaluation(screening, evaluated(raised("same", [{"q": 1}]), raised("moved", [{"q": 2}])))
    same, moved = screening.flags.order_by("code").reverse()
    for flag in (same, moved):
        FlagAcknowledgement.objects.create(flag=flag, physician=physician, note=flag.code)

    store_evaluation(screening, evaluated(raised("moved", [{"q": 3}]), raised("same", [{"q": 1}])))
    assert screening.flags.get(code="same").pk == same.pk  # the same row, its note kept
    assert screening.flags.get(code="same").position == 1  # refreshed
    replacement = screening.flags.get(code="moved")
    assert replacement.replaces_id == moved.pk and not hasattr(replacement, "acknowledgement")

    store_evaluation(screening, evaluated(raised("same", [{"q": 1}])))
    assert list(screening.flags.values_list("code", flat=True)) == ["same"]
    assert Flag.with_retired.get(pk=replacement.pk).retired_at is not None
    assert Flag.with_retired.filter(screening=screening).count() == 5  # none deleted

    # Raised again after it stopped: it follows the latest flag of its topic, whose earlier
    # acknowledgement is shown beside it.
    store_evaluation(screening, evaluated(raised("same", [{"q": 1}]), raised("moved", [])))
    assert screening.flags.get(code="moved").replaces_id == replacement.pk
    assert FlagAcknowledgement.objects.count() == 2


def test_each_submission_keeps_a_snapshot(reviewed, patient_client, physician):
    first = Submission.objects.get(screening=reviewed)
    assert first.number == 1 and first.in_reply_to is None
    assert first.answers["bp"] == {"systolic": 185, "diastolic": 95}
    assert {flag["code"] for flag in first.flags} == set(
        Flag.with_retired.filter(screening=reviewed).values_list("code", flat=True)
    )
    assert all(flag["acknowledgement"] is None for flag in first.flags)

    edit(patient_client, reviewed, "vitals", {"bp_systolic": "190", "bp_diastolic": "100"})
    submit(patient_client, reviewed)
    second = Submission.objects.get(screening=reviewed, number=2)
    assert reviewed.submission_count == 2
    assert second.answers["bp"] == {"systolic": 190, "diastolic": 100}
    assert second.in_reply_to.message_to_patient == ASKED
    assert second.level == reviewed.level and second.scores == reviewed.scores
    by_code = {flag["code"]: flag for flag in second.flags}
    # Carried with its acknowledgement as it was; the bp flag raised anew has none yet.
    medicine = by_code["unrecognised_medication"]["acknowledgement"]
    assert medicine["note"] == MEDICINE_NOTE
    assert medicine["physician_name"] == "Dr Dana Physician"
    assert by_code["bp_crisis_range"]["acknowledgement"] is None
    assert by_code["bp_crisis_range"]["evidence"][0]["answer"] == second.answers["bp"]

    # Never edited, never deleted.
    second.level = ""
    with pytest.raises(AppendOnlyError):
        second.save()
    with pytest.raises(AppendOnlyError):
        second.delete()
    with pytest.raises(AppendOnlyError):
        Submission.objects.filter(screening=reviewed).update(level="")
    with pytest.raises(AppendOnlyError):
        Submission.objects.all().delete()


def test_the_page_says_what_changed_since_the_last_submission(
    reviewed, patient_client, physician_client, physician
):
    assert "What changed" not in physician_client.get(page(reviewed)).content.decode()
    edit(patient_client, reviewed, "vitals", {"bp_systolic": "120", "bp_diastolic": "80"})
    edit(
        patient_client,
        reviewed,
        "medicines",
        {"medications-none": "", "medications-rows": "1", "medications-0-name": "Biaxin 500 mg"},
    )
    edit(patient_client, reviewed, "consent", {"questions_for_clinic": TYPED})
    submit(patient_client, reviewed)
    reads_before = AuditEvent.objects.filter(action="screening.viewed").count()

    body = physician_client.get(page(reviewed)).content.decode()
    assert (
        AuditEvent.objects.filter(
            action="screening.viewed", screening=reviewed, actor=physician
        ).count()
        == reads_before + 1
    )
    panel = re.search(r'<section aria-labelledby="changes-heading".*?</section>', body, re.S)
    assert panel, "no what-changed panel"
    panel = panel.group(0)
    assert body.index("changes-heading") < body.index("flags-heading")  # at the top
    assert "Submission 2" in panel and "compared with submission 1" in panel
    assert "Dr Dana Physician asked for more information" in panel and ASKED in panel
    bp = re.search(rf"{BP_QUESTION}.*?</dd>", panel, re.S).group(0)
    assert bp.index("185/95 mmHg") < bp.index("120/80 mmHg")
    assert "Blorbex 10 mg" in panel and "Biaxin 500 mg" in panel  # the list, as typed
    assert "Can my partner drive me home? &lt;b&gt;2pm&lt;/b&gt; works" in panel  # as typed
    lost = re.findall(r"<li>No longer raised: .*?</li>", panel, re.S)
    gained = re.findall(r"<li>Newly raised: .*?</li>", panel, re.S)
    assert any("Blood pressure" in item for item in lost)
    assert any(flag.title in item for flag in reviewed.flags.all() for item in gained)
    assert not any("psychosis" in item.lower() for item in lost + gained)  # unchanged:
    unchanged = reviewed.flags.get(code="psychosis_family_history").title
    assert re.search(
        rf"Raised again on the same answers, with any acknowledgment kept: (<[^>]*>)?{unchanged}",
        panel,
    )

    printed = physician_client.get(page(reviewed, "print/")).content.decode()
    assert "What changed since the last submission" in printed and "120/80 mmHg" in printed


def test_the_queue_marks_resubmitted_screenings(reviewed, patient_client, physician_client):
    other = make_submitted_screening(level="info")
    Screening.objects.filter(pk=other.pk).update(submission_count=1)
    submit(patient_client, reviewed)
    body = physician_client.get("/staff/queue/").content.decode()
    rows = {
        name: row
        for row in re.findall(r"<tr>.*?</tr>", body, re.S)
        for name in (reviewed.patient.full_name, other.patient.full_name)
        if name in row
    }
    assert "Resubmitted" in rows[reviewed.patient.full_name]
    assert "Resubmitted" not in rows[other.patient.full_name]


def test_a_resubmission_whose_earlier_submission_has_no_snapshot_says_so(physician_client):
    # Sent back before snapshots were kept: the migration counted one submission, kept none.
    screening = make_submitted_screening(flags=[("opioid", "caution")])
    Screening.objects.filter(pk=screening.pk).update(submission_count=2)
    Submission.objects.create(screening=screening, number=2, submitted_at=screening.submitted_at)
    body = physician_client.get(page(screening)).content.decode()
    assert "What changed since the last submission" in body
    assert "before this app kept a copy of each one" in body
    assert "Title of opioid" in body


def test_acknowledging_from_a_page_drawn_before_the_resubmission_is_refused(
    reviewed, patient_client, physician_client
):
    old = reviewed.flags.get(code="bp_crisis_range")
    seen = lock_version(reviewed)
    edit(patient_client, reviewed, "vitals", {"bp_systolic": "190", "bp_diastolic": "100"})
    submit(patient_client, reviewed)
    response = physician_client.post(
        page(reviewed, f"flags/{old.pk}/acknowledge/"),
        {"note": "From an old page", "lock_version": seen},
        follow=True,
    )
    assert "changed this screening while you had it open" in response.content.decode()
    assert not FlagAcknowledgement.objects.filter(note="From an old page").exists()
    # Even with the current version number, a retired flag takes no acknowledgement.
    response = physician_client.post(
        page(reviewed, f"flags/{old.pk}/acknowledge/"),
        {"note": "From an old page", "lock_version": lock_version(reviewed)},
        follow=True,
    )
    assert "This flag is no longer current" in response.content.decode()
    assert not FlagAcknowledgement.objects.filter(note="From an old page").exists()
