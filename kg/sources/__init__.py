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
import os
import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import yaml

from kg.errors import Problem, suggest
from kg.reader import UnreadableFile, decode, open_regular

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


# Bounds on what a source may make the reader hold (docs/reference/robustness.md): a file read
# whole, the values of one YAML document (an alias counts as
# everything it stands for, so an alias bomb is refused before it is expanded), its nesting,
# and one text value (a name, a licence, a reference).
MAX_SOURCE_BYTES = 64 * 2**20
MAX_YAML_VALUES = 200_000
MAX_YAML_DEPTH = 100
MAX_TEXT = 65_536


def open_source(path: Path, problems: list[Problem], whole: bool = True) -> int | None:
    """A descriptor of `path` opened for reading once `kg.reader.open_regular` has found it a
    regular file (at most MAX_SOURCE_BYTES when it is to be read `whole`); else None and a
    problem naming the file. A FIFO or a device never hangs the reader and is never read."""
    try:
        return open_regular(path, MAX_SOURCE_BYTES if whole else None, "a source file read whole")
    except UnreadableFile as exc:
        message = f"{exc}: a source must be a file" if "regular" in str(exc) else str(exc)
        problems.append(Problem(str(path), 1, "", message))
    except OSError as exc:
        problems.append(Problem(str(path), 1, "", f"cannot read file: {exc.strerror}"))
    return None


def read_source_text(path: Path, problems: list[Problem]) -> str | None:
    """The UTF-8 text of a source file read whole, after `open_source`'s checks; None and a problem otherwise."""
    handle = open_source(path, problems)
    if handle is None:
        return None
    with os.fdopen(handle, "rb") as file:
        data = file.read(MAX_SOURCE_BYTES + 1)  # a file that grew since it was checked is still bounded
    if len(data) > MAX_SOURCE_BYTES:
        problems.append(Problem(str(path), 1, "", f"file is over {MAX_SOURCE_BYTES:,} bytes; a source file read whole may be at most that"))
        return None
    text, problem = decode(data, str(path))
    if problem:
        problems.append(problem)
        return None
    return text


def compose_yaml(text: str, shown: str, problems: list[Problem], first_line: int = 1) -> yaml.Node | None:
    """The node tree of one YAML document, refused (None and a problem) when its aliases would
    expand past MAX_YAML_VALUES values or it nests deeper than MAX_YAML_DEPTH; `first_line` is the
    file's line where `text` starts. Anchors and aliases are kept: real files use them."""
    loader = yaml.CSafeLoader(text) if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problems.append(Problem(shown, (mark.line if mark else 0) + first_line, "", f"not valid YAML: {exc.problem or exc}"))
        return None
    except yaml.reader.ReaderError as exc:  # a raw control character: no mark, only its place in the text
        line = text.count("\n", 0, exc.position) + first_line
        problems.append(Problem(shown, line, "", f"raw control character U+{exc.character if isinstance(exc.character, int) else ord(exc.character):04X} (write it as an escape in a double-quoted string, or remove it)"))
        return None
    except yaml.YAMLError as exc:
        problems.append(Problem(shown, first_line, "", f"not valid YAML: {exc}"))
        return None
    finally:
        loader.dispose()
    if node is not None and not _bounded(node, shown, problems, first_line):
        return None
    return node


def _bounded(root: yaml.Node, shown: str, problems: list[Problem], first_line: int) -> bool:
    """Count the values `root` stands for, each alias as all of its target, without expanding anything."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if depth > MAX_YAML_DEPTH:
            problems.append(Problem(shown, node.start_mark.line + first_line, "", f"YAML nests deeper than {MAX_YAML_DEPTH} levels"))
            return False
        if id(node) in sizes:
            continue
        children = _children(node)
        if done or not children:
            sizes[id(node)] = min(1 + sum(sizes.get(id(c), 1) for c in children), MAX_YAML_VALUES + 1)  # a scalar is 1
            if sizes[id(node)] > MAX_YAML_VALUES:
                problems.append(Problem(shown, node.start_mark.line + first_line, "",
                                        f"YAML stands for more than {MAX_YAML_VALUES:,} values (aliases expanded): refused unread",
                                        "an alias bomb, or a file too large to be a source"))
                return False
            continue
        stack.append((node, depth, True))
        stack += [(child, depth + 1, False) for child in children if id(child) not in sizes and not isinstance(child, yaml.ScalarNode)]
    return True


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


_SURROGATE = re.compile("[\ud800-\udfff]")


def check_texts(records: list[Record], problems: list[Problem]) -> list[Record]:
    """`records` without the texts no output can hold, each a problem at its place: longer than
    MAX_TEXT characters (a 200 MB licence name), or with a lone surrogate (a broken JSON escape
    such as "\\ud800", which has no UTF-8 form). A record whose name or id is such a text is dropped."""
    kept = []
    for record in records:
        bad_name = next((text for text in (record.name, record.source_id) if _fault(text)), None)
        if bad_name is not None:
            problems.append(_bad_text(record.origin, "name", bad_name))
            continue
        claims = [c for c in record.claims if isinstance(c.value, str) and _fault(c.value)]
        mentions = [m for m in record.mentions if _fault(m.text)]
        names = [n for n in (*record.aliases, *record.external_ids) if _fault(n)]
        if claims or mentions or names:
            problems += [_bad_text(c.origin, c.field, c.value) for c in claims]
            problems += [_bad_text(m.origin, m.field, m.text) for m in mentions]
            problems += [_bad_text(record.origin, "aliases", n) for n in names]
            record = replace(record, claims=[c for c in record.claims if c not in claims], mentions=[m for m in record.mentions if m not in mentions],
                             aliases=[n for n in record.aliases if n not in names], external_ids=[n for n in record.external_ids if n not in names])
        kept.append(record)
    return kept


def _fault(text: str) -> str:
    if len(text) > MAX_TEXT:
        return f"a text of {len(text):,} characters; a value may be at most {MAX_TEXT:,}"
    surrogate = _SURROGATE.search(text)
    return f"a lone surrogate U+{ord(surrogate.group()):04X} (a broken \\u escape): not text" if surrogate else ""


def _bad_text(origin: Origin, name: str, text: str) -> Problem:
    where, _, pointer = origin.where.partition("#")
    path, _, line = where.rpartition(":")
    if not line.isdigit():
        path, line = where, "1"
    return Problem(path, int(line), name + (f" (#{pointer})" if pointer else ""), _fault(text))


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
    return check_texts(readers[name](path, problems), problems)
