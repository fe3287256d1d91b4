"""Content translations per question-set version (issue 17): the keys, the PO and CSV files,
publishing only complete languages, patients reading their language (the official English,
marked, where there is no official translation), staff reading the source."""

from __future__ import annotations

import pytest
from django.utils.html import escape

from screening.engine.definitions import ContentError
from screening.engine.severity import Severity
from screening.models import (
    AuditEvent,
    ContentTranslation,
    Flag,
    Question,
    QuestionSetVersion,
)
from screening.services.content import (
    PublishRefused,
    VersionNotEditable,
    load_question_set,
    make_draft,
    publish_version,
)
from screening.services.intake import start_screening
from screening.services.translations import (
    TranslationEntry,
    TranslationsRefused,
    UnreadableFile,
    entries_from_csv,
    entries_from_po,
    language_gaps,
    read_translation_file,
    save_translations,
    to_csv,
    to_po,
)
from screening.snapshots import questionnaire_for, translatable_texts_for
from tests.factories import make_submitted_screening
from tests.logins import log_in_staff

pytestmark = pytest.mark.django_db

VERSIONS = "/admin/screening/questionsetversion"
SPANISH_NOTE = (
    "Las preguntas de abajo son de un cuestionario de salud estándar. No tenemos "
    "la versión oficial en su idioma, así que se muestran en inglés."
)


def is_phq9(key: str) -> bool:
    """The PHQ-9's items and choices: in these tests, an instrument without an official
    Spanish translation available to us."""
    return key.startswith(("question.phq9_", "choice.phq9_"))


def translate_all(version, language="es", no_official=lambda key: False, skip=()):
    """Every text of the version "translated" as [es] + the source (a test fixture, not a
    translation), the `no_official` keys marked instead."""
    entries = [
        TranslationEntry(
            key,
            text,
            "" if no_official(key) else f"[{language}] {text}",
            no_official(key),
        )
        for key, text in translatable_texts_for(version).items()
        if key not in skip
    ]
    save_translations(
        version=version, language=language, entries=entries, actor=None, ip_address=None
    )
    # Offered, as an admin chooses on the version's page (saving translations does not).
    if version.is_editable and language not in version.languages:
        version.languages = [*version.languages, language]
        version.save(update_fields=["languages"])


@pytest.fixture
def draft(default_version, clinic_admin):
    """A draft of the default content without translations (whatever the default content
    files offer), so each test says which it has."""
    draft = make_draft(source=default_version, actor=clinic_admin, ip_address=None)
    ContentTranslation.objects.filter(version=draft).delete()
    draft.languages = []
    draft.save(update_fields=["languages"])
    return draft


@pytest.fixture
def untranslated_default(default_version):
    """The published default content as if it offered no translation."""
    ContentTranslation.objects.filter(version=default_version).delete()
    QuestionSetVersion.objects.filter(pk=default_version.pk).update(languages=[])
    default_version.refresh_from_db()
    clear_content_caches()
    yield default_version
    clear_content_caches()  # the rows come back when the test's transaction rolls back


def clear_content_caches():
    from screening import snapshots
    from screening.intake import fields

    snapshots._cached_translated.cache_clear()
    fields._published_specs.clear()


@pytest.fixture
def spanish_version(draft, clinic_admin):
    """The default content published with a complete Spanish translation (PHQ-9 marked as
    having no official translation)."""
    translate_all(draft, no_official=is_phq9)
    # The default content offers UK English too; this version, Spanish only.
    return publish_version(
        version=draft, actor=clinic_admin, ip_address=None, drop_languages=["en-gb"]
    )


# The keys -----------------------------------------------------------------------------------


