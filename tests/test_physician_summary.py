"""The physician's one-screen summary at the top of a screening (issue 15, item 1): who, how
urgent, each flag on a line, scores, vitals, allergies, medicines and the patient's own
questions, read from the stored answers only; the print view follows the same order."""

import datetime
import html
import re
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from screening.demo import CALM_ANSWERS, DEMO_PATIENTS, seed_demo_screenings
from screening.models import Answer, Screening
from screening.presenters import physician_summary, summary_flag_line
from screening.review.views import screening_context
from screening.selectors import visibility_for
from tests.logins import log_in_staff

from .factories import make_submitted_screening

pytestmark = pytest.mark.django_db


def summary_of(body: str) -> str:
    """The summary's HTML: from its heading to the end of its section."""
    start = body.index('id="summary-heading"')
    return body[start : body.index("</section>", start)]


def text_of(fragment: str) -> str:
    spaced = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))
    return html.unescape(re.sub(r" ([:;,.)])", r"\1", spaced))


def age_on(born: str, today: datetime.date) -> int:
    born = datetime.date.fromisoformat(born)
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def page_of(client, screening, tail=""):
    response = client.get(f"/staff/screenings/{screening.pk}/{tail}")
    assert response.status_code == 200
    return response.content.decode()


def test_the_demo_urgent_patients_summary_reads_the_stored_answers(
    physician_client, default_version
):
    seed_demo_screenings()
    screening = Screening.objects.get(patient__full_name="Uma Urgent")
    (flag,) = screening.flags.all()
    question = dict(DEMO_PATIENTS[0][2])["questions_for_clinic"]
    body = page_of(physician_client, screening)
    summary = summary_of(body)
    text = text_of(summary)

    age = age_on(CALM_ANSWERS["date_of_birth"], timezone.localdate())
    assert f"Uma Urgent · {age} years · Female · Urgent (1 urgent)" in text
    assert f'href="#flag-{flag.pk}"' in summary and f'id="flag-{flag.pk}"' in body
    assert f"Urgent {flag.title} — " in text and "· not acknowledged" in text
    # The evidence: the answer to PHQ-9 item 9, after a few words of its question.
    assert "Thoughts that you would be better off dead …: Several days ·" in text
    for score in screening.scores:
        if score["value"] is not None:
            assert f"{score['name']}: {score['value']} ({score['band']})" in text
    assert "Blood pressure: 122/78 mmHg" in text
    assert "Heart rate: 72 beats per minute" in text
    assert "Height: 168 cm" in text and "Weight: 64.5 kg" in text and "BMI: 22.9" in text
    assert "Drug allergies: No" in text and "Allergic to ketamine or esketamine: No" in text
    assert 'href="#answer-drug_allergies"' in summary and 'id="answer-drug_allergies"' in body
    assert "Recognized: Sertraline" in text and "Not recognized: none." in text
    assert question in text
    # The summary comes first, then the details: the flag cards, the answers.
    assert body.index("summary-heading") < body.index('id="flags-heading"')
    assert body.index('id="flags-heading"') < body.index('id="answers-heading"')


def test_the_patients_own_question_is_shown_as_typed_and_escaped(physician_client, default_version):
    screening = make_submitted_screening(level="caution")
    typed = '<script>alert("x")</script> Can I keep <b>Xanax</b> & coffee?\nThanks'
    Answer.objects.create(
        screening=screening,
        question=default_version.questions.get(code="questions_for_clinic"),
        value=typed,
    )
    summary = summary_of(page_of(physician_client, screening))
    assert "<script>" not in summary and "<b>" not in summary
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in summary
    assert "Can I keep &lt;b&gt;Xanax&lt;/b&gt; &amp; coffee?<br>Thanks" in summary


def test_a_missing_answer_reads_not_answered_and_nothing_is_made_up(
    physician_client, default_version
):
    screening = make_submitted_screening(level="info")  # no answers stored at all
    text = text_of(summary_of(page_of(physician_client, screening)))
    assert "Age: Not answered" in text and "Sex: Not answered" in text
    assert "Blood pressure: Not answered" in text and "Heart rate: Not answered" in text
    assert "Height: Not answered" in text and "Weight: Not answered" in text
    assert "BMI" not in text
    assert "Drug allergies: Not answered" in text
    # Asked only after a "yes": never shown for a patient who did not say yes.
    assert "Which, and what happened" not in text
    assert "Recognized: none." in text
    assert "own questions Not answered" in text


