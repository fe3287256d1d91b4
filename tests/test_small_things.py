"""Issue 15, item 3: the small things a walk-through as a new patient and physician found."""

import pytest
from django.contrib import messages
from django.template import Context, Template

from screening.services.intake import start_screening
from tests.logins import log_in_staff

from .conftest import PASSWORD
from .intake_helpers import fill_intake, page_post_data


@pytest.fixture
def screening(default_version, patient):
    return start_screening(patient=patient)


def page_url(screening, code):
    return f"/screenings/{screening.pk}/page/{code}/"


def reach(client, screening, code, overrides=None):
    """Answer pages until the wizard asks for `code`; its page's HTML."""
    for _ in range(30):
        location = client.get(f"/screenings/{screening.pk}/")["Location"]
        html = client.get(location).content.decode()
        if location == page_url(screening, code):
            return html
        client.post(location, page_post_data(html, screening, overrides or {}))
    raise AssertionError(f"never reached {code}")


# --- The recreational-drugs list reads as a list of street drugs ----------------------------


def test_the_recreational_list_does_not_ask_for_the_name_on_the_pack(patient_client, screening):
    html = reach(patient_client, screening, "substances")
    start = html.index('id="id_recreational_substances"')
    drugs = html[start : html.index("</div>\n</div>", start)]
    assert "as on the label" not in drugs
    assert "How much" in drugs and "I don't use any" in drugs
    # The medicines list keeps its wording.
    medicines = reach(patient_client, screening, "medicines")
    assert "Name (as on the label)" in medicines and "I don't take any" in medicines


def test_an_empty_recreational_list_reads_none_listed_not_not_answered(patient_client, screening):
    # Left empty, as its help asks of someone who uses no drugs (no "none" ticked).
    fill_intake(patient_client, screening, {"recreational_substances-none": ""})
    review = patient_client.get(f"/screenings/{screening.pk}/review/").content.decode()
    start = review.index("Which drugs do you use that were not prescribed for you")
    answer = review[start : review.index("</dd>", start)]
    assert "None listed" in answer
    assert "Not answered" not in answer


# --- The blood pressure box takes "150 over 95" ---------------------------------------------


def test_a_blood_pressure_typed_as_150_over_95_in_the_top_box_is_saved(patient_client, screening):
    html = reach(patient_client, screening, "vitals")
    data = page_post_data(html, screening, {"bp_systolic": "150 over 95", "bp_diastolic": ""})
    response = patient_client.post(page_url(screening, "vitals"), data)
    assert response.status_code == 302, response.content.decode()
    stored = dict(screening.answers.values_list("question__code", "value"))
    assert stored["bp"] == {"systolic": 150, "diastolic": 95}
    shown = patient_client.get(page_url(screening, "vitals")).content.decode()
    assert 'name="bp_systolic" id="id_bp_systolic" value="150"' in shown
    assert 'name="bp_diastolic" id="id_bp_diastolic" value="95"' in shown


