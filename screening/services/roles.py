"""The staff groups and what each may do; created on migrate and safe to run again."""

from django.contrib.auth.models import Group, Permission

from ..models import NURSE_GROUP, PHYSICIAN_GROUP

CONTENT_MODELS = (
    "section",
    "question",
    "choice",
    "rule",
    "scoredefinition",
    "panelcase",
    "drug",
    "drugclass",
)


SESSION_PERMISSIONS = (
    "screening.view_treatmentsession",
    "screening.view_treatmentcourse",
    # Front desk work in most clinics: nurses schedule as well as physicians.
    "screening.schedule_session",
    "screening.record_vitals",
)

ROLE_PERMISSIONS = {
    PHYSICIAN_GROUP: [
        "screening.add_invitation",
        "screening.view_invitation",
        "screening.review_screening",
        "screening.decide_screening",
        # Treatment sessions: the board, courses, scheduling, and the in-clinic record.
        *SESSION_PERMISSIONS,
    ],
    # Nurses run treatment days: the sessions board and each session's page (readiness,
    # vitals, dose, discharge, the check-in's flags as title, severity and what to do). They
    # never read a screening's answers (no review_screening): docs/sessions.md.
    NURSE_GROUP: [*SESSION_PERMISSIONS],
    # Clinic admins edit the clinical content in the admin (drafts only, enforced there).
    # They do not read patients' screenings; they read the audit log.
    "Clinic admin": [
        "screening.add_invitation",
        "screening.view_invitation",
        "screening.view_auditevent",
        # Issue and revoke FHIR API tokens that read question sets only; a token that reads
        # screenings needs screening.issue_screening_token, which no group has.
        "screening.view_apitoken",
        "screening.add_apitoken",
        # Emails the worker could not deliver (an invitation, say), to act on.
        "screening.view_undeliveredemail",
        # Remove a colleague's lost authenticator so they can set up a new one at next login.
        "otp_totp.view_totpdevice",
        "otp_totp.delete_totpdevice",
        *(
            f"screening.{action}_{model}"
            for model in ("questionset", "questionsetversion")
            for action in ("view", "add", "change")
        ),
        *(
            f"screening.{action}_{model}"
            for model in CONTENT_MODELS
            for action in ("view", "add", "change", "delete")
        ),
    ],
}


def ensure_roles() -> None:
    """Create the staff groups with their permissions; safe to run again."""
    for group_name, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        permissions = []
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            permissions.extend(
                Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(permissions)