def test_every_patient_facing_text_has_a_key(default_version):
    texts = translatable_texts_for(default_version)
    question = default_version.questions.get(code="sex_at_birth")
    choice = question.choices.order_by("position").first()
    assert texts["question.sex_at_birth.text"] == question.text
    assert texts[f"choice.sex_at_birth.{choice.value}"] == choice.label
    assert texts["section.about_you.title"] == default_version.sections.get(code="about_you").title
    urgent = default_version.rules.exclude(patient_message="").first()
    assert texts[f"rule.{urgent.code}.patient_message"] == urgent.patient_message
    # Empty texts have no key: nothing to translate.
    for section in default_version.sections.filter(intro=""):
        assert f"section.{section.code}.intro" not in texts
    for rule in default_version.rules.filter(patient_message=""):
        assert f"rule.{rule.code}.patient_message" not in texts


# Files --------------------------------------------------------------------------------------


def stored(version, language="es"):
    return sorted(
        ContentTranslation.objects.filter(version=version, language=language).values_list(
            "key", "source_text", "text", "no_official_translation"
        )
    )


@pytest.mark.parametrize(
    ("export", "read"), [(to_po, entries_from_po), (to_csv, entries_from_csv)], ids=["po", "csv"]
)
def test_a_file_exported_then_loaded_gives_the_same_translations(draft, export, read):
    translate_all(draft, no_official=is_phq9)
    # Texts that files get wrong easily: quotes, commas, new lines, accents, a placeholder.
    tricky = 'Línea uno, "dos"\nLínea tres; ¿cuatro? {clinic_name}'
    key = "section.about_you.title"
    save_translations(
        version=draft,
        language="es",
        entries=[TranslationEntry(key, translatable_texts_for(draft)[key], tricky)],
        actor=None,
        ip_address=None,
    )
    before = stored(draft)
    text = export(draft, "es")
    ContentTranslation.objects.filter(version=draft).delete()
    save_translations(version=draft, language="es", entries=read(text), actor=None, ip_address=None)
    assert stored(draft) == before
    assert export(draft, "es") == text


def test_a_po_file_marks_an_item_without_an_official_translation(draft):
    translate_all(draft, no_official=is_phq9)
    po = to_po(draft, "es")
    assert '#, no-official-translation\nmsgctxt "question.phq9_1.text"' in po
    assert 'msgctxt "question.sex_at_birth.text"' in po


def test_a_file_with_unknown_keys_or_a_stale_source_is_refused_naming_them(draft):
    source = translatable_texts_for(draft)
    entries = [
        TranslationEntry("question.no_such_question.text", "Anything", "Algo"),
        TranslationEntry("question.sex_at_birth.text", "An older wording", "Texto"),
        TranslationEntry("section.about_you.title", source["section.about_you.title"], "Usted"),
    ]
    with pytest.raises(TranslationsRefused) as refused:
        save_translations(
            version=draft, language="es", entries=entries, actor=None, ip_address=None
        )
    text = " ".join(refused.value.problems)
    assert "question.no_such_question.text" in text
    assert "question.sex_at_birth.text" in text
    assert not ContentTranslation.objects.filter(version=draft).exists()  # nothing saved


def test_a_rule_message_translation_keeps_its_placeholders(draft):
    key, source = next(
        (key, text)
        for key, text in translatable_texts_for(draft).items()
        if key.startswith("rule.") and "{" in text
    )
    with pytest.raises(TranslationsRefused, match="placeholders"):
        save_translations(
            version=draft,
            language="es",
            entries=[TranslationEntry(key, source, "Llame a la clínica.")],
            actor=None,
            ip_address=None,
        )


# Publishing ---------------------------------------------------------------------------------


def test_publishing_refuses_a_version_incomplete_in_a_language_it_offers(draft, clinic_admin):
    translate_all(draft, skip={"question.sex_at_birth.text", "section.mood.title"})
    assert draft.languages == ["es"]
    with pytest.raises(PublishRefused) as refused:
        publish_version(version=draft, actor=clinic_admin, ip_address=None)
    reason = " ".join(refused.value.reasons)
    assert "Spanish (es)" in reason
    assert "2 missing" in reason
    assert "question.sex_at_birth.text" in reason and "section.mood.title" in reason
    draft.refresh_from_db()
    assert draft.status == QuestionSetVersion.Status.DRAFT


