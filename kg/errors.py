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
        errors = sum(p.level == "error" for p in self.problems)
        super().__init__(f"{errors} error(s) in the catalog")

    def __str__(self) -> str:
        # The whole report, so that a notebook or a traceback shows what to fix, not just a count.
        return "\n".join([f"{self.args[0]}:", *(f"  {problem}" for problem in self.problems)])


class RequestError(LookupError):
    """A request that names something that is not there: an entity, a query, an option value.

    `args` are (message, hint), and `str()` shows both, so the error reads
    well in a notebook as well as at the command line.
    """

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message, hint)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


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
