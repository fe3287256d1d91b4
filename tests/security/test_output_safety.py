"""Script and markup typed into any free-text field stays text on every page that shows it.

Payloads go in through the real forms: the physician's invitation (the patient's name, shown
again when the patient accepts), the intake wizard (free-text answers, medication names,
doses and frequencies), the physician's acknowledgement note and decision texts, and the
Django admin (question text, help text and choice labels, section title and intro, rule
title and message, a test panel case's name and note, a formulary drug's name). Then every page that shows them is read: the
staff queue, screening page, print view and audit log, the admin's changelists, change,
delete and history pages, and the patient's own pages. No page may contain a payload's
markup raw, and each payload must appear, escaped, where it is shown.
"""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client
from django.utils.html import escape

from screening.models import (
    CLINIC_ADMIN_GROUP,
    PHYSICIAN_GROUP,
    Drug,
    Question,
    QuestionSetVersion,
    Rule,
    Screening,
    Section,
    User,
)
from screening.services.roles import ensure_roles
from tests.intake_helpers import fill_intake
from tests.logins import log_in_staff

from .test_access_matrix import PASSWORD, built_world

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "plum orchard lantern river"


def payload(tag: str) -> str:
    """One string with every vector: a javascript: URL (should it land in a link), a script
    element, an attribute break-out with an event handler, template syntax and a single
    quote. Lower case, as a drug name must be; `tag` says which field it was typed in."""
    return f"javascript:alert(1)//{tag}<script>alert(1)</script>\"><img src=x onerror=alert(1)>{{{{7*7}}}}'"


# Markup that must never reach a page unescaped, whatever field it came from.
RAW_MARKUP = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '"><img src=x')
JAVASCRIPT_URL = re.compile(
    r"""(?:href|src|action|formaction|xlink:href)\s*=\s*["']?\s*javascript:""", re.I
)

# Where each payload is shown, by the label of the page read in the scenario below.
SHOWN_ON = {
    "name": [
        "accept invitation",
        "patient home",
        "staff queue",
        "staff screening",
        "staff print view",
        "staff patient page",
        "patient feeling",
        "staff invitations",
        "admin invitation changelist",
        "admin invitation change",
        "admin user changelist",
        "admin user change",
    ],
    "qtext": [
        "patient page about_you",
        "patient review",
        "staff screening",
        "admin question change",
    ],
    "qhelp": ["patient page about_you", "admin question change"],
    "clabel": [
        "patient page about_you",
        "patient review",
        "staff screening",
        "admin question change",
    ],
    "stitle": [
        "patient page about_you",
        "patient review",
        "staff screening",
        "admin section changelist",
        "admin section change",
        "staff audit log",
        "admin index",
    ],
    "sintro": ["patient page about_you", "admin section change"],
    "sbullet": ["patient page about_you", "admin section change"],
    "rtitle": ["staff screening", "staff print view", "admin rule change"],
    "pcname": [
        "admin publish preview",
        "admin panel case changelist",
        "admin panel case change",
        "staff audit log",
    ],
    "pcnote": ["admin panel case change"],
    "rpatient": ["patient submitted"],
    "rmsg": ["staff screening", "staff print view", "admin rule change"],
    "drug": [
        "staff screening",
        "admin drug changelist",
        "admin drug change",
        "admin drug delete",
        "admin drug history",
        "staff audit log",
        "admin index",
    ],
    "med": ["patient page medicines", "patient review", "staff screening", "staff print view"],
    "dose": ["patient page medicines", "patient review", "staff screening", "staff print view"],
    "freq": ["patient page medicines", "patient review", "staff screening", "staff print view"],
    "street": ["patient review", "staff screening", "staff print view"],
    "other": ["patient review", "patient submitted", "staff screening", "staff print view"],
    "allergy": ["patient review", "patient submitted", "staff screening", "staff print view"],
    "qclinic": ["patient review", "patient submitted", "staff screening", "staff print view"],
    "prescriber": ["patient review", "patient submitted", "staff screening", "staff print view"],
    "contact": ["patient review", "patient submitted", "staff screening", "staff print view"],
    "escort": ["patient review", "patient submitted", "staff screening", "staff print view"],
    "ack": ["staff screening after decision", "staff print view after decision"],
    "cond": [
        "staff decision refused",
        "staff screening after decision",
        "staff print view after decision",
    ],
    "reason": [
        "staff decision refused",
        "staff screening after decision",
        "staff print view after decision",
    ],
    "msg": [
        "staff decision refused",
        "staff screening after decision",
        "patient home with message",
        "patient review with message",
    ],
}
PAGE_LABELS = sorted({label for labels in SHOWN_ON.values() for label in labels}) + [
    "admin question history",
]


