"""No English left on any page a Spanish-speaking patient sees (issue 17).

A patient whose preferred language is Spanish walks every patient page: the home page in
each state, every page of the default intake (answered so that the follow-ups and the
optional pages, pregnancy and the PCL-5, appear), a page refused with errors, the review
page, the confirmation, "How you have been feeling", a session check-in, and the pages
everyone passes through (log in, password reset, the invitation, the 400/403/404 pages).

Each page's visible text (and the words a screen reader says: aria-label, title, alt,
placeholder) is searched for English words that Spanish never uses. Skipped: scripts and
styles; an element whose `lang` starts with "en" (the official English wording of an
instrument, shown with a note); an element marked `data-patient-text` (the patient's own
typed words, echoed back). Text inside an element marked `data-content` comes from the
question set (section titles, questions, choices, help) and is reported apart from the
interface's own words.
"""

from __future__ import annotations

import re
import uuid
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from screening.models import Screening
from screening.services.invitations import create_invitation
from screening.snapshots import questionnaire_for
from tests.check_in_helpers import COULD_BE_PREGNANT, make_cleared_course, make_session
from tests.conftest import PASSWORD, make_user
from tests.intake_helpers import page_post_data

LANGUAGE = "es"

# Words of English that a Spanish page never contains (none of them is a Spanish word).
ENGLISH_WORDS = frozenset(
    """
    the your you and to of with is are please save this that for what have has will can
    not our we were was been be when which there these those how about before after
    answer answers questionnaire continue change back submit sent started section
    start again check sign log out password account page yes other item name dose
    often feet inches pounds kilograms centimeters centimetres score top bottom
    number more rows don't thank hello message clinic cleared session
    """.split()  # noqa: SIM905 (a paragraph of words reads better than a list of 80 strings)
)
WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
SKIPPED_ELEMENTS = {"script", "style", "template"}
# Attributes a patient hears or sees: data-label heads a table cell on a phone (app.css).
SPOKEN_ATTRIBUTES = ("aria-label", "title", "alt", "placeholder", "data-label")
VOID_ELEMENTS = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


