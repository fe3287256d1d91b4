"""A flag's severity: the one place its values, their order, ranks and labels are written.

The stored value is the enum's string ("urgent"...), so a ``Severity`` compares equal to what
the database, the content files and the templates hold. Most urgent first.
"""

from enum import StrEnum


class Severity(StrEnum):
    URGENT = "urgent"
    CONTRAINDICATED = "contraindicated"
    CAUTION = "caution"
    INFO = "info"

    @property
    def label(self) -> str:
        """What a person reads: "Urgent", "Contraindicated", "Caution", "Info"."""
        return self.value.capitalize()

    @property
    def rank(self) -> int:
        """4 urgent, 3 contraindicated, 2 caution, 1 info: the queue's sort key."""
        return _RANKS[self]

    @classmethod
    def rank_of(cls, value: str) -> int:
        """A stored level's rank; 0 for "" (nothing flagged) or anything unknown."""
        return _RANKS.get(value, 0)

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        """(value, label) pairs, most urgent first: Django's field and form choices."""
        return [(severity.value, severity.label) for severity in cls]


_RANKS: dict[str, int] = {severity: len(Severity) - i for i, severity in enumerate(Severity)}
