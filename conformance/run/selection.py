"""Which cases run: by id (globs), by RFC section, by actor, by level. `run` and `list` share it.

pytest's `-k` matches function names, which are not case ids (one function declares several cases); a
user who read an id in a report selects it here by that id. Selectors of one kind add up (`--case a --case
b` runs both); selectors of different kinds narrow each other (`--section 4.3 --actor RS`); `--exclude`
removes from what the others chose. A selector that matches no case is a usage error, never an empty run.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from conformance.judge.catalog import CaseInfo
from conformance.judge.endpoints import actors

__all__ = ["ACTORS", "LEVELS", "Selection", "SelectionError"]

#: whose requirements the cases judge: the actors of the registered endpoints
ACTORS = actors()
LEVELS = ("MUST", "SHOULD", "MAY")


class SelectionError(ValueError):
    """A selector names nothing: one line that says which and how to see what there is."""


@dataclass(frozen=True)
class Selection:
    """The selectors given; an empty kind selects everything."""

    cases: tuple[str, ...] = ()  # ids or globs (as-htu-*)
    exclude: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()  # "4.3" selects 4.3 and 4.3.x
    actors: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        cases: Sequence[str] | None = None,
        exclude: Sequence[str] | None = None,
        sections: Sequence[str] | None = None,
        actors: Sequence[str] | None = None,
        levels: Sequence[str] | None = None,
    ) -> Selection:
        """From command-line values (None for an option not given); actors and levels in any case."""
        return cls(
            tuple(cases or ()),
            tuple(exclude or ()),
            tuple(s.strip().lstrip("§") for s in sections or ()),
            tuple(a.upper() for a in actors or ()),
            tuple(v.upper() for v in levels or ()),
        )

    def __bool__(self) -> bool:
        return any((self.cases, self.exclude, self.sections, self.actors, self.levels))

    def selects(self, info: CaseInfo) -> bool:
        """True when the case is chosen by every kind of selector given and excluded by none."""
        if self.cases and not any(fnmatch.fnmatchcase(info.id, p) for p in self.cases):
            return False
        if any(fnmatch.fnmatchcase(info.id, p) for p in self.exclude):
            return False
        if self.sections and not any(info.section == s or info.section.startswith(s + ".") for s in self.sections):
            return False
        if self.actors and info.actor not in self.actors:
            return False
        return not (self.levels and info.level.value not in self.levels)

    def check(self, catalog: Iterable[CaseInfo]) -> None:
        """Raise SelectionError for a selector that matches no case of the catalog."""
        known = list(catalog)
        for option, value in self._values():
            if option == "--actor" and value not in ACTORS:
                raise SelectionError(f"--actor {value}: give AS or RS")
            if option == "--level" and value not in LEVELS:
                raise SelectionError(f"--level {value}: give MUST, SHOULD or MAY")
            if not any(Selection.of(**{self._kind(option): [value]}).selects(c) for c in known):
                raise SelectionError(
                    f"{option} {value} matches no case; `dpop-conformance list` shows the ids, sections and levels"
                )

    def _values(self) -> list[tuple[str, str]]:
        return [
            *(("--case", v) for v in self.cases),
            *(("--exclude", v) for v in self.exclude),
            *(("--section", v) for v in self.sections),
            *(("--actor", v) for v in self.actors),
            *(("--level", v) for v in self.levels),
        ]

    @staticmethod
    def _kind(option: str) -> str:
        # an excluded pattern must match something too: checked as a --case of its own
        return {"--case": "cases", "--exclude": "cases", "--section": "sections", "--actor": "actors"}.get(
            option, "levels"
        )

    def as_args(self, prefix: str = "--dpop-") -> list[str]:
        """The pytest plugin's options for this selection (`--dpop-case=ID` ...)."""
        return [f"{prefix}{option[2:]}={value}" for option, value in self._values()]