class _Texts(HTMLParser):
    """Collects (text, from_content) for every text a patient reads or hears on a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool, bool]] = []  # (tag, skipped, content)
        self.texts: list[tuple[str, bool]] = []
        self.html_lang = ""

    def _state(self) -> tuple[bool, bool]:
        if not self.stack:
            return False, False
        return self.stack[-1][1], self.stack[-1][2]

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        skipped, content = self._state()
        lang = (attributes.get("lang") or "").lower()
        if tag == "html":
            self.html_lang = lang  # the page's own language: checked on its own, not skipped
        elif lang.startswith("en"):
            skipped = True
        if tag in SKIPPED_ELEMENTS or "data-patient-text" in attributes:
            skipped = True
        content = content or "data-content" in attributes
        if not skipped:
            for name in SPOKEN_ATTRIBUTES:
                if attributes.get(name):
                    self.texts.append((attributes[name], content))
        if tag not in VOID_ELEMENTS:
            self.stack.append((tag, skipped, content))

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_ELEMENTS and self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        skipped, content = self._state()
        if not skipped and data.strip():
            self.texts.append((" ".join(data.split()), content))


def english_texts(html: str) -> tuple[list[str], list[str], str]:
    """(interface texts in English, content texts in English, the page's lang)."""
    parser = _Texts()
    parser.feed(html)
    parser.close()
    interface, content = [], []
    content_texts = {text for text, from_content in parser.texts if from_content}
    for text, from_content in parser.texts:
        # A part of the page's title that repeats a content heading (a section's title) is
        # content too: "About you · Check-in · Clinic".
        parts = text.split(" · ")
        if not from_content and len(parts) > 1:
            text = " · ".join(part for part in parts if part not in content_texts)
        # The clinic's name is a name, the same in every language.
        plain = text.replace(settings.CLINIC_NAME, "").lower().replace("\u2019", "'")
        words = set(WORD.findall(plain))
        if words & ENGLISH_WORDS:
            (content if from_content else interface).append(text)
    return interface, content, parser.html_lang


# The crawl -----------------------------------------------------------------------------------

# Answers that bring out every follow-up and optional page of the default intake.
FOLLOW_UPS = {
    "date_of_birth": "1980-05-17",
    "sex_at_birth": "female",
    "height_cm": "168",
    "weight_kg": "70",
    "can_be_pregnant": "yes",
    "pregnant": "no",
    "treatment_reason": ["depression", "other"],
    "treatment_reason_other": "dolor de espalda",
    "has_prescriber": "yes",
    "has_therapist": "yes",
    "cv_conditions": ["high_blood_pressure"],
    "psych_history": ["other"],
    "auditc_1": "monthly_or_less",
    "ketamine_before": "yes",
    "drug_allergies": "yes",
    "drug_allergy_list": "penicilina: ronchas en la piel",
    "psych_history_other": "insomnio",
    "suicide_thoughts": "yes",
    "trauma_exposure": "yes",
    "medications-none": "",
    "medications-0-name": "sertralina",
    "medications-0-dose": "50 mg",
    "medications-0-frequency": "una vez al día",
}


def spanish_client(user=None) -> Client:
    """A browser in Spanish: the language cookie and Accept-Language (the patient's own
    preferred language, set on the account, is what the app reads once signed in)."""
    client = Client(HTTP_ACCEPT_LANGUAGE=LANGUAGE)
    client.cookies["language"] = LANGUAGE
    if user is not None:
        user.refresh_from_db()
        user.preferred_language = LANGUAGE
        user.save(update_fields=["preferred_language"])
        client.force_login(user)
    return client


class Crawl:
    def __init__(self) -> None:
        self.pages: dict[str, str] = {}

    def keep(self, name: str, response, status: int = 200) -> str:
        assert response.status_code == status, (name, response.status_code)
        html = response.content.decode()
        self.pages[name] = html
        return html

    def get(self, client: Client, name: str, url: str, status: int = 200) -> str:
        return self.keep(name, client.get(url), status)


def walk_intake(crawl: Crawl, client: Client, screening: Screening, prefix: str) -> list[str]:
    """Every page of the wizard, shown and answered, until the review page."""
    seen = []
    for _ in range(60):
        response = client.get(f"/screenings/{screening.pk}/", follow=True)
        url = response.redirect_chain[-1][0] if response.redirect_chain else ""
        if url.endswith("/review/"):
            return seen
        code = url.rstrip("/").split("/")[-1]
        html = crawl.keep(f"{prefix} page {code}", response)
        seen.append(code)
        posted = client.post(url, page_post_data(html, screening, FOLLOW_UPS))
        assert posted.status_code == 302, posted.content.decode()[:2000]
        if not posted["Location"].endswith(f"/screenings/{screening.pk}/"):
            # Follow-ups appeared on the page: it is shown again, with them.
            html = crawl.keep(
                f"{prefix} page {code} with follow-ups", client.get(posted["Location"])
            )
            again = client.post(url, page_post_data(html, screening, FOLLOW_UPS))
            assert again.status_code == 302, again.content.decode()[:2000]
    raise AssertionError(f"The wizard did not reach the review page: {seen}")


def crawl_everything(physician) -> dict[str, str]:
    crawl = Crawl()

    # Pages before signing in.
    anonymous = spanish_client()
    crawl.get(anonymous, "log in", "/login/")
    crawl.get(anonymous, "password reset", "/account/password-reset/")
    patient = make_user("paciente@example.com", "Lucía Paciente")
    patient.preferred_language = LANGUAGE
    patient.save(update_fields=["preferred_language"])
    crawl.keep(
        "password reset sent",
        anonymous.post("/account/password-reset/", {"email": patient.email}, follow=True),
    )
    (message,) = mail.outbox
    link = re.search(r"https?://[^/\s]+(/account/password-reset/\S+)", message.body).group(1)
    new_password_page = anonymous.get(link)["Location"]
    crawl.get(anonymous, "new password", new_password_page)
    crawl.keep(
        "new password refused",
        anonymous.post(new_password_page, {"new_password1": "short", "new_password2": "other"}),
    )
    crawl.keep(
        "password reset complete",
        anonymous.post(
            new_password_page,
            {"new_password1": PASSWORD, "new_password2": PASSWORD},
            follow=True,
        ),
    )
    invitation, token = create_invitation(
        full_name="Carmen Nueva", email="carmen@example.com", created_by=physician
    )
    invitation.language = LANGUAGE
    invitation.save(update_fields=["language"])
    invited = spanish_client()
    invited.get(f"/invitation/?token={token}")
    crawl.get(invited, "invitation", "/invitation/")
    crawl.keep(
        "invitation refused", invited.post("/invitation/", {"password1": "a", "password2": "b"})
    )
    crawl.get(spanish_client(), "invitation no longer valid", "/invitation/", status=404)

    # The intake, start to end.
    client = spanish_client(patient)
    crawl.get(client, "home, not started", "/screenings/")
    client.post("/screenings/start/")
    screening = Screening.objects.get(patient=patient)
    first = client.get(f"/screenings/{screening.pk}/", follow=True)
    first_url = first.redirect_chain[-1][0]
    crawl.get(client, "home, in progress", "/screenings/")
    refused = page_post_data(first.content.decode(), screening, {})
    refused = {key: "" if key != "presented" else value for key, value in refused.items()}
    crawl.keep("page refused with errors", client.post(first_url, refused))
    sections = walk_intake(crawl, client, screening, "intake")
    # Every page of the intake, the optional ones (pregnancy, the PCL-5's) included.
    sections = list(dict.fromkeys(sections))  # a page with follow-ups is shown again
    assert sections == [s.code for s in questionnaire_for(screening.version).sections]
    medicines = f"/screenings/{screening.pk}/page/medicines/"
    medicines_data = page_post_data(client.get(medicines).content.decode(), screening, FOLLOW_UPS)
    crawl.keep(
        "medicines, more rows",
        client.post(medicines, {**medicines_data, "more_rows": "medications"}),
    )
    review = f"/screenings/{screening.pk}/review/"
    crawl.get(client, "review", review)
    about = f"/screenings/{screening.pk}/page/about_you/"
    about_data = page_post_data(client.get(about).content.decode(), screening, FOLLOW_UPS)
    heavy = {**about_data, "weight_kg": "180"}  # at 168 cm: perhaps pounds, asked to confirm
    html = crawl.keep("weight to confirm", client.post(about, heavy))
    assert "weight_kg_confirm" in html
    # Typing kept when the session ended (the idle script posts it), not saved yet.
    assert client.post(f"{about}draft/", heavy).status_code == 200
    crawl.get(client, "review, with a kept draft", review)
    crawl.get(client, "page with a kept draft", about)
    assert client.post(about, about_data).status_code == 302
    crawl.keep("review refused (no consent)", client.post(review, {}))
    for code in sections:
        crawl.get(
            client,
            f"intake page {code}, answered",
            f"/screenings/{screening.pk}/page/{code}/?from=review",
        )
    assert client.post(review, {"consent": "on"}).status_code == 302
    crawl.get(client, "done", f"/screenings/{screening.pk}/submitted/")
    crawl.get(client, "home, submitted", "/screenings/")
    crawl.get(client, "how you have been feeling", "/screenings/how-you-have-been-feeling/")
    screening.refresh_from_db()
    screening.status = Screening.Status.WAITING_FOR_PATIENT
    screening.message_to_patient = "Por favor, revise su peso."
    screening.save(update_fields=["status", "message_to_patient"])
    crawl.get(client, "home, sent back", "/screenings/")
    crawl.get(client, "review, sent back", review)

    # Error pages.
    crawl.get(client, "404", f"/screenings/{uuid.uuid4()}/", status=404)
    crawl.get(client, "403", "/staff/urgent-response/", status=403)
    too_many = {f"field{i}": "x" for i in range(600)}
    crawl.keep("400", client.post(first_url, too_many), status=400)
    expired = spanish_client(patient)
    expired.handler.enforce_csrf_checks = True  # a form posted without its token
    crawl.keep("403, page expired", expired.post(first_url, {}), status=403)

    # A cleared patient with sessions, and a check-in.
    checking_in = make_user("mateo@example.com", "Mateo Paciente")
    course = make_cleared_course(
        patient=checking_in, physician=physician, baseline=COULD_BE_PREGNANT
    )
    session = make_session(course, hours_ahead=24)
    make_session(course, hours_ahead=24 * 7)  # its check-in opens later
    client = spanish_client(checking_in)
    crawl.get(client, "home, cleared, with sessions", "/screenings/")
    crawl.get(
        client, "how you have been feeling, nothing yet", "/screenings/how-you-have-been-feeling/"
    )
    assert client.post(f"/screenings/sessions/{session.pk}/check-in/").status_code == 302
    session.refresh_from_db()
    check_in = session.check_in
    walk_intake(crawl, client, check_in, "check-in")
    crawl.get(client, "check-in review", f"/screenings/{check_in.pk}/review/")
    client.post(f"/screenings/{check_in.pk}/review/", {"consent": "on"})
    crawl.get(client, "check-in done", f"/screenings/{check_in.pk}/submitted/")
    crawl.get(client, "home, check-in sent", "/screenings/")
    return crawl.pages


PAGES: dict[str, str] = {}


@pytest.fixture
def pages(physician, default_version, check_in_version):
    if not PAGES:
        PAGES.update(crawl_everything(physician))
    return PAGES


def report(found: dict[str, list[str]]) -> str:
    lines = []
    for page, texts in found.items():
        lines.append(f"{page}:")
        lines.extend(f"    {text}" for text in texts)
    return "\n".join(lines)


def test_the_crawl_reaches_every_patient_page(pages):
    assert len(pages) > 40, sorted(pages)
    assert any("PCL" in html or "pcl5_1" in html for html in pages.values())


def test_no_interface_text_in_english(pages):
    found = {}
    for name, html in pages.items():
        interface, _, lang = english_texts(html)
        if not lang.startswith(LANGUAGE):
            interface.insert(0, f'<html lang="{lang}">')
        if interface:
            found[name] = interface
    assert not found, "English interface text on Spanish pages:\n" + report(found)


def test_no_content_text_in_english(pages):
    found = {}
    for name, html in pages.items():
        _, content, _ = english_texts(html)
        if content:
            found[name] = content
    assert not found, "English question-set text on Spanish pages:\n" + report(found)


def test_the_checker_skips_official_english_and_typed_text_and_keeps_content_apart():
    html = (
        '<html lang="es"><body><p>Guardar</p>'
        '<div lang="en">Little interest or pleasure in doing things</div>'
        "<dd data-patient-text>I take it with food</dd>"
        "<label data-content>How tall are you?</label>"
        '<button aria-label="Save the page">Guardar</button>'
        "<script>var the = 1;</script></body></html>"
    )
    interface, content, lang = english_texts(html)
    assert lang == "es"
    assert interface == ["Save the page"]
    assert content == ["How tall are you?"]