def test_a_blood_pressure_with_a_dash_is_refused_beside_the_box_and_kept(patient_client, screening):
    html = reach(patient_client, screening, "vitals")
    data = page_post_data(html, screening, {"bp_systolic": "150-95", "bp_diastolic": ""})
    response = patient_client.post(page_url(screening, "vitals"), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Put the top number in the first box and the bottom number in the second" in body
    assert 'value="150-95"' in body


# --- The medicines table names classes as the formulary writes them ---------------------------


def test_the_medicines_table_says_cyp3a4_as_written_not_cyp3a4_recased(
    physician_client, patient_client, screening
):
    rows = {"medications-0-name": "Biaxin 500mg 2x day", "medications-1-name": "Xanax"}
    fill_intake(
        patient_client, screening, {"medications-none": "", "medications-rows": "2", **rows}
    )
    patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    body = physician_client.get(f"/staff/screenings/{screening.pk}/").content.decode()
    table = body[body.index('id="meds-heading"') :]
    table = table[: table.index("</tbody>")]
    assert "Strong CYP3A4 inhibitors" in table
    assert "Benzodiazepines" in table
    assert "CYP3a4" not in body


# --- Every crisis number is tap-to-call -----------------------------------------------------


@pytest.mark.parametrize(
    "text, html",
    [
        ("call 911 now", 'call <a href="tel:911">911</a> now'),
        ("Call or text 988, the Lifeline", 'Call or text <a href="tel:988">988</a>, the Lifeline'),
        ("ring 116 123 (Samaritans)", 'ring <a href="tel:116123">116 123</a> (Samaritans)'),
        ("call +1 (800) 273-8255.", 'call <a href="tel:+18002738255">+1 (800) 273-8255</a>.'),
        # No verb, no link: a reading, a count, a year.
        ("150/95 in 2026, 3 times", "150/95 in 2026, 3 times"),
        # The text is escaped; only the links are markup.
        ("<b>call 988</b>", '&lt;b&gt;call <a href="tel:988">988</a>&lt;/b&gt;'),
    ],
)
def test_numbers_to_call_become_tel_links_and_nothing_else_is_markup(text, html):
    rendered = Template("{% load screening_tags %}{{ text|phone_links }}").render(
        Context({"text": text})
    )
    assert rendered == html


def test_the_confirmation_page_links_988_and_911(patient_client, screening):
    fill_intake(patient_client, screening, {"phq9_9": "several_days"})
    patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    page = patient_client.get(f"/screenings/{screening.pk}/submitted/").content.decode()
    assert 'call or text <a href="tel:988">988</a>' in page
    assert 'call <a href="tel:911">911</a>' in page


def test_the_usual_crisis_note_and_the_safety_page_link_988(patient_client, screening):
    fill_intake(patient_client, screening, {})
    patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    page = patient_client.get(f"/screenings/{screening.pk}/submitted/").content.decode()
    assert '<a href="tel:988">988</a>' in page


def test_the_safety_section_intro_links_988(patient_client, default_version, patient):
    screening = start_screening(patient=patient)
    html = reach(patient_client, screening, "safety")
    assert 'text <a href="tel:988">988</a>, the Suicide &amp; Crisis Lifeline' in html
    assert 'call <a href="tel:911">911</a>' in html


def test_a_message_with_the_crisis_lines_links_them(rf):
    rendered = Template(
        "{% load screening_tags %}{% for m in messages %}{{ m|phone_links }}{% endfor %}"
    )
    request = rf.get("/")
    request.session = {}
    from django.contrib.messages.storage.fallback import FallbackStorage

    request._messages = FallbackStorage(request)
    messages.warning(request, "If you are in danger now, call 911.")
    html = rendered.render(Context({"messages": messages.get_messages(request)}))
    assert 'call <a href="tel:911">911</a>.' in html


# --- One look for every login page ----------------------------------------------------------


def layout_of(html: str) -> list[str]:
    """The app's own layout: its stylesheets, its header with the clinic's name, its main."""
    return [
        line
        for line in (
            '<link rel="stylesheet" href="/static/bootstrap/css/bootstrap.min.css">',
            '<link rel="stylesheet" href="/static/screening/app.css">',
            '<a class="navbar-brand" href="/">',
            '<main id="main" class="container narrow pb-5" tabindex="-1">',
            '<h1 class="h3">Log in</h1>',
            '<button type="submit" class="btn btn-primary">Log in</button>',
        )
        if line in html
    ]


def test_the_admin_login_looks_like_the_apps_login(client, db):
    app_login = client.get("/login/").content.decode()
    admin_login = client.get("/admin/login/?next=/admin/").content.decode()
    assert layout_of(admin_login) == layout_of(app_login)
    assert len(layout_of(admin_login)) == 6
    assert "admin/css/base.css" not in admin_login  # not Django's admin look
    assert 'action="/admin/login/?next=/admin/"' in admin_login
    assert "Email address" in admin_login and "Email address" in app_login


def test_the_admin_login_still_asks_for_the_second_factor(client, clinic_admin):
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": clinic_admin.email.upper(), "password": PASSWORD, "next": "/admin/"},
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/account/two-factor/")


def test_the_admin_login_refuses_a_physician_and_says_why(client, physician):
    response = client.post(
        "/admin/login/", {"username": physician.email, "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 200
    assert "do not match an account that can use the clinic admin" in response.content.decode()
    log_in_staff(client, physician)
    page = client.get("/admin/login/").content.decode()
    assert "this account cannot use the clinic admin" in page


# --- The session page's answers beside the baseline ------------------------------------------


def test_the_answers_beside_the_baseline_are_escaped_and_lists_are_lists():
    from types import SimpleNamespace

    from django.template.loader import render_to_string

    rows = [
        {
            "question": SimpleNamespace(text="Any <new> medicine?"),
            "now": ["Sertraline <50 mg>", "Ibuprofen"],
            "then": "None",
            "now_is_list": True,
            "then_is_list": False,
        },
        # A check-in question the intake never had: no baseline column.
        {
            "question": SimpleNamespace(text="Escort"),
            "now": "Sam & Alex",
            "then": None,
            "now_is_list": False,
            "then_is_list": False,
        },
    ]
    html = render_to_string("includes/_baseline_answers.html", {"rows": rows})
    assert '<dt class="mt-2" data-content>Any &lt;new&gt; medicine?</dt>' in html
    assert (
        '<ul class="mb-0"><li><bdi>Sertraline &lt;50 mg&gt;</bdi></li>'
        "<li><bdi>Ibuprofen</bdi></li></ul>" in html
    )
    assert "At baseline:</span> <bdi>None</bdi></div>" in html
    assert "<strong><bdi>Sam &amp; Alex</bdi></strong>" in html
    assert html.count("At baseline:") == 1
    assert '<p class="mb-0">None.</p>' in render_to_string(
        "includes/_baseline_answers.html", {"rows": []}
    )