def _checkbox(value: bool) -> str:
    return "on" if value else ""


def question_admin_data(question: Question, **changes) -> dict:
    data = {
        "version": question.version_id,
        "section": question.section_id,
        "position": question.position,
        "code": question.code,
        "text": question.text,
        "help_text": question.help_text,
        "kind": question.kind,
        "required": _checkbox(question.required),
        "min_value": question.min_value or "",
        "max_value": question.max_value or "",
        "unit": question.unit,
        "show_when": question.show_when,
    }
    data.update(changes)
    choices = list(question.choices.order_by("position"))
    data.update(
        {
            "choices-TOTAL_FORMS": str(len(choices)),
            "choices-INITIAL_FORMS": str(len(choices)),
            "choices-MIN_NUM_FORMS": "0",
            "choices-MAX_NUM_FORMS": "1000",
        }
    )
    for index, choice in enumerate(choices):
        data.update(
            {
                f"choices-{index}-id": choice.pk,
                f"choices-{index}-question": question.pk,
                f"choices-{index}-position": choice.position,
                f"choices-{index}-value": choice.value,
                f"choices-{index}-label": choice.label,
                f"choices-{index}-score": "" if choice.score is None else choice.score,
                f"choices-{index}-exclusive": _checkbox(choice.exclusive),
            }
        )
    return data


def _post_ok(client, url, data) -> None:
    response = client.post(url, data)
    assert response.status_code == 302, f"{url}: {response.content.decode()[:3000]}"


