"""Drafts of wizard pages: what a patient typed and had not saved when their session ended.

When the idle limit comes on a wizard page, the page's script posts its form here just
before it; when a patient presses Save after the limit has passed (no JavaScript, or a
computer that slept), the session middleware keeps the post here before signing them out.
Either way the values are stored raw, unchecked, against the screening and the page, and
never touch the answers: the page is drawn from the draft the next time its patient opens
it, and only Save makes answers of it (which removes the draft: the saved answers
supersede it). Nothing here is ever in a URL, the browser's storage, the logs or the admin.
"""

from __future__ import annotations

from django.db import transaction
from django.http import QueryDict
from django.utils import timezone

from ..models import PageDraft, Screening

# Form fields that are never part of what the patient typed.
NOT_TYPED = frozenset({"csrfmiddlewaretoken"})
# A wizard page has at most a few hundred fields (the request's own limit is 500 fields,
# DATA_UPLOAD_MAX_NUMBER_FIELDS); anything past these is not a page's form.
MAX_NAMES = 500
MAX_VALUES_PER_NAME = 100
MAX_NAME_LENGTH = 200


def _clean(text: str) -> str:
    # PostgreSQL's JSON cannot hold NUL; a NUL never belongs in an answer either.
    return text.replace("\x00", "")


def draft_values(data: QueryDict) -> dict[str, list[str]]:
    """The post's fields as stored: names to lists of values, the CSRF token left out."""
    values: dict[str, list[str]] = {}
    for name in data:
        if name in NOT_TYPED or len(name) > MAX_NAME_LENGTH or len(values) >= MAX_NAMES:
            continue
        values[_clean(name)] = [_clean(str(v)) for v in data.getlist(name)[:MAX_VALUES_PER_NAME]]
    return values


@transaction.atomic
def keep_draft(
    *, screening: Screening, section_code: str, data: QueryDict, source: str
) -> PageDraft | None:
    """Keep `data` as the draft of the page `section_code`, replacing an older one.

    The caller has checked that the screening is the signed-in patient's and the page is
    one of its version's. Nothing is kept for a submitted screening (its answers can no
    longer change) or for a post with nothing in it.
    """
    values = draft_values(data)
    if (
        not values
        or not Screening.objects.filter(
            pk=screening.pk, status__in=Screening.EDITABLE_STATUSES
        ).exists()
    ):
        return None
    draft, _ = PageDraft.objects.update_or_create(
        screening=screening,
        section_code=section_code,
        defaults={"values": values, "source": source, "kept_at": timezone.now()},
    )
    return draft


def draft_data(draft: PageDraft) -> QueryDict:
    """A draft's values as the QueryDict a post of them would give."""
    data = QueryDict(mutable=True)
    for name, values in draft.values.items():
        if isinstance(name, str) and isinstance(values, list):
            data.setlist(name, [str(value) for value in values])
    return data


def discard_drafts(*, screening: Screening, section_code: str | None = None) -> None:
    """Remove the page's draft (or every draft of the screening) once saved answers
    supersede it: pressing Save on the page, or submitting the screening."""
    drafts = PageDraft.objects.filter(screening=screening)
    if section_code is not None:
        drafts = drafts.filter(section_code=section_code)
    drafts.delete()
