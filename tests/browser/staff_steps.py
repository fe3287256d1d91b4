"""What clinic staff do in the browser: read the review queue, acknowledge flags, sign.

Things are found the way a person finds them: by headings, link text, button names and
field labels (only flag_titles looks at classes, to drop the badge and rule code from a
flag's heading), so the tests say what a physician sees.
"""

import re

from django.core import mail
from playwright.sync_api import Locator, Page, expect

from screening.models import User
from tests.conftest import PASSWORD
from tests.logins import code_for_typed_key, unused_code

from .conftest import assert_accessible, shoot
from .patient_steps import heading

DECISION_SECTION = re.compile(r"^(Record|Amend) (a|the) decision$")
ACKNOWLEDGED = re.compile(r"Acknowledged by ")
DECISION_SIGNED = "Decision signed."
STALE_MESSAGE = "Another physician changed this screening"


def log_in_as_staff(
    page: Page, email: str, password: str = PASSWORD, lands_on: str = "Review queue"
) -> None:
    """Log in on the ordinary /login/ page, then the authenticator code; physicians land on
    the review queue, nurses on the treatment sessions (lands_on="Treatment sessions")."""
    page.goto("/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in", exact=True).click()
    enter_authenticator_code(page, email)
    expect(heading(page)).to_have_text(lands_on)


def open_emailed_set_up_link(page: Page, email: str) -> None:
    """A staff member without an app asks for the set-up link and opens it from the email
    (the only place it exists), in the same browser."""
    assert_accessible(page, "two-factor set-up link needed")
    with page.expect_navigation():
        page.get_by_role("button", name="Email me a set-up link").click()
    expect(status_messages(page)).to_contain_text(f"We emailed a set-up link to {email}")
    (message,) = [m for m in mail.outbox if m.to == [email] and "set up" in m.subject]
    link = re.search(r"https?://\S+(/account/two-factor/set-up/link/\S+)", message.body)
    assert link, message.body
    page.goto(link.group(1))


def enter_authenticator_code(page: Page, email: str) -> None:
    """The second step for staff: on the first login, set up the app from the emailed link
    and the key on the page; afterwards, type what the app shows now."""
    if heading(page).inner_text() == "Set up your authenticator app from your email":
        open_emailed_set_up_link(page, email)
        expect(heading(page)).to_have_text("Set up your authenticator app")
    if heading(page).inner_text() == "Set up your authenticator app":
        shoot(page, "staff-00-two-factor-set-up")
        assert_accessible(page, "two-factor set-up")
        code = code_for_typed_key(page.locator("#secret-key").inner_text())
    else:
        expect(heading(page)).to_have_text("Enter your code")
        code = unused_code(User.objects.get(email=email))
    page.get_by_label("Code from your authenticator app").fill(code)
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("^(Continue|Turn on and continue)$")).click()


def queue_table(page: Page) -> Locator:
    return page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Patient"))


def queue_rows(page: Page) -> list[tuple[str, str]]:
    """(level badge as shown, patient name) for each row of the queue, top to bottom."""
    table = queue_table(page)
    expect(table).to_be_visible()
    rows = []
    for row in table.locator("tbody tr").all():
        cells = row.get_by_role("cell")
        link = row.get_by_role("link")
        if link.count() == 0:  # "No screenings match."
            continue
        # The level's badge is the cell's first line; an unopened urgent screening's clock
        # ("Submitted 12 min ago, not yet opened") follows it.
        level = cells.first.inner_text().strip().splitlines()[0].strip()
        rows.append((level, link.first.inner_text().strip()))
    return rows


def queue_names(page: Page) -> list[str]:
    return [name for _, name in queue_rows(page)]


def filter_queue(page: Page, *, status: str | None = None, search: str | None = None) -> None:
    """Set the filters the way a person would and press Filter."""
    form = page.get_by_role("form", name="Filter the queue")
    if status is not None:
        form.get_by_label("Status").select_option(label=status)
    if search is not None:
        form.get_by_label("Patient name or email").fill(search)
    with page.expect_navigation():
        form.get_by_role("button", name="Filter").click()
    expect(heading(page)).to_have_text("Review queue")


def open_from_queue(page: Page, patient_name: str) -> None:
    with page.expect_navigation():
        queue_table(page).get_by_role("link", name=patient_name, exact=True).click()
    expect(heading(page)).to_have_text(f"Screening of {patient_name}")


