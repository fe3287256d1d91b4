"""{% same_in_every_request %}: fixed markup drawn once per language and reused; anything
that reads a request's context is refused when the template loads."""

import re

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.utils import translation

LOAD = "{% load i18n static screening_tags %}"


def _render(source: str, **context: object) -> str:
    return Template(LOAD + source).render(Context(context))


def test_fixed_markup_is_drawn_as_it_would_be_without_the_tag():
    inside = (
        '<a href="{% url \'login\' %}">{% translate "Log out" %}</a>'
        "<link href=\"{% static 'screening/app.css' %}\">"
        "{% blocktranslate trimmed %}Stay signed in{% endblocktranslate %}"
        "{% comment %}not shown{% endcomment %}"
    )
    assert _render("{% same_in_every_request %}" + inside + "{% end_same_in_every_request %}") == (
        _render(inside)
    )


def test_each_language_gets_its_own_markup():
    template = Template(
        LOAD + '{% same_in_every_request %}{% translate "Log out" %}{% end_same_in_every_request %}'
    )
    drawn = {}
    for language in ("en", "es", "en", "es"):
        with translation.override(language):
            drawn.setdefault(language, set()).add(template.render(Context()))
    assert drawn["en"] == {"Log out"}
    assert len(drawn["es"]) == 1 and drawn["es"] != drawn["en"]


def test_the_markup_is_reused_not_drawn_again(settings):
    template = Template(
        LOAD + '{% same_in_every_request %}{% translate "Log out" %}{% end_same_in_every_request %}'
    )
    [node] = [n for n in template.nodelist if type(n).__name__ == "SameInEveryRequestNode"]
    template.render(Context())
    node.nodelist = Template("changed").nodelist
    assert template.render(Context()) == "Log out"
    # A changed setting (as tests make) forgets what was drawn.
    settings.STATIC_URL = "/elsewhere/"
    assert template.render(Context()) == "changed"


@pytest.mark.parametrize(
    "inside",
    [
        "{{ user.full_name }}",
        "{% csrf_token %}",
        "{% if user.is_authenticated %}x{% endif %}",
        '{% translate "Hello" as greeting %}',
        "{% translate greeting %}",
        '{% translate "Hello"|upper %}',
        "{% blocktranslate %}Hello {{ name }}{% endblocktranslate %}",
        "{% blocktranslate with name=user.full_name %}Hello {{ name }}{% endblocktranslate %}",
        "{% blocktranslate count counter=3 %}one{% plural %}many{% endblocktranslate %}",
        "{% url 'staff:screening' screening.pk %}",
        "{% url view_name %}",
        "{% static path %}",
        "{% static 'screening/app.css' as css %}",
        "{% include 'base.html' %}",
    ],
)
def test_anything_that_reads_the_request_is_refused_when_the_template_loads(inside):
    with pytest.raises(TemplateSyntaxError, match="only fixed markup"):
        Template(LOAD + "{% same_in_every_request %}" + inside + "{% end_same_in_every_request %}")


def test_the_language_options_select_the_active_language_in_each_language():
    template = Template(
        LOAD + "{% same_in_every_request %}{% language_options %}{% end_same_in_every_request %}"
    )
    for language, selected in (("es", "es"), ("en-us", "en-us"), ("es", "es")):
        with translation.override(language):
            drawn = template.render(Context())
        assert drawn.count(" selected") == 1
        assert f'<option value="{selected}" lang="{selected}" selected>' in drawn


def test_the_staff_tabs_are_each_staff_members_own_though_drawn_once(
    client, physician, clinic_admin, default_version
):
    """The tabs are reused between staff members with the same permissions; one with other
    permissions sees their own tabs, never another's."""
    from tests.logins import log_in_staff

    tabs = {}
    for user in (physician, clinic_admin, physician):
        client.logout()
        log_in_staff(client, user)
        page = client.get("/staff/audit/" if user == clinic_admin else "/staff/queue/")
        tabs.setdefault(user.email, set()).add(
            re.search(r'<ul class="nav nav-tabs">(.*?)</ul>', page.content.decode(), re.S).group(1)
        )
    assert len(tabs[physician.email]) == 1
    [physician_tabs] = tabs[physician.email]
    [admin_tabs] = tabs[clinic_admin.email]
    assert "Review queue" in physician_tabs and "Audit log" not in physician_tabs
    assert "Audit log" in admin_tabs and "Review queue" not in admin_tabs