def test_the_print_view_starts_with_the_same_summary(physician_client, default_version):
    seed_demo_screenings()
    screening = Screening.objects.get(patient__full_name="Uma Urgent")
    body = page_of(physician_client, screening, "print/")
    on_screen = re.sub(r"<form.*?</form>", "", summary_of(page_of(physician_client, screening)))
    # The same lines, without the screen's acknowledge buttons.
    assert text_of(summary_of(body)) == text_of(on_screen)
    assert body.index("summary-heading") < body.index('id="flags-heading"')


def test_the_summary_costs_no_query(physician_client, default_version):
    seed_demo_screenings()
    screening = Screening.objects.get(patient__full_name="Uma Urgent")
    context = screening_context(screening)
    with CaptureQueriesContext(connection) as queries:
        summary = physician_summary(
            patient_name=screening.patient.full_name,
            visibility=visibility_for(screening),
            flags=context["flags"],
            medications=context["medications"],
            scores=screening.scores,
        )
    assert summary["flags"] and len(queries) <= 1  # visibility_for's stored answers
    page_of(physician_client, screening)  # the first read records the review clock
    with CaptureQueriesContext(connection) as queries:
        page_of(physician_client, screening)
    assert len(queries) <= SCREENING_PAGE_QUERIES


# The page's queries, measured: 19 on SQLite (as before the summary was added), 20 on PostgreSQL.
SCREENING_PAGE_QUERIES = 20


def test_a_flags_line_gives_its_evidence_in_a_few_words():
    flag = SimpleNamespace(
        evidence_rows=[
            {
                "question": "bp",
                "label": "What was your most recent blood pressure reading?",
                "display": "160/92 mmHg",
            },
            {"typed": "xanex", "matched": "alprazolam"},
            {"value": "bmi", "label": "BMI", "answer": None},
        ]
    )
    line = summary_flag_line(flag)
    assert line["evidence"] == (
        "What was your most recent blood pressure reading: 160/92 mmHg; “xanex” → alprazolam;"
        " and 1 more"
    )
    assert line["acknowledged"] is False


def test_a_flag_is_acknowledged_from_its_summary_line_and_the_page_returns_there(
    physician_client, clinic_admin, default_version
):
    """Item 1's leftover: the line's small form posts to the acknowledge view (no JavaScript),
    which audits it as before and sends the physician back to the same line."""
    from screening.models import AuditEvent

    screening = make_submitted_screening(flags=[("demo_caution", "caution")])
    flag = screening.flags.get()
    line = re.search(
        rf'<li id="summary-flag-{flag.pk}">.*?</li>',
        summary_of(page_of(physician_client, screening)),
        re.S,
    ).group(0)
    action = re.search(r'action="([^"]+)"', line).group(1)
    assert action == f"/staff/screenings/{screening.pk}/flags/{flag.pk}/acknowledge/"
    fields = dict(re.findall(r'name="(lock_version|return_to)" value="([^"]*)"', line))
    response = physician_client.post(action, fields)
    assert response.status_code == 302
    assert response["Location"].endswith(f"#summary-flag-{flag.pk}")
    flag.refresh_from_db()
    assert flag.acknowledgement.physician.full_name == "Dr Dana Physician"
    assert AuditEvent.objects.filter(action="flag.acknowledged", screening=screening).exists()
    again = summary_of(page_of(physician_client, screening))
    assert "summary-acknowledge" not in again and "acknowledged" in again
    # A clinic admin cannot decide: the summary line offers no form.
    admin = Client()
    log_in_staff(admin, clinic_admin)
    other = make_submitted_screening(flags=[("demo_caution", "caution")])
    response = admin.get(f"/staff/screenings/{other.pk}/")
    if response.status_code == 200:
        assert "summary-acknowledge" not in response.content.decode()
