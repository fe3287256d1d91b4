"""Races on content, with real threads on PostgreSQL: an admin's edit against another admin
publishing the same draft, and two admins making drafts at once.

A published version never changes: every content write locks its version's row and checks
it is still a draft inside the same transaction, and publishing takes the same lock before
it validates and runs the test panel. So an edit either lands before publication (and is
checked by it) or is refused with a message on the form, and nothing typed is lost.

Same machinery as test_races.py (a barrier, real connections, `Pause`); transactional
tests, so each builds its own admins on freshly reloaded default content.
"""

import json
import threading
import time

import pytest
from django.db import connection
from django.test import Client

from screening.admin import RuleAdmin
from screening.models import (
    CLINIC_ADMIN_GROUP,
    AuditEvent,
    PanelCase,
    Question,
    QuestionSetVersion,
    Rule,
    ScoreDefinition,
    Section,
)
from screening.services.roles import ensure_roles
from tests.admin_forms import draft_made_in_admin, rule_form_data
from tests.conftest import make_user
from tests.logins import log_in_staff
from tests.security.test_output_safety import question_admin_data
from tests.security.test_races import TIMEOUT, Pause, Running, run_together, values

pytestmark = pytest.mark.django_db(transaction=True)

VERSIONS = "/admin/screening/questionsetversion/"
NEW_MESSAGE = "Edited late, while another admin was publishing."


def clinic_admin(name: str) -> Client:
    ensure_roles()  # the flush after the previous transactional test removed the groups
    user = make_user(f"{name.lower()}@example.com", f"{name} Admin", CLINIC_ADMIN_GROUP)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return log_in_staff(Client(), user)


def new_draft(client: Client, published: QuestionSetVersion) -> QuestionSetVersion:
    return draft_made_in_admin(client, published)


def publish(client: Client, draft: QuestionSetVersion):
    return client.post(
        VERSIONS, {"action": "publish", "confirm": "yes", "_selected_action": [str(draft.pk)]}
    )


def lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def wait_until_blocked_or_done(running: Running) -> None:
    """Wait until the thread is blocked on a lock, or has finished without waiting."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if not running.thread.is_alive() or lock_waiters():
            return
        time.sleep(0.01)
    raise AssertionError("the thread neither finished nor blocked")


# An edit that has passed its checks when the other admin publishes ------------------------


def test_a_rule_edit_validated_before_a_publication_lands_before_it_never_after(
    default_version, monkeypatch
):
    """The bug as reported: the edit was checked against a draft, then the draft was
    published, then the edit was saved into the published version."""
    editor, publisher = clinic_admin("Edith"), clinic_admin("Paul")
    draft = new_draft(editor, default_version)
    rule = draft.rules.get(code="bp_elevated")

    # Hold the edit after its form was validated, just before it is saved.
    reached, released = threading.Event(), threading.Event()
    real_save_model = RuleAdmin.save_model

    def save_model_after_a_pause(self, request, obj, form, change):
        reached.set()
        assert released.wait(TIMEOUT), "never released"
        return real_save_model(self, request, obj, form, change)

    monkeypatch.setattr(RuleAdmin, "save_model", save_model_after_a_pause)
    url = f"/admin/screening/rule/{rule.pk}/change/"
    edit = Running(lambda: editor.post(url, rule_form_data(rule, message=NEW_MESSAGE)), name="edit")
    try:
        assert reached.wait(TIMEOUT), "the edit never reached its save"
        publication = Running(lambda: publish(publisher, draft), name="publish")
        wait_until_blocked_or_done(publication)
    finally:
        released.set()
    edited, published = edit.result(), publication.result()
    assert edited.error is None, edited.traceback
    assert published.error is None, published.traceback

    assert edited.value.status_code == 302
    assert published.value.status_code == 302
    draft.refresh_from_db()
    assert draft.status == QuestionSetVersion.Status.PUBLISHED
    assert Rule.objects.get(pk=rule.pk).message == NEW_MESSAGE
    # The edit is part of what was published: it was saved, and audited, before publication.
    changed = AuditEvent.objects.get(action="content.changed", object_id=str(rule.pk))
    published_event = AuditEvent.objects.get(action="content.published")
    assert changed.pk < published_event.pk, "the edit landed after the version was published"


# An edit arriving while a publication holds the draft ---------------------------------------


def _rule(draft):
    rule = draft.rules.get(code="bp_elevated")
    return (
        f"/admin/screening/rule/{rule.pk}/change/",
        rule_form_data(rule, message=NEW_MESSAGE),
        lambda: Rule.objects.get(pk=rule.pk).message,
    )


def _new_rule(draft):
    rule = draft.rules.get(code="bp_elevated")
    return (
        "/admin/screening/rule/add/",
        rule_form_data(rule, code="late_rule", position=999, message=NEW_MESSAGE),
        lambda: Rule.objects.filter(version=draft, code="late_rule").count(),
    )


def _score(draft):
    score = draft.score_definitions.get(code="phq9_total")
    data = {
        "version": draft.pk,
        "position": score.position,
        "code": score.code,
        "name": "PHQ-9 (edited late)",
        "items": json.dumps(score.items),
        "bands": json.dumps(score.bands),
        "source": score.source,
    }
    return (
        f"/admin/screening/scoredefinition/{score.pk}/change/",
        data,
        lambda: ScoreDefinition.objects.get(pk=score.pk).name,
    )


def _question_and_choices(draft):
    question = draft.questions.get(code="sex_at_birth")
    data = question_admin_data(question, text="Edited late?")
    label = next(key for key, value in data.items() if value == "female").replace(
        "-value", "-label"
    )
    data[label] = "Edited late"
    return (
        f"/admin/screening/question/{question.pk}/change/",
        data,
        lambda: (
            Question.objects.get(pk=question.pk).text,
            sorted(Question.objects.get(pk=question.pk).choices.values_list("label", flat=True)),
        ),
    )


def _section(draft):
    section = draft.sections.get(code="about_you")
    data = {
        "version": draft.pk,
        "position": section.position,
        "code": section.code,
        "title": "Edited late",
        "intro": section.intro,
        "show_when": section.show_when,
    }
    return (
        f"/admin/screening/section/{section.pk}/change/",
        data,
        lambda: Section.objects.get(pk=section.pk).title,
    )


def _panel_case(draft):
    case = draft.panel_cases.order_by("position").first()
    data = {
        "version": draft.pk,
        "position": case.position,
        "name": "Edited late",
        "answers": json.dumps(case.answers),
        "must_raise": ", ".join(case.must_raise),
        "must_not_raise": ", ".join(case.must_not_raise),
        "nothing_else": "on" if case.nothing_else else "",
        "as_of": case.as_of.isoformat() if case.as_of else "",
        "note": case.note,
    }
    return (
        f"/admin/screening/panelcase/{case.pk}/change/",
        data,
        lambda: PanelCase.objects.get(pk=case.pk).name,
    )


def _delete_rule(draft):
    rule = draft.rules.get(code="bp_elevated")
    return (
        f"/admin/screening/rule/{rule.pk}/delete/",
        {"post": "yes"},
        lambda: Rule.objects.filter(pk=rule.pk).count(),
    )


def _delete_rules_in_bulk(draft):
    rule = draft.rules.get(code="bp_elevated")
    return (
        "/admin/screening/rule/",
        {"action": "delete_selected", "_selected_action": [rule.pk], "post": "yes"},
        lambda: Rule.objects.filter(pk=rule.pk).count(),
    )


def _draft_notes(draft):
    data = {"question_set": draft.question_set_id, "number": draft.number, "notes": "Edited late"}
    data.update(
        {
            "sections-TOTAL_FORMS": "0",
            "sections-INITIAL_FORMS": "0",
            "sections-MIN_NUM_FORMS": "0",
            "sections-MAX_NUM_FORMS": "1000",
        }
    )
    return (
        f"{VERSIONS}{draft.pk}/change/",
        data,
        lambda: QuestionSetVersion.objects.get(pk=draft.pk).notes,
    )


WRITES = {
    "change a rule": _rule,
    "add a rule": _new_rule,
    "change a score": _score,
    "change a question and its choices": _question_and_choices,
    "change a section": _section,
    "change a test case": _panel_case,
    "delete a rule": _delete_rule,
    "delete rules in bulk": _delete_rules_in_bulk,
    "change the version's notes": _draft_notes,
}


@pytest.mark.parametrize("write", WRITES)
def test_a_content_write_arriving_during_a_publication_waits_and_is_refused(
    default_version, monkeypatch, write
):
    editor, publisher = clinic_admin("Edith"), clinic_admin("Paul")
    draft = new_draft(editor, default_version)
    url, data, current = WRITES[write](draft)
    before = current()

    # Hold the publication after it has locked the draft, before it checks the content.
    with Pause(monkeypatch, "screening.services.content.review_for_publishing") as paused:
        publication = Running(lambda: publish(publisher, draft), name="publish")
        paused.wait_until_reached()
        edit = Running(lambda: editor.post(url, data), name="edit")
        wait_until_blocked_or_done(edit)
        assert edit.thread.is_alive(), "the write did not wait for the publication's lock"
    [published, edited] = values([publication.result(), edit.result()])

    assert published.status_code == 302
    draft.refresh_from_db()
    assert draft.status == QuestionSetVersion.Status.PUBLISHED
    assert current() == before, "a published version changed"
    if write.startswith("delete"):
        assert edited.status_code == 302  # back to the page, with the message
    else:
        # Refused on the form, everything typed still there.
        assert edited.status_code == 200
        body = edited.content.decode()
        assert "can no longer change" in body
        typed = next(value for key, value in data.items() if "late" in str(value).lower())
        assert str(typed) in body
    assert not AuditEvent.objects.filter(
        action__in=["content.changed", "content.added", "content.deleted"]
    ).exists()


# Two drafts at once ---------------------------------------------------------------------------


def test_two_admins_making_drafts_at_once_get_the_next_two_numbers(default_version):
    first, second = clinic_admin("Ann"), clinic_admin("Bob")
    selected = {"action": "make_draft_copy", "_selected_action": [str(default_version.pk)]}

    responses = values(
        run_together(*(lambda c=c: c.post(VERSIONS, selected) for c in (first, second)))
    )

    assert [response.status_code for response in responses] == [302, 302]
    drafts = QuestionSetVersion.objects.filter(status=QuestionSetVersion.Status.DRAFT)
    assert sorted(drafts.values_list("number", flat=True)) == [
        default_version.number + 1,
        default_version.number + 2,
    ]
    for draft in drafts:
        assert draft.rules.count() == default_version.rules.count()
        assert draft.panel_cases.count() == default_version.panel_cases.count()