def run_scenario() -> dict[str, str]:
    """Put a payload in every free-text field through the real forms; read every page."""
    ensure_roles()

    def staff(email, group=None, **extra):
        user = User.objects.create_user(email=email, password=PASSWORD, full_name=email, **extra)
        if group:
            user.groups.add(Group.objects.get(name=group))
        client = Client()
        log_in_staff(client, user)
        return client

    physician = staff("doctor.x@example.com", PHYSICIAN_GROUP)
    admin = staff("admin.x@example.com", CLINIC_ADMIN_GROUP, is_staff=True)
    superuser = staff("root.x@example.com", is_staff=True, is_superuser=True)
    pages: dict[str, str] = {}

    def read(label, client, url):
        response = client.get(url)
        assert response.status_code == 200, f"{label}: GET {url} gave {response.status_code}"
        pages[label] = response.content.decode()

    # The clinic admin edits a draft of the question set and publishes it, and adds a drug.
    published = QuestionSetVersion.objects.published().filter(question_set__purpose="intake").get()
    _post_ok(
        admin,
        "/admin/screening/questionsetversion/",
        {"action": "make_draft_copy", "_selected_action": [str(published.pk)]},
    )
    draft = QuestionSetVersion.objects.get(status=QuestionSetVersion.Status.DRAFT)
    # Its texts change below; offering no translations lets it publish without translating them.
    QuestionSetVersion.objects.filter(pk=draft.pk).update(languages=[])
    question = draft.questions.get(code="sex_at_birth")
    data = question_admin_data(question, text=payload("qtext"), help_text=payload("qhelp"))
    female = next(key for key, value in data.items() if value == "female")
    data[female.replace("-value", "-label")] = payload("clabel")
    _post_ok(admin, f"/admin/screening/question/{question.pk}/change/", data)
    section = draft.sections.get(code="about_you")
    _post_ok(
        admin,
        f"/admin/screening/section/{section.pk}/change/",
        {
            "version": draft.pk,
            "position": section.position,
            "code": section.code,
            "title": payload("stitle"),
            "intro": f"{payload('sintro')}\n- {payload('sbullet')}",
            "show_when": section.show_when,
        },
    )
    rule = draft.rules.get(code="bp_elevated")
    _post_ok(
        admin,
        f"/admin/screening/rule/{rule.pk}/change/",
        {
            "version": draft.pk,
            "position": rule.position,
            "code": rule.code,
            "title": payload("rtitle"),
            "severity": rule.severity,
            "when": rule.when,
            "message": payload("rmsg"),
            "rationale": rule.rationale,
            "source": rule.source,
            "superseded_by": json.dumps(rule.superseded_by),
            "active": _checkbox(rule.active),
        },
    )
    _post_ok(
        admin,
        "/admin/screening/panelcase/add/",
        {
            "version": draft.pk,
            "position": 999,
            "name": payload("pcname"),
            "answers": json.dumps({"bp": "120/80"}),
            "must_raise": "",
            "must_not_raise": "bp_elevated",
            "as_of": "",
            "note": payload("pcnote"),
        },
    )
    panel_case = draft.panel_cases.get(position=999)
    urgent = draft.rules.get(code="phq9_item9_positive")
    _post_ok(
        admin,
        f"/admin/screening/rule/{urgent.pk}/change/",
        {
            "version": draft.pk,
            "position": urgent.position,
            "code": urgent.code,
            "title": urgent.title,
            "severity": urgent.severity,
            "when": urgent.when,
            "message": urgent.message,
            "rationale": urgent.rationale,
            "source": urgent.source,
            # What the patient reads on the confirmation page: admin-written, shown escaped.
            "patient_message": f"{payload('rpatient')} {{crisis_resources}}",
            "superseded_by": json.dumps(urgent.superseded_by),
            "active": _checkbox(urgent.active),
        },
    )
    publish = {"action": "publish", "_selected_action": [str(draft.pk)]}
    preview = admin.post("/admin/screening/questionsetversion/", publish)
    assert preview.status_code == 200, preview.content.decode()[:3000]
    pages["admin publish preview"] = preview.content.decode()
    # Published without the translations the default content offers, on purpose.
    _post_ok(
        admin,
        "/admin/screening/questionsetversion/",
        {**publish, "confirm": "yes", "drop_language": ["es", "en-gb"]},
    )
    _post_ok(
        admin,
        "/admin/screening/drug/add/",
        {
            "name": payload("drug"),
            "classes": "sedative_hypnotic",
            "components": "",
            "brands": "Zzxbrand",
            "synonyms": "",
            "slang": "",
            "sources": "TEST",
            "form": "",
            "note": "",
            "grade": "major",
        },
    )

    # The physician invites a patient whose name is a payload; the patient accepts.
    mail.outbox.clear()
    _post_ok(
        physician,
        "/staff/invitations/",
        {"full_name": payload("name"), "email": "xss.patient@example.com"},
    )
    link = re.search(r"https?://[^/\s]+(/invitation/\?token=[\w-]+)", mail.outbox[-1].body)[1]
    patient = Client()
    assert patient.get(link)["Location"] == "/invitation/"
    read("accept invitation", patient, "/invitation/")
    _post_ok(patient, "/invitation/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    # The patient answers with payloads in every free-text field.
    started = patient.post("/screenings/start/")
    screening = Screening.objects.get(pk=started["Location"].split("/")[2])
    fill_intake(
        patient,
        screening,
        {
            "psych_history": ["other"],
            "psych_history_other": payload("other"),
            "drug_allergies": "yes",
            "drug_allergy_list": payload("allergy"),
            "questions_for_clinic": payload("qclinic"),
            "has_prescriber": "yes",
            "prescriber_name": payload("prescriber"),
            "emergency_contact_name": payload("contact"),
            "transport_home": "yes",
            "escort_name": payload("escort"),
            "phq9_9": "several_days",
            "medications-none": "",
            "medications-rows": "2",
            "medications-0-name": payload("med"),
            "medications-0-dose": payload("dose"),
            "medications-0-frequency": payload("freq"),
            "medications-1-name": "Zzxbrand 10 mg",
            "recreational_substances-none": "",
            "recreational_substances-rows": "1",
            "recreational_substances-0-name": payload("street"),
            "bp_systolic": "150",
            "bp_diastolic": "85",
        },
    )
    read("patient page about_you", patient, f"/screenings/{screening.pk}/page/about_you/")
    read("patient page medicines", patient, f"/screenings/{screening.pk}/page/medicines/")
    read("patient review", patient, f"/screenings/{screening.pk}/review/")
    _post_ok(patient, f"/screenings/{screening.pk}/review/", {"consent": "on"})
    read("patient submitted", patient, f"/screenings/{screening.pk}/submitted/")
    read("patient feeling", patient, "/screenings/how-you-have-been-feeling/")
    read("patient home", patient, "/screenings/")

    # The physician reads it, acknowledges a flag with a note and decides.
    staff_page = f"/staff/screenings/{screening.pk}/"
    read("staff queue", physician, "/staff/queue/")
    read("staff invitations", physician, "/staff/invitations/")
    read("staff screening", physician, staff_page)
    read("staff print view", physician, f"{staff_page}print/")
    read("staff patient page", physician, f"/staff/patients/{screening.patient_id}/")
    screening.refresh_from_db()
    flag = screening.flags.get(code="bp_elevated")
    _post_ok(
        physician,
        f"{staff_page}flags/{flag.pk}/acknowledge/",
        {"note": payload("ack"), "lock_version": screening.lock_version},
    )
    screening.refresh_from_db()
    texts = {
        "conditions": payload("cond"),
        "reason": payload("reason"),
        "message_to_patient": payload("msg"),
        "override_reason": payload("override"),
    }
    refused = physician.post(
        f"{staff_page}decide/",
        {"outcome": "cleared_with_conditions", "lock_version": screening.lock_version, **texts},
    )
    assert refused.status_code == 200 and b"not</strong> signed" in refused.content
    pages["staff decision refused"] = refused.content.decode()
    _post_ok(
        physician,
        f"{staff_page}decide/",
        {"outcome": "more_information_needed", "lock_version": screening.lock_version, **texts},
    )
    read("staff screening after decision", physician, staff_page)
    read("staff print view after decision", physician, f"{staff_page}print/")

    # The patient sees the physician's message.
    read("patient home with message", patient, "/screenings/")
    read("patient review with message", patient, f"/screenings/{screening.pk}/review/")

    # The clinic admin reads the audit log and the admin; a superuser reads the users.
    new_question = Question.objects.get(version__status="published", code="sex_at_birth")
    new_section = Section.objects.get(version__status="published", code="about_you")
    new_rule = Rule.objects.get(version__status="published", code="bp_elevated")
    drug = Drug.objects.get(name=payload("drug"))
    invitation = screening.patient.invitations_accepted.get()
    read("staff audit log", admin, "/staff/audit/")
    read("admin index", admin, "/admin/")
    read("admin question change", admin, f"/admin/screening/question/{new_question.pk}/change/")
    read("admin question history", admin, f"/admin/screening/question/{new_question.pk}/history/")
    read(
        "admin section changelist",
        admin,
        f"/admin/screening/section/?version__id__exact={new_section.version_id}",
    )
    read("admin section change", admin, f"/admin/screening/section/{new_section.pk}/change/")
    read("admin rule change", admin, f"/admin/screening/rule/{new_rule.pk}/change/")
    read(
        "admin panel case changelist",
        admin,
        f"/admin/screening/panelcase/?version__id__exact={panel_case.version_id}",
    )
    read("admin panel case change", admin, f"/admin/screening/panelcase/{panel_case.pk}/change/")
    read("admin drug changelist", admin, "/admin/screening/drug/?q=zzxbrand")
    read("admin drug change", admin, f"/admin/screening/drug/{drug.pk}/change/")
    read("admin drug delete", admin, f"/admin/screening/drug/{drug.pk}/delete/")
    read("admin drug history", admin, f"/admin/screening/drug/{drug.pk}/history/")
    read("admin invitation changelist", admin, "/admin/screening/invitation/")
    read("admin invitation change", admin, f"/admin/screening/invitation/{invitation.pk}/change/")
    read("admin user changelist", superuser, "/admin/screening/user/?q=xss.patient")
    read("admin user change", superuser, f"/admin/screening/user/{screening.patient_id}/change/")
    return pages


@pytest.fixture(scope="module")
def pages(django_db_setup, django_db_blocker):
    with built_world(django_db_blocker, build=run_scenario) as read_pages:
        yield read_pages


def test_the_scenario_read_every_page(pages):
    assert sorted(pages) == sorted(PAGE_LABELS)


@pytest.mark.parametrize("label", PAGE_LABELS)
def test_no_page_shows_a_payload_unescaped(pages, label):
    body = pages[label]
    raw = [markup for markup in RAW_MARKUP if markup in body]
    assert not raw, f"{label}: raw markup {raw}"
    assert not JAVASCRIPT_URL.search(body), f"{label}: a javascript: URL in an attribute"


@pytest.mark.parametrize("tag", sorted(SHOWN_ON))
def test_each_payload_is_shown_escaped_where_it_belongs(pages, tag):
    escaped = escape(payload(tag))
    missing = [label for label in SHOWN_ON[tag] if escaped not in pages[label]]
    assert not missing, f"{tag}: the escaped payload is missing from {missing}"
