"""Problems found in the catalog, and the error raised when any of them is fatal.

Every stage collects problems instead of stopping at the first one, so a
contributor sees everything wrong with a change in one run.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Literal

Level = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one place of one file.

    Ordered by file, then line, so reports sort into the order a reader
    would fix them in and diff cleanly between runs.
    """

    path: str
    line: int
    field: str
    message: str
    hint: str = ""
    level: Level = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:"
        if self.level == "warning":
            where += " warning:"
        text = f"{where} {self.field}: {self.message}" if self.field else f"{where} {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class CatalogError(Exception):
    """The catalog has errors; `problems` lists all of them (and any warnings)."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(problems)
        errors = [p for p in self.problems if p.level == "error"]
        super().__init__(f"{len(errors)} error(s) in the catalog")


class OutputError(Exception):
    """An output could not be written; the previous output is left as it was."""


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice most like `word` (a case-insensitive match first), or None."""
    choices = sorted(set(choices))
    folded = {c.casefold(): c for c in choices}
    if word.casefold() in folded:
        return folded[word.casefold()]
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def suggest(word: str, choices: Iterable[str]) -> str:
    """A 'did you mean ...?' hint for `word`, or '' when nothing is close."""
    match = closest(word, choices)
    return f"did you mean '{match}'?" if match else ""
