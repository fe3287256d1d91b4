"""An idle logout loses nothing: the warning and "Stay signed in", and drafts of the open
wizard page kept when the session ends (screening/session_clock.py,
screening/services/drafts.py, SessionTimeoutMiddleware, screening/static/screening/idle.js).
The browser side is in tests/browser/test_idle_warning.py."""

import json
import re
import time
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.http import QueryDict
from django.test import Client

from screening.models import Answer, CompletedSection, PageDraft
from screening.services.drafts import keep_draft
from screening.services.intake import start_screening
from tests.conftest import PASSWORD
from tests.intake_helpers import fill_intake, page_post_data
from tests.logins import log_in_staff

pytestmark = pytest.mark.django_db

TYPED = "Typed but not saved, Zora Quill"


def age_session(client, seconds):
    """Make the session's last activity `seconds` ago."""
    session = client.session
    session["last_seen"] = int(time.time()) - seconds
    session.save()


def last_seen(client) -> int:
    return client.session["last_seen"]


def log_in(client, user):
    response = client.post("/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302


def csrf_token(client, url) -> str:
    html = client.get(url).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def page(screening, code="care_team") -> str:
    return f"/screenings/{screening.pk}/page/{code}/"


def draft_url(screening, code="care_team") -> str:
    return f"/screenings/{screening.pk}/page/{code}/draft/"


def care_team_data(client, screening, name=TYPED) -> dict:
    html = client.get(page(screening)).content.decode()
    return page_post_data(html, screening, {"emergency_contact_name": name})


def stored(screening) -> dict:
    return dict(screening.answers.values_list("question__code", "value"))


@pytest.fixture
def screening(patient, default_version):
    return start_screening(patient=patient)


# The warning and the idle clock ------------------------------------------------------------


def test_signed_in_pages_carry_the_warning_and_without_javascript_the_limit_still_applies(
    client, patient, screening
):
    visitor_page = client.get("/login/").content.decode()
    assert "idle-warning" not in visitor_page and "idle.js" not in visitor_page
    log_in(client, patient)
    html = client.get(page(screening)).content.decode()
    assert 'id="idle-warning"' in html and 'role="alertdialog"' in html
    assert re.search(r'<script src="/static/screening/idle(\.[0-9a-f]+)?\.js" defer>', html)
    assert re.search(r'data-idle-seconds-left="1(7[7-9]\d|800)"', html)  # about 30 minutes
    assert 'data-idle-warning-seconds="120"' in html
    assert f'data-idle-draft-url="{draft_url(screening)}"' in html
    # Nothing in the page changes the server's limit: 31 idle minutes end the session.
    age_session(client, 31 * 60)
    response = client.get(page(screening))
    assert response["Location"].startswith("/login/?next=")
    assert "_auth_user_id" not in client.session


def test_staff_pages_warn_with_the_staff_limit(client, physician):
    log_in_staff(client, physician)
    html = client.get("/staff/invitations/").content.decode()
    assert 'id="idle-warning"' in html
    seconds = int(re.search(r'data-idle-seconds-left="(\d+)"', html).group(1))
    assert 15 * 60 - 60 <= seconds <= 15 * 60
    assert "data-idle-draft-url" not in html  # no wizard form: the draft note stays hidden


def test_background_requests_never_move_the_idle_clock(client, patient, screening):
    log_in(client, patient)
    data = care_team_data(client, screening)
    age_session(client, 29 * 60)
    before = last_seen(client)
    status = client.get("/account/session/")
    assert status.status_code == 200
    assert 50 <= status.json()["seconds_left"] <= 60
    assert client.post(draft_url(screening), data).status_code == 200
    assert last_seen(client) == before
    # Two more idle minutes, and the session has ended whatever the page's script asked.
    age_session(client, 31 * 60)
    ended = client.get("/account/session/")
    assert ended.status_code == 401 and ended.json() == {"signed_in": False}
    assert "_auth_user_id" not in client.session


def test_an_address_that_does_not_exist_does_not_move_the_idle_clock(client, patient):
    """A stray request (a mistyped address, a probe, a browser's guess at /favicon.ico)
    is not the person using the app: it must not keep a session alive."""
    log_in(client, patient)
    age_session(client, 29 * 60)
    before = last_seen(client)
    assert client.get("/no-such-page/").status_code == 404
    assert last_seen(client) == before
    age_session(client, 31 * 60)
    assert client.get("/screenings/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_stay_signed_in_starts_the_clock_again_only_with_the_csrf_token(patient, screening):
    client = Client(enforce_csrf_checks=True)
    log_in_with_csrf(client, patient)
    token = csrf_token(client, page(screening))
    age_session(client, 29 * 60)
    before = last_seen(client)
    assert client.post("/account/session/stay/").status_code == 403
    assert client.post("/account/session/stay/", HTTP_X_CSRFTOKEN="x" * 64).status_code == 403
    assert last_seen(client) == before
    assert client.get("/account/session/stay/").status_code == 405
    assert last_seen(client) == before
    stayed = client.post("/account/session/stay/", HTTP_X_CSRFTOKEN=token)
    assert stayed.status_code == 200
    assert stayed.json()["seconds_left"] >= 30 * 60 - 5
    assert last_seen(client) >= int(time.time()) - 5
    # Signed in a full limit later than the warning came.
    age_session(client, 29 * 60)
    assert client.get(page(screening)).status_code == 200


def log_in_with_csrf(client, user):
    token = csrf_token(client, "/login/")
    response = client.post(
        "/login/", {"username": user.email, "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


def test_stay_signed_in_keeps_no_one_in_once_the_session_has_ended(client, patient, screening):
    assert client.post("/account/session/stay/").status_code == 401  # a visitor
    log_in(client, patient)
    age_session(client, 31 * 60)
    response = client.post("/account/session/stay/")
    assert response.status_code == 401 and response.json() == {"signed_in": False}
    assert "_auth_user_id" not in client.session
    assert client.get(page(screening))["Location"].startswith("/login/")


def test_stay_signed_in_does_not_stretch_a_staff_session_past_12_hours(client, physician):
    log_in_staff(client, physician)
    session = client.session
    session["started_at"] = int(time.time()) - 12 * 3600 + 60
    session.save()
    stayed = client.post("/account/session/stay/").json()
    assert stayed["seconds_left"] <= 60


# Drafts kept by the page's script ---------------------------------------------------------


def test_a_draft_is_kept_and_shown_again_to_the_same_patient_only(
    client, patient, other_patient, physician, screening
):
    log_in(client, patient)
    data = care_team_data(client, screening)
    kept = client.post(draft_url(screening), data)
    assert kept.status_code == 200 and kept.json()["kept"] is True
    draft = PageDraft.objects.get(screening=screening, section_code="care_team")
    assert draft.values["emergency_contact_name"] == [TYPED]
    assert "csrfmiddlewaretoken" not in draft.values
    assert draft.source == PageDraft.Source.IDLE
    # The same patient, signed in again, finds it on the page, with the notice.
    client.post("/logout/")
    log_in(client, patient)
    html = client.get(page(screening)).content.decode()
    assert TYPED in html
    assert "We kept what you typed before you were signed out. Check it and press Save." in html

    # Another patient can neither read nor overwrite it.
    other = Client()
    log_in(other, other_patient)
    assert other.get(page(screening)).status_code == 404
    assert other.post(
        draft_url(screening), {**data, "emergency_contact_name": "x"}
    ).status_code == (404)
    own = start_screening(patient=other_patient)
    assert TYPED not in other.get(page(own)).content.decode()
    assert PageDraft.objects.get(pk=draft.pk).values["emergency_contact_name"] == [TYPED]

    # Staff never see it: not on the patient's page, and not once the screening is submitted.
    staff = Client()
    log_in_staff(staff, physician)
    assert staff.get(page(screening)).status_code == 404
    assert staff.post(draft_url(screening), data).status_code == 404
    fill_intake(client, screening)
    assert client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"}).status_code == 302
    assert not PageDraft.objects.filter(screening=screening).exists()
    staff_page = staff.get(f"/staff/screenings/{screening.pk}/")
    assert staff_page.status_code == 200
    assert TYPED not in staff_page.content.decode()


def test_a_draft_never_changes_the_answers_until_the_patient_saves_the_page(
    client, patient, screening
):
    log_in(client, patient)
    saved = care_team_data(client, screening, name="Saved Name")
    assert client.post(page(screening), saved).status_code == 302
    answers, completed = stored(screening), set(CompletedSection.objects.values_list("pk"))
    assert answers["emergency_contact_name"] == "Saved Name"

    # A half-typed page: a required answer emptied, another changed. Kept raw, unchecked.
    typed = {**care_team_data(client, screening), "emergency_contact_phone": ""}
    assert client.post(draft_url(screening), typed).json()["kept"] is True
    assert stored(screening) == answers
    assert set(CompletedSection.objects.values_list("pk")) == completed
    shown = client.get(page(screening))
    html = shown.content.decode()
    assert TYPED in html and "Saved Name" not in html
    assert "Please check the answers marked below" not in html  # drawn as typed, not judged
    assert stored(screening) == answers  # showing it saved nothing either
    # The review page says which pages hold typing that is not saved yet.
    review = client.get(f"/screenings/{screening.pk}/review/").content.decode()
    assert "We kept what you typed on these pages" in review
    assert f'href="{page(screening)}?from=review"' in review

    # Save: the typed answers become the answers, and the draft is superseded.
    typed["emergency_contact_phone"] = "555 201 4477"
    assert client.post(page(screening), typed).status_code == 302
    assert stored(screening)["emergency_contact_name"] == TYPED
    assert not PageDraft.objects.exists()
    assert "We kept what you typed" not in client.get(page(screening)).content.decode()


def test_a_draft_is_only_kept_for_a_page_of_an_open_screening(client, patient, screening):
    log_in(client, patient)
    data = care_team_data(client, screening)
    assert client.post(draft_url(screening, "not-a-page"), data).status_code == 404
    assert client.get(draft_url(screening)).status_code == 405
    assert client.post(draft_url(screening), {}).json()["kept"] is False
    fill_intake(client, screening)
    client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    assert client.post(draft_url(screening), data).json()["kept"] is False
    assert not PageDraft.objects.exists()


def test_a_visitor_keeps_no_draft(client, screening):
    response = client.post(draft_url(screening), {"emergency_contact_name": TYPED})
    assert response.status_code == 401
    assert not PageDraft.objects.exists()


# A page sent after the session ended (no JavaScript) --------------------------------------


def test_a_page_sent_after_the_session_ended_keeps_what_was_typed(
    patient, other_patient, physician, screening
):
    # Nothing is kept from a late post without the CSRF token, by another patient, or by staff.
    typed = {"presented": ["emergency_contact_name"], "emergency_contact_name": TYPED}
    for user, own_page in ((patient, None), (other_patient, "/screenings/"), (physician, None)):
        late = Client(enforce_csrf_checks=True)
        if user is physician:
            log_in_staff(late, physician)
            own_page = "/staff/invitations/"
        else:
            log_in_with_csrf(late, user)
        token = {"csrfmiddlewaretoken": csrf_token(late, own_page)} if own_page else {}
        age_session(late, 40 * 60)
        assert late.post(page(screening), {**typed, **token}).status_code in (302, 403)
        assert "_auth_user_id" not in late.session  # signed out all the same
    assert not PageDraft.objects.exists()

    client = Client(enforce_csrf_checks=True)
    log_in_with_csrf(client, patient)
    token = csrf_token(client, page(screening))
    data = {**care_team_data(client, screening), "csrfmiddlewaretoken": token}
    age_session(client, 31 * 60)
    response = client.post(page(screening) + "?from=review", data)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={page(screening)}%3Ffrom%3Dreview"
    assert "_auth_user_id" not in client.session
    assert not Answer.objects.filter(screening=screening).exists()
    draft = PageDraft.objects.get(screening=screening)
    assert draft.source == PageDraft.Source.EXPIRED_POST
    assert draft.values["emergency_contact_name"] == [TYPED]

    login_page = client.get(response["Location"]).content.decode()
    assert "What you typed on this page was kept" in login_page
    log_in_with_csrf(client, patient)
    html = client.get(page(screening) + "?from=review").content.decode()
    assert TYPED in html and "We kept what you typed before you were signed out" in html


def test_a_draft_sent_by_the_script_after_the_session_ended_is_kept_too(client, patient, screening):
    log_in(client, patient)
    data = care_team_data(client, screening)
    age_session(client, 40 * 60)  # the computer slept through the limit
    response = client.post(draft_url(screening), data)
    assert response.status_code == 401 and json.loads(response.content) == {"signed_in": False}
    assert PageDraft.objects.get(screening=screening).values["emergency_contact_name"] == [TYPED]


# A save supersedes its page's draft, however late the draft came -------------------------


def test_a_save_of_a_page_with_no_draft_deletes_none(client, patient, screening):
    """A page keeps a draft only after a session ended with it unsaved: the save's UPDATE
    finds that there is none, and no DELETE is sent for it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    log_in(client, patient)
    data = care_team_data(client, screening)
    with CaptureQueriesContext(connection) as queries:
        assert client.post(page(screening), data).status_code == 302
    assert not [q for q in queries.captured_queries if "DELETE" in q["sql"]]
    assert stored(screening)["emergency_contact_name"] == TYPED


def test_a_draft_kept_after_the_page_was_read_is_still_superseded_by_the_save(
    client, patient, screening, monkeypatch
):
    """The idle script keeps a draft of the page while its Save is on the way: the request
    read the screening (no draft then), and its save still discards the draft."""
    from screening.intake import wizard
    from screening.services.drafts import keep_draft

    log_in(client, patient)
    data = care_team_data(client, screening)
    real_save = wizard.save_page

    def save_after_a_draft_came(**kwargs):
        keep_draft(
            screening=screening,
            section_code="care_team",
            data=QueryDict(urlencode(data, doseq=True)),
            source=PageDraft.Source.IDLE,
        )
        return real_save(**kwargs)

    monkeypatch.setattr(wizard, "save_page", save_after_a_draft_came)
    assert client.post(page(screening), data).status_code == 302
    assert not PageDraft.objects.exists()
    assert stored(screening)["emergency_contact_name"] == TYPED
    assert CompletedSection.objects.filter(screening=screening).count() == 1


def test_a_save_keeps_the_drafts_of_other_pages(client, patient, screening):
    from screening.services.drafts import keep_draft

    log_in(client, patient)
    keep_draft(
        screening=screening,
        section_code="mood",
        data=QueryDict("phq9_1=several_days"),
        source=PageDraft.Source.IDLE,
    )
    assert client.post(page(screening), care_team_data(client, screening)).status_code == 302
    assert PageDraft.objects.get().section_code == "mood"


def test_saving_a_page_with_its_draft_costs_at_most_twelve_queries(
    client, patient, screening, django_assert_max_num_queries
):
    log_in(client, patient)
    data = care_team_data(client, screening)
    assert client.post(draft_url(screening), data).json()["kept"] is True
    with django_assert_max_num_queries(12):
        assert client.post(page(screening), data).status_code == 302
    assert not PageDraft.objects.exists()


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite's writers take turns: nothing can race"
)
@pytest.mark.django_db(transaction=True)  # the draft is kept on another connection
def test_a_draft_kept_while_the_page_is_being_saved_does_not_outlive_the_save(
    client, patient, screening, monkeypatch
):
    """Save pressed as the idle script keeps a draft of the same page: the draft commits
    after the save's UPDATE found none, before the save commits. The save supersedes it."""
    import threading

    from screening.services import intake as intake_service

    log_in(client, patient)
    data = care_team_data(client, screening)
    row_ids_for = intake_service.row_ids_for

    def draft_kept_meanwhile(*args, **kwargs):
        def idle_script():
            try:
                keep_draft(
                    screening=screening,
                    section_code="care_team",
                    data=QueryDict(urlencode(data, doseq=True)),
                    source=PageDraft.Source.IDLE,
                )
            finally:
                connection.close()

        other = threading.Thread(target=idle_script)
        other.start()
        other.join()
        return row_ids_for(*args, **kwargs)

    monkeypatch.setattr(intake_service, "row_ids_for", draft_kept_meanwhile)
    assert client.post(page(screening), data).status_code == 302
    assert not PageDraft.objects.filter(screening=screening).exists()
