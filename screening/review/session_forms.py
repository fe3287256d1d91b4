"""Forms of the treatment-session pages: start a course, schedule a session, and the nurse's
in-clinic record (vitals, dose time, discharge). Each field says beside it what is wrong, and a
form sent back shows everything as it was typed."""

import datetime
from decimal import Decimal, InvalidOperation

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..answer_fields import BloodPressureField
from ..models import Decision, TreatmentCourse, User, VitalReading
from ..reason_text import check_reason
from ..services.sessions import DOSE_TIME_MAX_AGE

# Plausible in-clinic ranges, so a slip of the finger ("1200") is caught at the box. Heart
# rate and weight as the intake's questions (content/ketamine_default.yaml); oxygen
# saturation as a percentage.
HEART_RATE_RANGE = (30, 220)
SPO2_RANGE = (50, 100)
WEIGHT_KG_RANGE = (25, 350)


class StaffBloodPressureField(BloodPressureField):
    """The intake's blood pressure boxes ("150/95" or "150 over 95" in one box works too),
    with the empty-box message in a nurse's words."""

    def clean(self, value: object) -> dict | None:
        value = value or {}
        if self.required and not any(str(v).strip() for v in dict(value).values()):
            raise ValidationError(
                gettext("Enter the blood pressure: top number and bottom number.")
            )
        return super().clean(value)


def _whole_in_range(text: str, low: int, high: int, what: str) -> int:
    text = (text or "").strip()
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise ValidationError(
            gettext("%(what)s must be a whole number between %(low)s and %(high)s.")
            % {"what": what, "low": low, "high": high}
        )
    return int(text)


def cleared_patients() -> QuerySet[User]:
    """Patients with a clearing decision on an intake and no course in progress (the service
    checks again that the latest decision is the clearance)."""
    return (
        User.objects.filter(
            screenings__purpose="intake",
            screenings__decisions__outcome__in=[
                Decision.Outcome.CLEARED,
                Decision.Outcome.CLEARED_WITH_CONDITIONS,
            ],
        )
        .exclude(
            Exists(TreatmentCourse.objects.filter(patient=OuterRef("pk"), ended_at__isnull=True))
        )
        .distinct()
        .order_by("full_name", "email")
    )


class PatientChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return f"{obj.full_name} ({obj.email})"


