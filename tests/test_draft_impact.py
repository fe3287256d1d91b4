"""A draft's effect on screenings on file: only for those who may read screenings, and
audited as a read of every screening it evaluated. Clinic admins never see it."""

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.test import Client

from screening.models import AuditEvent, QuestionSetVersion, Screening
from screening.services.content import DRAFT_PREVIEW_ACTION, make_draft, preview_draft_impact
from screening.services.intake import start_screening
from tests.factories import make_patient
from tests.intake_helpers import fill_intake
from tests.logins import log_in_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(default_version, clinic_admin):
    return make_draft(source=default_version, actor=clinic_admin, ip_address=None)


def submitted(answers: dict) -> Screening:
    patient = make_patient()
    client = Client()
    client.force_login(patient)
    screening = start_screening(patient=patient)
    fill_intake(client, screening, answers)
    client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    screening.refresh_from_db()
    assert screening.status == Screening.Status.SUBMITTED
    return screening


def impact_url(version):
    return f"/staff/drafts/{version.pk}/impact/"


def test_a_physician_sees_how_many_screenings_would_gain_or_lose_each_flag(
    draft, physician, client
):
    elevated = submitted({"bp_systolic": "150", "bp_diastolic": "85"})
    submitted({"bp_systolic": "120", "bp_diastolic": "80"})
    assert elevated.flags.filter(code="bp_elevated").exists()
    # The draft raises the threshold, so the first screening would lose the flag.
    draft.rules.filter(code="bp_elevated").update(when="bp_systolic > 160")
    log_in_staff(client, physician)

    response = client.post(impact_url(draft))

    assert response.status_code == 200
    assert response.context["result"].evaluated == 2
    [row] = [row for row in response.context["rows"] if row.code == "bp_elevated"]
    assert (row.now, row.gained, row.lost) == (1, 0, 1)
    assert "<strong>−1</strong>" in response.content.decode()
    assert elevated.flags.filter(code="bp_elevated").exists()  # nothing was changed


def test_the_preview_is_audited_as_a_read_of_every_screening_it_evaluated(
    draft, physician, client, capsys
):
    screenings = [submitted({}) for _ in range(3)]
    in_progress = start_screening(patient=make_patient())
    log_in_staff(client, physician)

    assert client.get(impact_url(draft)).status_code == 200
    assert not AuditEvent.objects.filter(action=DRAFT_PREVIEW_ACTION).exists()  # GET reads nothing
    client.post(impact_url(draft), REMOTE_ADDR="192.0.2.44")

    events = AuditEvent.objects.filter(action=DRAFT_PREVIEW_ACTION)
    assert sorted(events.values_list("screening_id", flat=True)) == sorted(s.pk for s in screenings)
    assert not events.filter(screening=in_progress).exists()
    for event in events:
        assert event.actor == physician
        assert event.ip_address == "192.0.2.44"
        assert event.object_id == str(draft.pk)
        assert "draft version" in event.summary
    call_command("verify_audit")
    assert "intact" in capsys.readouterr().out


def test_a_clinic_admin_cannot_run_the_preview_in_any_way(draft, clinic_admin, client):
    submitted({})
    log_in_staff(client, clinic_admin)
    assert client.get("/staff/drafts/").status_code == 403
    assert client.get(impact_url(draft)).status_code == 403
    assert client.post(impact_url(draft)).status_code == 403
    with pytest.raises(PermissionDenied):
        preview_draft_impact(version=draft, actor=clinic_admin, ip_address=None)
    assert not AuditEvent.objects.filter(action=DRAFT_PREVIEW_ACTION).exists()
    # nor in the admin: publishing shows the test panel, never screenings on file
    page = client.post(
        "/admin/screening/questionsetversion/",
        {"action": "publish", "_selected_action": [str(draft.pk)]},
    ).content.decode()
    assert "synthetic case" in page
    assert "screenings on file" not in page and "would gain" not in page.lower()


def test_only_drafts_can_be_previewed(default_version, physician, client):
    log_in_staff(client, physician)
    assert client.get(impact_url(default_version)).status_code == 404
    assert client.post(impact_url(default_version)).status_code == 404


def test_a_physician_reaches_drafts_from_the_staff_pages(draft, physician, clinic_admin, client):
    log_in_staff(client, physician)
    queue = client.get("/staff/", follow=True).content.decode()
    assert 'href="/staff/drafts/"' in queue
    drafts = client.get("/staff/drafts/").content.decode()
    assert impact_url(draft) in drafts
    assert QuestionSetVersion.objects.published().filter(
        question_set__purpose="intake"
    ).get().pk.hex not in drafts.replace("-", "")
    admin_client = log_in_staff(Client(), clinic_admin)
    assert 'href="/staff/drafts/"' not in admin_client.get("/staff/", follow=True).content.decode()
