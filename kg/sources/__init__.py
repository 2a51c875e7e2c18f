"""Readers of what other trackers publish, one module per format.

Every reader turns its input into `Record`s: one per thing the source
describes, in the catalog's own vocabulary (kinds, field names, licence ids),
each value a `Claim` that names where it came from (`Origin`). Free-text
references to other things (a dependency, a base model, a dataset a dataset
was derived from) are kept as `Mention`s, to be resolved by `kg.merge`.

Readers never stop at the first bad input: they append a `Problem` with the
file and line (or JSON pointer) and go on, so all problems show at once.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from kg.errors import Problem, suggest

# Words trackers write for a value they do not know; such a value is no claim.
PLACEHOLDERS = {"", "unknown", "unspecified", "no license", "none", "n/a", "na", "tbd", "null", "nil", "?", "-", "not specified", "various"}


@dataclass(frozen=True, slots=True)
class Origin:
    """Where one value was read: the source's name, the page it documents, the place in the file."""

    source: str
    where: str  # file:line, or file#/json/pointer
    url: str | None = None
    retrieved: str | None = None
    commit: str | None = None

    def __str__(self) -> str:
        return f"{self.source} {self.where}"


# What a licence claim is about: a model's weights, a dataset's records, or the code beside them.
# A claim with no scope is one whose source does not say (a repository's licence file may be the code's).
SCOPES = ("weights", "data", "code")


@dataclass(frozen=True, slots=True)
class Claim:
    field: str
    value: Any
    origin: Origin
    scope: str | None = None  # for licences: one of SCOPES, or None when the source does not say


@dataclass(frozen=True, slots=True)
class Mention:
    """A reference by free text (or an external id) to another thing: `field` -> `text`."""

    field: str
    text: str
    kind: str  # the kind the target must have
    origin: Origin
    relation: str | None = None
    # Which of a source's encodings said it, where a source has several (the Hub: baseModels, tags, cardData).
    evidence: str | None = None


@dataclass(slots=True)
class Record:
    """One thing a source describes."""

    source: str
    source_id: str
    kind: str
    name: str
    origin: Origin
    aliases: list[str] = field(default_factory=list)
    external_ids: list[str] = field(default_factory=list)  # e.g. "huggingface:lmsys/vicuna-13b-delta-v0"
    claims: list[Claim] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)

    def claim(self, name: str, value: Any, origin: Origin | None = None, scope: str | None = None) -> None:
        if value is not None and not is_placeholder(value):
            self.claims.append(Claim(name, value, origin or self.origin, scope))

    @property
    def artefact(self) -> str:
        """The licence scope of the thing itself: a model's weights, a dataset's records."""
        return "weights" if self.kind == "model" else "data"

    def mention(self, name: str, text: Any, kind: str, origin: Origin | None = None, relation: str | None = None, evidence: str | None = None) -> None:
        if isinstance(text, str) and not is_placeholder(text):
            self.mentions.append(Mention(name, text.strip(), kind, origin or self.origin, relation, evidence))


# A name's parts: numbers (with their decimal points), runs of letters, and '+', which is part of a name (Command R+).
_NAME_PARTS = re.compile(r"\d+(?:\.\d+)*|[^\W\d_]+|\+")


@lru_cache(maxsize=1 << 12)  # each name is looked up and indexed several times in a row during a merge
def normalise(name: str) -> str:
    """A name for matching: NFKC, case-folded, spaces and punctuation dropped ('LLaMa-7B' = 'llama 7b').

    What tells two models apart stays: '+' ('command r+' is not 'command r'), a
    version's point ('gpt-3.5' is not 'gpt-35') and the gap between two numbers
    ('llama 2 7b' is not 'llama 27b').
    """
    parts = _NAME_PARTS.findall(unicodedata.normalize("NFKC", name).casefold())
    if len(parts) < 2:
        return parts[0] if parts else ""
    out = [parts[0]]
    for before, part in zip(parts, parts[1:]):
        if before[-1].isdigit() and part[0].isdigit():
            out.append("-")
        out.append(part)
    return "".join(out)


# First path parts of huggingface.co pages that are not repositories.
_NOT_REPOS = ("spaces", "blog", "docs", "papers", "collections", "organizations", "models")
_REPO_PAGES = ("viewer", "blob", "tree", "resolve")


def hub_repo(url: object) -> str | None:
    """The repo id of a huggingface.co link: 'owner/name' (a dataset's too, or 'name' for the Hub's
    old unowned datasets such as super_glue), without /viewer/..., /blob/... or a query; None for a
    Space, a blog post, a collection or any other page."""
    if not isinstance(url, str) or "huggingface.co/" not in url:
        return None
    parts = [p for p in re.split(r"[?#]", url.split("huggingface.co/", 1)[1])[0].split("/") if p]
    dataset = bool(parts) and parts[0] == "datasets"
    parts = parts[1:] if dataset else parts
    if not parts or parts[0] in _NOT_REPOS:
        return None
    if len(parts) == 1 or parts[1] in _REPO_PAGES:
        return parts[0] if dataset else None
    return f"{parts[0]}/{parts[1]}"