class StartCourseForm(forms.Form):
    patient = PatientChoiceField(
        queryset=User.objects.none(),
        label=_("Patient"),
        help_text=_(
            "Patients whose screening a physician has cleared, without a course in progress."
        ),
        error_messages={
            "required": _("Choose the patient."),
            "invalid_choice": _("Choose a patient from the list: that one cannot start a course."),
        },
    )
    product = forms.ChoiceField(
        choices=TreatmentCourse.Product.choices,
        widget=forms.RadioSelect,
        label=_("Product and route"),
        error_messages={"required": _("Choose the product and route.")},
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["patient"].queryset = cleared_patients()


class ScheduleForm(forms.Form):
    date = forms.DateField(
        label=_("Date"),
        widget=forms.DateInput(attrs={"type": "date"}),
        input_formats=["%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"],
        error_messages={
            "required": _("Enter the date of the session."),
            "invalid": _("Enter a real date, for example 2026-12-03."),
        },
    )
    time = forms.TimeField(
        label=_("Time"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        input_formats=["%H:%M", "%H.%M", "%H:%M:%S"],
        error_messages={
            "required": _("Enter the time of the session."),
            "invalid": _("Enter the time as hours and minutes, for example 09:30."),
        },
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("date") and data.get("time"):
            when = timezone.make_aware(datetime.datetime.combine(data["date"], data["time"]))
            if when <= timezone.now():
                self.add_error(
                    "time", gettext("That time has already passed: choose a time in the future.")
                )
            data["scheduled_for"] = when
        return data


def post_dose_choices() -> list[tuple[str, str]]:
    return [
        *(
            (str(m), gettext("%(minutes)s minutes after the dose") % {"minutes": m})
            for m in settings.POST_DOSE_READING_MINUTES
        ),
        ("", gettext("An extra reading")),
    ]


class VitalsForm(forms.Form):
    """One set of vital signs, before or after the dose (``timing``), or a correction of an
    earlier reading (``corrects``, with the reason)."""

    blood_pressure = StaffBloodPressureField(label=_("Blood pressure (mmHg)"))
    heart_rate = forms.CharField(
        label=_("Heart rate (beats per minute)"),
        max_length=10,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        error_messages={"required": _("Enter the heart rate.")},
    )
    spo2 = forms.CharField(
        label=_("Oxygen saturation, SpO2 (%, optional)"),
        required=False,
        max_length=10,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    weight_kg = forms.CharField(
        label=_("Weight (kg, optional)"),
        required=False,
        max_length=10,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    planned_minutes = forms.ChoiceField(label=_("Which reading"), required=False, choices=())
    corrects = forms.ChoiceField(
        label=_("Corrects an earlier reading (optional)"), required=False, choices=()
    )
    correction_reason = forms.CharField(
        label=_("Why it is corrected"), required=False, max_length=500
    )

    def __init__(
        self,
        *args: object,
        timing: str,
        correctable: list[VitalReading] = (),
        **kwargs: object,
    ) -> None:
        kwargs.setdefault("prefix", timing)
        super().__init__(*args, **kwargs)
        self.timing = timing
        self.correctable = {str(r.pk): r for r in correctable}
        self.fields["corrects"].choices = [
            ("", gettext("No: a new reading")),
            *(
                (
                    key,
                    gettext("%(systolic)s/%(diastolic)s, HR %(heart_rate)s, at %(time)s")
                    % {
                        "systolic": r.systolic,
                        "diastolic": r.diastolic,
                        "heart_rate": r.heart_rate,
                        "time": f"{timezone.localtime(r.recorded_at):%H:%M}",
                    },
                )
                for key, r in self.correctable.items()
            ),
        ]
        if timing == VitalReading.Timing.POST_DOSE:
            self.fields["planned_minutes"].choices = post_dose_choices()
            self.fields["planned_minutes"].initial = self.next_planned(correctable)
            del self.fields["weight_kg"]  # weighed before the dose, not after
        else:
            del self.fields["planned_minutes"]
        if not self.correctable:
            del self.fields["corrects"]
            del self.fields["correction_reason"]

    @staticmethod
    def next_planned(done: list[VitalReading]) -> str:
        """The first planned post-dose reading not yet recorded, offered first."""
        taken = {r.planned_minutes for r in done}
        for minutes in settings.POST_DOSE_READING_MINUTES:
            if minutes not in taken:
                return str(minutes)
        return ""

    def clean_heart_rate(self) -> int:
        return _whole_in_range(
            self.cleaned_data["heart_rate"], *HEART_RATE_RANGE, gettext("Heart rate")
        )

    def clean_spo2(self) -> int | None:
        text = self.cleaned_data.get("spo2", "").strip().removesuffix("%").strip()
        return _whole_in_range(text, *SPO2_RANGE, gettext("Oxygen saturation")) if text else None

    def clean_weight_kg(self) -> Decimal | None:
        text = self.cleaned_data.get("weight_kg", "").strip().lower().removesuffix("kg").strip()
        if not text:
            return None
        low, high = WEIGHT_KG_RANGE
        try:
            value = Decimal(text.replace(",", "."))
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite() or not low <= value <= high:
            raise ValidationError(
                gettext("Weight must be a number of kilograms between %(low)s and %(high)s.")
                % {"low": low, "high": high}
            )
        return value.quantize(Decimal("0.1"))

    def clean_planned_minutes(self) -> int | None:
        value = self.cleaned_data.get("planned_minutes")
        return int(value) if value else None

    def clean(self) -> dict:
        data = super().clean()
        corrects = data.get("corrects")
        data["supersedes"] = self.correctable.get(corrects) if corrects else None
        if data["supersedes"] is not None and "correction_reason" in data:
            try:
                data["correction_reason"] = check_reason(
                    data["correction_reason"],
                    gettext("Say why the earlier reading is corrected."),
                )
            except ValidationError as error:
                self.add_error("correction_reason", error)
        return data


class DoseForm(forms.Form):
    given_at = forms.TimeField(
        label=_("Dose given at"),
        # A text box, not type="time": browsers draw that in the device's 12-hour clock
        # ("02:26 AM") where every page writes 24-hour times.
        widget=forms.TimeInput(
            attrs={"autocomplete": "off", "size": "5", "maxlength": "8"}, format="%H:%M"
        ),
        input_formats=["%H:%M", "%H.%M", "%H:%M:%S"],
        error_messages={
            "required": _("Enter the time the dose was given."),
            "invalid": _("Enter the time as hours and minutes, for example 10:15."),
        },
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("prefix", "dose")
        super().__init__(*args, **kwargs)

    def clean_given_at(self) -> datetime.datetime:
        now = timezone.now()
        when = timezone.make_aware(
            datetime.datetime.combine(timezone.localdate(), self.cleaned_data["given_at"])
        )
        yesterday = when - datetime.timedelta(days=1)
        if when > now + datetime.timedelta(minutes=1) and yesterday >= now - DOSE_TIME_MAX_AGE:
            # Given before midnight, recorded after it: the time is yesterday's.
            when = yesterday
        if when > now + datetime.timedelta(minutes=1):
            raise ValidationError(
                gettext("That time is later than now: record the dose once it is given.")
            )
        return when


class DischargeForm(forms.Form):
    alert_and_oriented = forms.BooleanField(required=False, label=_("Alert and oriented"))
    walks_unaided = forms.BooleanField(required=False, label=_("Walks unaided"))
    escort_present = forms.BooleanField(
        required=False, label=_("Escort present to take the patient home (no driving today)")
    )
    note = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), label=_("Note")
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("prefix", "discharge")
        super().__init__(*args, **kwargs)


class BloodPressureReviewForm(forms.Form):
    note = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 1}), label=_("Note")
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("prefix", "review")
        super().__init__(*args, **kwargs)


class CancelSessionForm(forms.Form):
    reason = forms.CharField(
        label=_("Why the session is canceled"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 1}),
        error_messages={"required": _("Say why the session is canceled.")},
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("prefix", "cancel")
        super().__init__(*args, **kwargs)

    def clean_reason(self) -> str:
        return check_reason(
            self.cleaned_data["reason"], gettext("Say why the session is canceled.")
        )


class RescheduleForm(ScheduleForm):
    """The booking form, to move a session to another date and time."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("prefix", "move")
        super().__init__(*args, **kwargs)
        self.fields["date"].label = gettext("New date")
        self.fields["time"].label = gettext("New time")


class EndCourseForm(forms.Form):
    reason = forms.CharField(
        label=_("Why the course ends"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Say why the course ends.")},
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("prefix", "end")
        super().__init__(*args, **kwargs)

    def clean_reason(self) -> str:
        return check_reason(self.cleaned_data["reason"], gettext("Say why the course ends."))