def test_a_changed_source_text_makes_its_translation_out_of_date(draft, clinic_admin):
    translate_all(draft)
    assert language_gaps(draft, "es").complete
    Question.objects.filter(version=draft, code="sex_at_birth").update(text="Sex at birth, now")
    gaps = language_gaps(draft, "es")
    assert gaps.stale == ["question.sex_at_birth.text"]
    with pytest.raises(PublishRefused) as refused:
        publish_version(version=draft, actor=clinic_admin, ip_address=None)
    assert "out of date" in " ".join(refused.value.reasons)
    assert "question.sex_at_birth.text" in " ".join(refused.value.reasons)


def test_a_complete_version_publishes_and_a_new_draft_copies_its_translations(
    spanish_version, clinic_admin
):
    assert spanish_version.status == QuestionSetVersion.Status.PUBLISHED
    new_draft = make_draft(source=spanish_version, actor=clinic_admin, ip_address=None)
    assert new_draft.languages == ["es"]
    assert stored(new_draft) == stored(spanish_version)


def test_the_admin_publish_action_says_which_language_is_incomplete(draft, client, clinic_admin):
    translate_all(draft, skip={"question.sex_at_birth.text"})
    log_in_staff(client, clinic_admin)
    response = client.post(
        f"{VERSIONS}/",
        {"action": "publish", "_selected_action": [str(draft.pk)], "confirm": "yes"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "was not published" in page
    assert "Spanish (es) translation is incomplete" in page
    assert "question.sex_at_birth.text" in page


def test_a_published_versions_translations_cannot_be_edited(spanish_version, client, clinic_admin):
    before = stored(spanish_version)
    with pytest.raises(VersionNotEditable):
        translate_all(spanish_version)
    log_in_staff(client, clinic_admin)
    url = f"{VERSIONS}/{spanish_version.pk}/translations/es/?part=about_you"
    page = client.get(url).content.decode()
    assert "read-only" in page and 'name="text:' not in page
    response = client.post(
        url, {"text:section.about_you.title": "Cambiado", "sources": "x"}, follow=True
    )
    assert "frozen" in response.content.decode()
    upload = client.post(
        f"{VERSIONS}/{spanish_version.pk}/translations/es/upload/",
        {"file_format": "po", "content": to_po(spanish_version, "es")},
        follow=True,
    )
    assert "frozen" in upload.content.decode()
    assert stored(spanish_version) == before


@pytest.fixture
def draft_without_spanish(spanish_version, clinic_admin):
    """A new draft of the Spanish version that no longer offers Spanish."""
    new_draft = make_draft(source=spanish_version, actor=clinic_admin, ip_address=None)
    new_draft.languages = []
    new_draft.save(update_fields=["languages"])
    return new_draft


def test_publishing_without_a_language_the_published_version_offers_needs_a_yes(
    draft_without_spanish, spanish_version, clinic_admin
):
    """Patients reading Spanish would silently get English: refused unless the admin said so."""
    with pytest.raises(PublishRefused) as refused:
        publish_version(version=draft_without_spanish, actor=clinic_admin, ip_address=None)
    reason = " ".join(refused.value.reasons)
    assert "offers Spanish (es) and this one does not" in reason
    draft_without_spanish.refresh_from_db()
    assert draft_without_spanish.status == QuestionSetVersion.Status.DRAFT
    published = publish_version(
        version=draft_without_spanish, actor=clinic_admin, ip_address=None, drop_languages=["es"]
    )
    assert published.status == QuestionSetVersion.Status.PUBLISHED
    assert AuditEvent.objects.filter(
        action="content.published", summary__contains="published without Spanish"
    ).exists()


def test_the_publish_page_warns_of_a_dropped_language_and_asks_to_confirm(
    draft_without_spanish, client, clinic_admin
):
    log_in_staff(client, clinic_admin)
    selected = {"action": "publish", "_selected_action": [str(draft_without_spanish.pk)]}
    page = client.post(f"{VERSIONS}/", selected).content.decode()
    assert "Languages this version stops offering" in page
    assert "offers <strong>Spanish</strong>; this version does not" in page
    assert 'name="drop_language" value="es" required> Publish without Spanish' in page
    # Confirmed the publication but not the drop: refused, the warning shown again.
    page = client.post(f"{VERSIONS}/", {**selected, "confirm": "yes"}).content.decode()
    assert "was not published" in page and "Publish without Spanish" in page
    draft_without_spanish.refresh_from_db()
    assert draft_without_spanish.status == QuestionSetVersion.Status.DRAFT
    client.post(f"{VERSIONS}/", {**selected, "confirm": "yes", "drop_language": "es"})
    draft_without_spanish.refresh_from_db()
    assert draft_without_spanish.status == QuestionSetVersion.Status.PUBLISHED


# The admin's pages --------------------------------------------------------------------------


def test_an_admin_translates_a_part_beside_its_source_texts(draft, client, clinic_admin):
    log_in_staff(client, clinic_admin)
    url = f"{VERSIONS}/{draft.pk}/translations/es/?part=about_you"
    page = client.get(url).content.decode()
    question = draft.questions.get(code="sex_at_birth")
    assert escape(question.text) in page
    digest = page.split('name="sources" value="')[1].split('"')[0]
    response = client.post(
        url,
        {
            "sources": digest,
            "text:question.sex_at_birth.text": "¿Cuál fue su sexo al nacer?",
            "none:section.about_you.title": "on",
        },
    )
    assert response.status_code == 302
    rows = {row.key: row for row in ContentTranslation.objects.filter(version=draft)}
    assert rows["question.sex_at_birth.text"].text == "¿Cuál fue su sexo al nacer?"
    assert rows["question.sex_at_birth.text"].source_text == question.text
    assert rows["section.about_you.title"].no_official_translation
    assert AuditEvent.objects.filter(
        action="content.changed", object_id=str(draft.pk), summary__contains="Spanish"
    ).exists()


def test_loading_a_file_with_unknown_keys_says_which_and_saves_nothing(draft, client, clinic_admin):
    log_in_staff(client, clinic_admin)
    csv_text = (
        "key,source,translation,no_official_translation\n"
        "question.nonexistent.text,Hello,Hola,\n"
        "question.sex_at_birth.text,Not the source,Sexo,\n"
    )
    response = client.post(
        f"{VERSIONS}/{draft.pk}/translations/es/upload/",
        {"file_format": "csv", "content": csv_text},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "question.nonexistent.text" in page and "question.sex_at_birth.text" in page
    assert not ContentTranslation.objects.filter(version=draft).exists()


def test_loading_a_po_file_in_the_admin_saves_it(draft, client, clinic_admin):
    other = make_draft(source=draft, actor=clinic_admin, ip_address=None)
    translate_all(other)
    log_in_staff(client, clinic_admin)
    response = client.post(
        f"{VERSIONS}/{draft.pk}/translations/es/upload/",
        {"file_format": "po", "content": to_po(other, "es")},
    )
    assert response.status_code == 302
    assert language_gaps(draft, "es").complete
    download = client.get(f"{VERSIONS}/{draft.pk}/translations/es/download.csv")
    assert download["Content-Type"].startswith("text/csv")
    assert download.content.decode("utf-8").lstrip("\ufeff").startswith("key,source,translation")


# Patients read their language ---------------------------------------------------------------


@pytest.fixture
def spanish_patient(client, patient):
    client.force_login(patient)
    patient.preferred_language = "es"  # what the language switcher saves
    patient.save(update_fields=["preferred_language"])
    return client


def test_a_spanish_page_shows_the_translation_and_marks_the_official_english(
    spanish_version, spanish_patient, patient
):
    screening = start_screening(patient=patient)
    assert screening.version == spanish_version
    page = spanish_patient.get(f"/screenings/{screening.pk}/page/about_you/").content.decode()
    source = questionnaire_for(spanish_version)
    question = source.questions_by_code["sex_at_birth"]
    assert escape(f"[es] {question.text}") in page
    assert escape(f"[es] {question.choices[0].label}") in page
    assert escape(f"[es] {source.section('about_you').title}") in page
    assert "english-wording-note" not in page

    mood = spanish_patient.get(f"/screenings/{screening.pk}/page/mood/").content.decode()
    item = source.questions_by_code["phq9_1"]
    assert f'<span lang="en-US">{escape(item.text)}</span>' in mood
    assert f'<span lang="en-US">{escape(item.choices[0].label)}</span>' in mood
    assert SPANISH_NOTE in mood
    assert escape(f"[es] {source.section('mood').title}") in mood  # our own wording


def test_the_note_on_official_english_stands_just_above_it(
    default_version, spanish_patient, patient
):
    """On a Spanish page, the note saying why some questions are in English stands just above
    the first of them (the AUDIT-C at the foot of the alcohol page, the PCL-5 inside its list,
    shown only with it), not at the top of a page the patient reads in Spanish."""
    screening = start_screening(patient=patient)

    def page(code: str) -> str:
        return spanish_patient.get(f"/screenings/{screening.pk}/page/{code}/").content.decode()

    def at(html: str, text: str) -> int:
        assert html.count(text) >= 1, text
        return html.index(text)

    substances = page("substances")
    assert substances.count('id="english-wording-note"') == 1
    note = at(substances, SPANISH_NOTE)
    assert at(substances, 'data-question="sud_status"') < note
    assert note < at(substances, 'data-question="auditc_1"')

    stressful = page("stressful_experiences")
    note = at(stressful, SPANISH_NOTE)
    opening = at(stressful, 'data-question="trauma_exposure"')
    assert opening < at(stressful, "data-grid") < note < at(stressful, 'data-question="pcl5_1"')

    anxiety = page("anxiety")  # the whole page is the GAD-7: the note comes first
    note = at(anxiety, SPANISH_NOTE)
    assert note < at(anxiety, '<div class="intro') < at(anxiety, 'data-question="gad7_1"')

    assert "english-wording-note" not in page("mood")  # the PHQ-9's official Spanish


def test_a_language_the_version_does_not_offer_shows_the_english_marked(
    untranslated_default, spanish_patient, patient
):
    screening = start_screening(patient=patient)
    page = spanish_patient.get(f"/screenings/{screening.pk}/page/about_you/").content.decode()
    question = questionnaire_for(untranslated_default).questions_by_code["sex_at_birth"]
    assert f'<span lang="en-US">{escape(question.text)}</span>' in page
    assert SPANISH_NOTE in page


def test_saving_a_page_records_the_language_and_staff_read_english(
    spanish_version, spanish_patient, patient, client, physician
):
    from tests.intake_helpers import page_post_data

    screening = start_screening(patient=patient)
    url = f"/screenings/{screening.pk}/page/about_you/"
    html = spanish_patient.get(url).content.decode()
    saved = spanish_patient.post(url, page_post_data(html, screening, {}))
    assert saved.status_code == 302
    screening.refresh_from_db()
    assert screening.language == "es"
    review = spanish_patient.get(f"/screenings/{screening.pk}/review/").content.decode()
    title = questionnaire_for(spanish_version).section("about_you").title
    assert escape(f"[es] {title}") in review

    submitted = make_submitted_screening()
    submitted.language = "es"
    submitted.version = spanish_version
    submitted.save()
    staff = type(client)()
    log_in_staff(staff, physician)
    page = staff.get(f"/staff/screenings/{submitted.pk}/").content.decode()
    # The language named in the staff member's language, not in its own.
    assert "Answered in Spanish" in page and "Español" not in page
    assert "[es]" not in page
    printed = staff.get(f"/staff/screenings/{submitted.pk}/print/")
    assert printed.status_code == 200
    assert '<html lang="en-us">' in printed.content.decode()


def test_the_done_page_shows_an_urgent_rules_message_in_spanish(spanish_version, spanish_patient):
    rule = spanish_version.rules.exclude(patient_message="").first()
    screening = make_submitted_screening()
    screening.patient.preferred_language = "es"
    screening.patient.save(update_fields=["preferred_language"])
    spanish_patient.force_login(screening.patient)
    screening.version = spanish_version
    screening.save()
    Flag.objects.create(
        screening=screening,
        code=rule.code,
        severity=Severity.URGENT,
        title=rule.title,
        message=rule.message,
        patient_message=rule.patient_message,
    )
    page = spanish_patient.get(f"/screenings/{screening.pk}/submitted/").content.decode()
    assert "[es] " in page


# The default content's files ----------------------------------------------------------------

TINY_YAML = """
question_set:
  slug: tiny-set
  name: Tiny set
  languages: [es]
sections:
  - code: first
    title: First page
    questions:
      - code: colour
        kind: single_choice
        text: Which color?
        choices:
          - {value: red, label: Red}
          - {value: blue, label: Blue}
      - code: mood_item
        kind: scale_item
        text: Feeling down
        choices:
          - {value: "0", label: Not at all, score: 0}
          - {value: "1", label: Often, score: 1}
"""

TINY_PO = """msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"

msgctxt "section.first.title"
msgid "First page"
msgstr "Primera página"

msgctxt "question.colour.text"
msgid "Which color?"
msgstr "¿Qué color?"

msgctxt "choice.colour.red"
msgid "Red"
msgstr "Rojo"

msgctxt "choice.colour.blue"
msgid "Blue"
msgstr "Azul"

#, no-official-translation
msgctxt "question.mood_item.text"
msgid "Feeling down"
msgstr ""

#, no-official-translation
msgctxt "choice.mood_item.0"
msgid "Not at all"
msgstr ""

#, no-official-translation
msgctxt "choice.mood_item.1"
msgid "Often"
msgstr ""
"""


@pytest.fixture
def tiny_files(tmp_path):
    (tmp_path / "translations").mkdir()
    content = tmp_path / "tiny.yaml"
    content.write_text(TINY_YAML)
    po = tmp_path / "translations" / "tiny-set.es.po"
    po.write_text(TINY_PO, encoding="utf-8")
    return content, po


def test_the_loader_reads_each_offered_languages_po_file(tiny_files):
    content, po = tiny_files
    version, created = load_question_set(content, None)
    assert created and version.languages == ["es"]
    spanish = questionnaire_for(version, "es")
    assert spanish.questions_by_code["colour"].text == "¿Qué color?"
    assert spanish.questions_by_code["colour"].choices[0].label == "Rojo"
    assert spanish.questions_by_code["mood_item"].text == "Feeling down"  # the official English
    assert load_question_set(content, None) == (version, False)
    # A changed translation file is a new version.
    po.write_text(TINY_PO.replace("Rojo", "Colorado"), encoding="utf-8")
    newer, created = load_question_set(content, None)
    assert created and newer.number == version.number + 1
    assert questionnaire_for(newer, "es").questions_by_code["colour"].choices[0].label == "Colorado"


def test_the_loader_refuses_an_incomplete_or_missing_translation_file(tiny_files):
    content, po = tiny_files
    po.write_text(TINY_PO.replace('msgstr "Azul"', 'msgstr ""'), encoding="utf-8")
    with pytest.raises(ContentError, match=r"Spanish \(es\).*choice.colour.blue"):
        load_question_set(content, None)
    po.unlink()
    with pytest.raises(ContentError, match="tiny-set.es.po is missing"):
        load_question_set(content, None)


def test_uk_english_without_a_translation_reads_the_us_source_without_a_note(
    untranslated_default, client, patient
):
    client.force_login(patient)
    patient.preferred_language = "en-gb"
    patient.save(update_fields=["preferred_language"])
    screening = start_screening(patient=patient)
    page = client.get(f"/screenings/{screening.pk}/page/about_you/").content.decode()
    question = questionnaire_for(untranslated_default).questions_by_code["sex_at_birth"]
    assert escape(question.text) in page
    assert '<span lang="en-US">' not in page and "english-wording-note" not in page


def test_an_admin_chooses_the_languages_a_draft_offers(draft, client, clinic_admin):
    log_in_staff(client, clinic_admin)
    response = client.post(
        f"{VERSIONS}/{draft.pk}/change/",
        {
            "question_set": draft.question_set_id,
            "number": draft.number,
            "notes": draft.notes,
            "languages": ["es", "en-gb"],
            "sections-TOTAL_FORMS": "0",
            "sections-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    draft.refresh_from_db()
    assert draft.languages == ["es", "en-gb"]
    with pytest.raises(PublishRefused) as refused:
        publish_version(version=draft, actor=clinic_admin, ip_address=None)
    assert any("UK English (en-gb)" in reason for reason in refused.value.reasons)


def test_a_fuzzy_po_entry_counts_as_missing(draft):
    translate_all(draft)
    po = to_po(draft, "es").replace(
        'msgctxt "question.sex_at_birth.text"', '#, fuzzy\nmsgctxt "question.sex_at_birth.text"'
    )
    save_translations(
        version=draft, language="es", entries=entries_from_po(po), actor=None, ip_address=None
    )
    assert language_gaps(draft, "es").missing == ["question.sex_at_birth.text"]


# What a file or a text box must not bring in ------------------------------------------------


def windows_1252_read_as_utf8(text: str) -> str:
    """What a browser reads from a spreadsheet's "CSV" (Windows-1252) file as UTF-8."""
    return text.encode("cp1252").decode("utf-8", errors="replace")


def test_a_file_not_saved_as_utf8_is_refused_beside_the_box(draft, client, clinic_admin):
    source = translatable_texts_for(draft)["question.sex_at_birth.text"]
    csv_text = windows_1252_read_as_utf8(
        "key,source,translation,no_official_translation\n"
        f'question.sex_at_birth.text,"{source}",¿Cuál fue su sexo al nacer?,\n'
    )
    assert "\ufffd" in csv_text
    with pytest.raises(UnreadableFile, match="not UTF-8"):
        read_translation_file(csv_text, "csv")
    log_in_staff(client, clinic_admin)
    response = client.post(
        f"{VERSIONS}/{draft.pk}/translations/es/upload/",
        {"file_format": "csv", "content": csv_text},
    )
    assert response.status_code == 200
    assert "This file is not UTF-8: save it as &#x27;CSV UTF-8&#x27;" in response.content.decode()
    assert not ContentTranslation.objects.filter(version=draft).exists()


def test_a_typed_translation_with_a_replacement_character_is_refused(draft):
    key = "question.sex_at_birth.text"
    with pytest.raises(TranslationsRefused) as refused:
        save_translations(
            version=draft,
            language="es",
            entries=[TranslationEntry(key, translatable_texts_for(draft)[key], "\ufffdCu\ufffdl?")],
            actor=None,
            ip_address=None,
        )
    assert key in " ".join(refused.value.problems)
    assert "UTF-8" in " ".join(refused.value.problems)


def test_a_po_file_in_another_language_is_refused(draft, clinic_admin, client):
    other = make_draft(source=draft, actor=clinic_admin, ip_address=None)
    translate_all(other)
    spanish = to_po(other, "es")
    assert '"Language: es\\n"' in spanish
    with pytest.raises(UnreadableFile, match="not into"):
        read_translation_file(spanish, "po", "en-gb")
    log_in_staff(client, clinic_admin)
    response = client.post(
        f"{VERSIONS}/{draft.pk}/translations/en-gb/upload/",
        {"file_format": "po", "content": spanish},
    )
    assert response.status_code == 200
    assert "This PO file is a translation into &#x27;es&#x27;" in response.content.decode()
    assert not ContentTranslation.objects.filter(version=draft).exists()
    # en_GB, en-GB and en-gb name one language; a file without the header is taken as it is.
    for header in ('"Language: en_GB\\n"', '"Language: en-GB\\n"', ""):
        text = spanish.replace('"Language: es\\n"', header)
        assert read_translation_file(text, "po", "en-gb")


@pytest.mark.parametrize("start", ["- ", "=", "+", "@", "'="])
def test_a_csv_cell_starting_like_a_formula_is_escaped_and_loads_back_exactly(draft, start):
    translate_all(draft, no_official=is_phq9)
    key = "section.about_you.title"
    text = f"{start}Sobre usted\n- dos"
    save_translations(
        version=draft,
        language="es",
        entries=[TranslationEntry(key, translatable_texts_for(draft)[key], text)],
        actor=None,
        ip_address=None,
    )
    before = stored(draft)
    exported = to_csv(draft, "es")
    row = next(row for row in exported.splitlines() if row.startswith(key))
    assert f"'{start}Sobre usted" in row  # a spreadsheet shows it, does not run it
    ContentTranslation.objects.filter(version=draft).delete()
    save_translations(
        version=draft,
        language="es",
        entries=entries_from_csv(exported),
        actor=None,
        ip_address=None,
    )
    assert stored(draft) == before
    assert to_csv(draft, "es") == exported


@pytest.mark.parametrize(
    "character", ["\x07", "\x1b", "\x85", "\u202e", "\u2066", "\u2069"], ids=repr
)
def test_invisible_control_characters_are_refused_naming_the_key(draft, character):
    key = "section.about_you.title"
    with pytest.raises(TranslationsRefused) as refused:
        save_translations(
            version=draft,
            language="es",
            entries=[
                TranslationEntry(key, translatable_texts_for(draft)[key], f"Sobre {character}usted")
            ],
            actor=None,
            ip_address=None,
        )
    assert key in " ".join(refused.value.problems)
    assert "invisible" in " ".join(refused.value.problems)


def test_new_lines_and_tabs_are_kept(draft):
    key = "section.about_you.title"
    save_translations(
        version=draft,
        language="es",
        entries=[TranslationEntry(key, translatable_texts_for(draft)[key], "Uno\r\ndos\tres")],
        actor=None,
        ip_address=None,
    )
    assert ContentTranslation.objects.get(version=draft, key=key).text == "Uno\ndos\tres"


def test_saving_translations_does_not_change_the_languages_a_draft_offers(
    draft, client, clinic_admin
):
    """An admin turned Spanish off for this draft: translating a part keeps it off."""
    assert draft.languages == []
    log_in_staff(client, clinic_admin)
    url = f"{VERSIONS}/{draft.pk}/translations/es/?part=about_you"
    digest = client.get(url).content.decode().split('name="sources" value="')[1].split('"')[0]
    response = client.post(
        url, {"sources": digest, "text:question.sex_at_birth.text": "¿Cuál fue su sexo al nacer?"}
    )
    assert response.status_code == 302
    assert ContentTranslation.objects.filter(version=draft, language="es").exists()
    draft.refresh_from_db()
    assert draft.languages == []
    other = make_draft(source=draft, actor=clinic_admin, ip_address=None)
    other.languages = ["en-gb"]
    other.save(update_fields=["languages"])
    translate_all(draft)
    client.post(
        f"{VERSIONS}/{other.pk}/translations/es/upload/",
        {"file_format": "po", "content": to_po(draft, "es")},
    )
    other.refresh_from_db()
    assert other.languages == ["en-gb"]
    assert language_gaps(other, "es").complete
