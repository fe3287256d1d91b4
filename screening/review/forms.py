"""Forms of the physician's pages: queue filters (allow-listed), acknowledgements, decisions."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail.message import sanitize_address
from django.core.validators import validate_email
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..engine.severity import Severity
from ..language_names import name_in_english
from ..models import Decision, Screening
from ..presenters import SEVERITY_WORDS

URGENT_RANK = Severity.URGENT.rank


def _severity_word(severity: Severity) -> str:
    """The severity's word, translated when shown (marked in presenters.SEVERITY_WORDS)."""
    return _(SEVERITY_WORDS[severity])


QUEUE_STATUSES = [
    ("submitted", _("Awaiting review")),
    ("waiting_for_patient", _("Waiting for patient")),
    ("decided", _("Decided")),
    ("all", _("Submitted, waiting or decided")),
]
SENT_IN = [
    Screening.Status.SUBMITTED,
    Screening.Status.WAITING_FOR_PATIENT,
    Screening.Status.DECIDED,
]
LEVEL_FILTERS = [
    ("", _("Any level")),
    *((severity.value, _severity_word(severity)) for severity in Severity),
    ("none", _("Nothing flagged")),
]


class QueueFilterForm(forms.Form):
    """Every value comes from an allow-list or is parsed; a value that is neither falls back
    to its default, with its message beside its box, and the other filters still apply."""

    status = forms.ChoiceField(choices=QUEUE_STATUSES, required=False)
    level = forms.ChoiceField(choices=LEVEL_FILTERS, required=False)
    submitted_from = forms.DateField(
        required=False, label=_("Submitted from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    submitted_to = forms.DateField(
        required=False, label=_("Submitted to"), widget=forms.DateInput(attrs={"type": "date"})
    )
    q = forms.CharField(required=False, max_length=100, label=_("Patient name or email"))

    def chosen(self) -> dict:
        """The filters that passed their checks (Django keeps those in cleaned_data when
        another fails); none when the form was sent empty."""
        if not self.is_bound:
            return {}
        self.is_valid()  # cleans every field; those that fail are left out of cleaned_data
        return self.cleaned_data

    def filter(self, queryset):
        data = self.chosen()
        status = data.get("status") or "submitted"
        if status == "all":
            queryset = queryset.filter(status__in=SENT_IN)
        elif status == "submitted":
            # Urgent screenings sent back to the patient stay in sight, at the top, until
            # the patient answers: someone must follow up a patient who never does.
            queryset = queryset.filter(
                Q(status=Screening.Status.SUBMITTED)
                | Q(status=Screening.Status.WAITING_FOR_PATIENT, level_rank=URGENT_RANK)
            )
        else:
            queryset = queryset.filter(status=status)
        level = data.get("level")
        if level == "none":
            queryset = queryset.filter(level="")
        elif level:
            queryset = queryset.filter(level=level)
        if data.get("submitted_from"):
            queryset = queryset.filter(submitted_at__date__gte=data["submitted_from"])
        if data.get("submitted_to"):
            queryset = queryset.filter(submitted_at__date__lte=data["submitted_to"])
        if data.get("q"):
            term = data["q"].strip()
            queryset = queryset.filter(
                Q(patient__full_name__icontains=term) | Q(patient__email__icontains=term)
            )
        return queryset


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=_("Note (optional)"),
    )
    lock_version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=Decision.Outcome.choices, widget=forms.RadioSelect, label=_("Decision")
    )
    conditions = forms.CharField(
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when clearing with conditions."),
    )
    reason = forms.CharField(
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when the patient is not a candidate."),
    )
    message_to_patient = forms.CharField(
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=_("Message to the patient"),
        help_text=_(
            "The patient reads this on their home page (they are emailed only that there is "
            "news). Required when asking for more information: the questionnaire reopens for "
            "them. The conditions and the reason are not shown to the patient."
        ),
    )
    override_reason = forms.CharField(
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=_("Override reason"),
        help_text=_("Required to clear a screening that has a contraindication."),
    )
    lock_version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def __init__(self, *args, has_contraindication: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.has_contraindication = has_contraindication
        if not has_contraindication:
            # Only a contraindication can be overridden; don't offer a box that means nothing.
            del self.fields["override_reason"]

    def clean(self):
        cleaned = super().clean()
        outcome = cleaned.get("outcome")
        required = {
            Decision.Outcome.CLEARED_WITH_CONDITIONS: (
                "conditions",
                gettext("Write the conditions."),
            ),
            Decision.Outcome.NOT_A_CANDIDATE: ("reason", gettext("Write the reason.")),
            Decision.Outcome.MORE_INFORMATION_NEEDED: (
                "message_to_patient",
                gettext("Write what the patient should add or correct."),
            ),
        }
        if outcome in required:
            field, message = required[outcome]
            if not (cleaned.get(field) or "").strip():
                self.add_error(field, message)
        clearing = outcome in (Decision.Outcome.CLEARED, Decision.Outcome.CLEARED_WITH_CONDITIONS)
        if (
            clearing
            and self.has_contraindication
            and not (cleaned.get("override_reason") or "").strip()
        ):
            self.add_error(
                "override_reason",
                gettext("This screening has a contraindication: explain why you clear it anyway."),
            )
        return cleaned


class InvitationForm(forms.Form):
    full_name = forms.CharField(label=_("Patient's full name"), max_length=200)
    email = forms.EmailField(label=_("Patient's email address"), max_length=254)
    # The invitation email is written in it, and the patient's account starts in it (they
    # can change it on any page). Not required: a form sent without it means the clinic's.
    language = forms.ChoiceField(
        label=_("Language"),
        # Named in English for staff ("Spanish", not "Español").
        choices=[(code, name_in_english(code)) for code, _name in settings.LANGUAGES],
        initial=settings.LANGUAGE_CODE,
        required=False,
        help_text=_("The language of the invitation email and of the patient's pages."),
    )

    def clean_language(self) -> str:
        return self.cleaned_data["language"] or settings.LANGUAGE_CODE

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        # Django's validator accepts some internationalised domains that mail cannot encode
        # (an empty label, U+FFFD, a label over 63 letters): sending would fail after the
        # invitation was saved. Refuse them here, where the error can be shown.
        try:
            validate_email(sanitize_address(email, "utf-8"))
        except (UnicodeError, ValueError, ValidationError):
            raise ValidationError(
                gettext("Mail cannot be sent to this address. Please check it for typing errors.")
            ) from None
        return email


class RescreeningForm(forms.Form):
    """Ask a cleared patient to repeat the full intake. Prefixed: the decision form beside
    it has a "reason" of its own."""

    prefix = "rescreen"

    reason = forms.CharField(
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=_("Why should the patient be screened again?"),
        help_text=_(
            "Your note for the clinical team, kept with the request. The patient is not shown "
            "it: they are told only that their doctor asks them to answer the questionnaire again."
        ),
        error_messages={"required": _("Please say why the patient should be screened again.")},
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(gettext("Please say why the patient should be screened again."))
        return reason
