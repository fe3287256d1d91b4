"""The check-in a patient answers before each treatment session (issue 14, item 2).

A check-in is a Screening with purpose "check_in" on the published check-in question set,
linked one-to-one to its session (TreatmentSession.check_in). It is answered with the
intake's wizard and submitted with the intake's submit (screening/services/intake.py),
which evaluates it together with the patient's baseline intake, never puts it in the
physician's intake queue and alerts physicians only when it raises an urgent flag.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from ..models import Screening, SetAsideCheckIn, TreatmentCourse, TreatmentSession
from ..selectors import CHECK_IN_QUESTION_SET, current_version, session_of_check_in


class CheckInClosed(Exception):
    """The session has already taken place, was canceled, or moved to another day: there
    is nothing left to check in for (the message, when there is one, says which)."""


def why_closed(check_in: Screening) -> str | None:
    """None while the patient may answer and send this check-in; otherwise the words telling
    them why not: its session was canceled (or its course ended), or it was set aside when
    the session moved to another day. No query for a check-in read with
    selectors.patient_screening() and still its session's."""
    if check_in.purpose != Screening.Purpose.CHECK_IN:
        return None
    session = session_of_check_in(check_in)
    if session is None:
        if SetAsideCheckIn.objects.filter(check_in=check_in).exists():
            return gettext(
                "Your session moved to another day, so this check-in is closed. Please answer "
                "the check-in for the new day when it opens."
            )
        return None
    if session.cancelled_at is not None or session.course.ended_at is not None:
        return gettext("This session has been canceled.")
    return None


def refuse_if_closed(check_in: Screening) -> None:
    """Raise CheckInClosed (with the words why) for a check-in no longer answered."""
    why = why_closed(check_in)
    if why is not None:
        raise CheckInClosed(why)


def open_check_in(*, session: TreatmentSession) -> Screening:
    """The session's check-in, created on the published check-in version the first time.

    Idempotent and race-safe: the session's row is locked while its check-in is looked up
    and created, so two tabs (or the invitation and the home page at once) get one
    check-in. Raises CheckInClosed for a session in the past with no check-in, and
    NoPublishedQuestionSet when the clinic has not published a check-in.
    """
    with transaction.atomic():
        # The session's row alone (PostgreSQL locks no outer-joined row: check_in may be null).
        locked = TreatmentSession.objects.select_for_update().get(pk=session.pk)
        if locked.check_in_id is not None:
            session.check_in = Screening.objects.get(pk=locked.check_in_id)
            return session.check_in
        if locked.scheduled_for <= timezone.now():
            raise CheckInClosed
        check_in = Screening.objects.create(
            patient_id=TreatmentCourse.objects.get(pk=locked.course_id).patient_id,
            version=current_version(CHECK_IN_QUESTION_SET),
            purpose=Screening.Purpose.CHECK_IN,
        )
        TreatmentSession.objects.filter(pk=locked.pk).update(check_in=check_in)
        session.check_in = check_in
        return check_in
