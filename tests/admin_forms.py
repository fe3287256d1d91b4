"""What a clinic admin posts in the Django admin: a draft made from the versions list, and a
rule's change form as the page fills it in (tests change only the fields they are about)."""

import json

from django.test import Client

from screening.models import QuestionSetVersion, Rule

VERSIONS = "/admin/screening/questionsetversion/"


def draft_made_in_admin(client: Client, published: QuestionSetVersion) -> QuestionSetVersion:
    """The "Make a draft copy" action on `published`, by the admin signed in on `client`."""
    response = client.post(
        VERSIONS, {"action": "make_draft_copy", "_selected_action": [str(published.pk)]}
    )
    assert response.status_code == 302
    return QuestionSetVersion.objects.get(status=QuestionSetVersion.Status.DRAFT)


def rule_form_data(rule: Rule, **changes: object) -> dict:
    """The rule's change form with every field as stored, then `changes`."""
    data = {
        "version": rule.version_id,
        "position": rule.position,
        "code": rule.code,
        "title": rule.title,
        "severity": rule.severity,
        "when": rule.when,
        "message": rule.message,
        "rationale": rule.rationale,
        "source": rule.source,
        "patient_message": rule.patient_message,
        "superseded_by": json.dumps(rule.superseded_by),
        "active": "on" if rule.active else "",
    }
    return {**data, **changes}