def flag_cards(page: Page) -> Locator:
    return page.get_by_role("region", name=re.compile(r"^Flags \(\d+\)$")).get_by_role("article")


def flag_card(page: Page, title: str) -> Locator:
    # A plain-string name matches as a case-insensitive substring; a regex would trip over
    # the "/" in titles such as "Blood pressure above 140/90".
    return flag_cards(page).filter(has=page.get_by_role("heading", name=title))


def flag_titles(page: Page) -> list[str]:
    """The flag titles as shown (the heading without its badge and code)."""
    titles = []
    for card in flag_cards(page).all():
        title = card.get_by_role("heading").first
        badge = title.locator(".badge").inner_text().strip()
        code = title.locator(".flag-code").inner_text().strip()
        text = title.inner_text().strip()
        titles.append(text.removeprefix(badge).removesuffix(code).strip())
    return titles


def acknowledge(page: Page, title: str, note: str = "") -> None:
    """Acknowledge one flag (optionally with a note) and wait for the page to come back."""
    card = flag_card(page, title)
    if note:
        card.get_by_label("Note (optional)").fill(note)
    with page.expect_navigation():
        card.get_by_role("button", name=re.compile(r"^Acknowledge\b")).click()
    expect(flag_card(page, title).get_by_text(ACKNOWLEDGED)).to_be_visible()


def acknowledge_every_flag(page: Page, notes: dict[str, str] | None = None) -> list[str]:
    notes = notes or {}
    titles = flag_titles(page)
    for title in titles:
        acknowledge(page, title, notes.get(title, ""))
    return titles


def decision_section(page: Page) -> Locator:
    return page.get_by_role("region", name=DECISION_SECTION)


def fill_decision(page: Page, outcome: str, texts: dict[str, str] | None = None) -> None:
    """Choose an outcome and type into the boxes named by their labels ("Conditions": "...")."""
    section = decision_section(page)
    section.get_by_role("radio", name=outcome, exact=True).check()
    for label, value in (texts or {}).items():
        section.get_by_role("textbox", name=label, exact=True).fill(value)


def sign(page: Page) -> None:
    with page.expect_navigation():
        decision_section(page).get_by_role("button", name="Sign decision").click()


def decide(page: Page, outcome: str, texts: dict[str, str] | None = None) -> None:
    fill_decision(page, outcome, texts)
    sign(page)


def decisions_shown(page: Page) -> Locator:
    return page.get_by_role("region", name="Decisions")


def alert_messages(page: Page) -> Locator:
    return page.locator("main").get_by_role("alert")


def status_messages(page: Page) -> Locator:
    return page.locator("main").get_by_role("status")


def table_rows(table: Locator) -> list[dict[str, str]]:
    """A table's body rows as {column header: cell text}, as a reader pairs them up."""
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    rows = []
    for row in table.locator("tbody tr").all():
        cells = [c.strip() for c in row.locator("td, th").all_inner_texts()]
        rows.append(dict(zip(headers, cells, strict=False)))
    return rows


def open_first_in_queue(page: Page) -> None:
    """Open the screening at the top of the queue (the most urgent)."""
    with page.expect_navigation():
        queue_table(page).locator("tbody tr").first.get_by_role("link").first.click()
    expect(heading(page)).to_have_text(re.compile(r"^Screening of "))


def invite_patient(page: Page, full_name: str, email: str, language: str | None = None) -> str:
    """Send an invitation from the staff page; returns the link from the patient's email
    (the only place it exists), as a path on the test server. `language` is the name the
    Language list shows ("Spanish"); without it the form's own choice stands."""
    page.goto("/staff/invitations/")
    page.get_by_label("Patient's full name").fill(full_name)
    page.get_by_label("Patient's email address").fill(email)
    if language is not None:
        page.get_by_label("Language", exact=True).select_option(label=language)
    with page.expect_navigation():
        page.get_by_role("button", name="Send invitation").click()
    expect(status_messages(page)).to_have_text(f"Invitation sent to {email}.")
    (message,) = [m for m in mail.outbox if m.to == [email]]
    link = re.search(r"https?://\S+(/invitation/\S+)", message.body)
    assert link, message.body
    return link.group(1)
