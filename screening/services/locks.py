"""The lock every content write takes: a version's row, refused unless the version is a draft.

Its own module so that every service writing content (screening/services/content.py,
screening/services/translations.py) can take it without importing the other.
"""

import uuid

from django.utils.translation import gettext

from ..models import QuestionSetVersion


class VersionNotEditable(Exception):
    """The version is published or retired: its content can no longer change."""


def lock_for_editing(*version_ids: uuid.UUID) -> list[QuestionSetVersion]:
    """Lock these versions until the current transaction ends; refuse any that is not a draft.

    Call it inside the transaction that writes the content (the admin's add, change and
    delete views each run in one). Rows are locked in primary-key order, so two writers
    locking the same versions can never deadlock.
    """
    ids = {version_id for version_id in version_ids if version_id is not None}
    versions = list(
        QuestionSetVersion.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    )
    for version in versions:
        if not version.is_editable:
            raise VersionNotEditable(
                gettext(
                    "Version %(number)s is %(status)s, so its content can no longer change (it "
                    "may have been published while you were editing). Nothing was saved. Make a "
                    "new draft from it to change it."
                )
                % {"number": version.number, "status": version.get_status_display().lower()}
            )
    return versions