def is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and value.strip().casefold() in PLACEHOLDERS


def files_of(path: Path, pattern: str) -> list[Path]:
    """The files a source path names: a folder's files matching `pattern`, sorted, or the file itself."""
    return sorted(path.glob(pattern)) if path.is_dir() else [path]


def retrieved_on(path: Path) -> str:
    """The day the copy was taken, as the file's modification date says (no better record exists)."""
    return dt.date.fromtimestamp(path.stat().st_mtime).isoformat()


# Licence names as trackers write them (folded: lowercase, no spaces, '-' or '_') -> our licence ids.
_LICENSES = {
    "apache2.0": "Apache-2.0", "apache-2.0": "Apache-2.0", "apachelicense2.0": "Apache-2.0", "apache": "Apache-2.0",
    "mit": "MIT", "mitlicense": "MIT", "bsd-3-clause": "BSD-3-Clause", "gpl-3.0": "GPL-3.0-only", "gpl3.0": "GPL-3.0-only",
    "cc0-1.0": "CC0-1.0", "cc0": "CC0-1.0", "cc01.0": "CC0-1.0", "ccby4.0": "CC-BY-4.0", "cc-by-4.0": "CC-BY-4.0",
    "ccbysa3.0": "CC-BY-SA-3.0", "cc-by-sa-3.0": "CC-BY-SA-3.0", "ccbysa4.0": "CC-BY-SA-4.0", "cc-by-sa-4.0": "CC-BY-SA-4.0",
    "ccbync4.0": "CC-BY-NC-4.0", "cc-by-nc-4.0": "CC-BY-NC-4.0", "ccbyncsa4.0": "CC-BY-NC-SA-4.0", "cc-by-nc-sa-4.0": "CC-BY-NC-SA-4.0",
    "odc-by": "ODC-By-1.0", "odc-by-1.0": "ODC-By-1.0", "odc-by1.0": "ODC-By-1.0",
    "bigscience-bloom-rail-1.0": "bigscience-bloom-rail-1.0", "bigsciencebloomrail1.0": "bigscience-bloom-rail-1.0",
    "bigscience-openrail-m": "LicenseRef-bigscience-openrail-m", "openrail-m": "LicenseRef-bigscience-openrail-m",
    "openrail-mv1": "LicenseRef-bigscience-openrail-m", "creativeml-openrail-m": "LicenseRef-creativeml-openrail-m",
    "bigsciencerailv1.0": "bigscience-bloom-rail-1.0", "glm-130blicense": "LicenseRef-glm-130b",
    "opt-175blicense": "LicenseRef-opt-175b", "modifiedmitlicense": "LicenseRef-openai-gpt-2-modified-mit",
    "llama-license": "LicenseRef-llama-1-noncommercial", "llamalicense": "LicenseRef-llama-1-noncommercial",
    # The Hub's licence tags for Meta's community licence: 'license:llama2' is the catalog's llama-2-community, no conflict.
    "llama2": "LicenseRef-llama-2-community", "llama-2": "LicenseRef-llama-2-community", "llama2communitylicense": "LicenseRef-llama-2-community",
}


@lru_cache(maxsize=4096)  # a dump of a million records names a few hundred licences
def map_license(text: str) -> str:
    """Our licence id for a tracker's licence name; an unmapped name is kept as written (it is still a claim)."""
    for candidate in (text, re.sub(r"\([^)]*\)", "", text)):  # 'CC BY NC 4.0 (model weights)' is CC BY NC 4.0
        key = re.sub(r"[\s_]+", "", candidate.strip().casefold())
        found = _LICENSES.get(key) or _LICENSES.get(key.replace("-", ""))
        if found:
            return found
    return text.strip()


def _readers() -> dict[str, Callable[[Path, list[Problem]], list[Record]]]:
    from kg.sources import dpc, ecosystem_graphs, huggingface, open_llms

    return {"huggingface": huggingface.read, "dpc": dpc.read, "ecosystem-graphs": ecosystem_graphs.read, "open-llms": open_llms.read}


SOURCE_NAMES = ("huggingface", "dpc", "ecosystem-graphs", "open-llms")


def read_source(name: str, path: Path | str, problems: list[Problem]) -> list[Record]:
    """Read one source by its name; problems (bad input) are appended, not raised."""
    readers = _readers()
    path = Path(path)
    if name not in readers:
        problems.append(Problem(str(path), 1, "", f"unknown source '{name}'", suggest(name, readers) or f"sources are {', '.join(readers)}"))
        return []
    if not path.exists():
        problems.append(Problem(str(path), 1, "", f"{name}: file or folder not found"))
        return []
    return readers[name](path, problems)
