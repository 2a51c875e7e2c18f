"""Hugging Face: the Hub's own shapes, read as untrusted input.

What is read:
* model cards' front matter: a README.md, or a folder of <owner>/<name>/README.md;
* the Hub API's JSON records (`/api/models`, `/api/models/{id}`, `/api/datasets`), one per
  line (JSON Lines, what `kg fetch huggingface` writes) or as one JSON array (what `curl`
  saves); a later line of the same id replaces an earlier one (`kg fetch --update` appends);
* Parquet dumps (kg.sources.hub_parquet): hub-stats' models.parquet and datasets.parquet,
  and the model cards Parquet whose `card` column holds each README.

Lineage comes in three encodings: the API's `baseModels` object
(`{"relation": ..., "models": [{"id": ...}]}`), the tags the Hub derives
(`base_model:<relation>:<id>`) and the card's own `base_model` (a string or a list) with
`base_model_relation`. Each base becomes one mention whose `evidence` names the encoding
that said it, `baseModels` first; where two encodings state different relations for a base,
both are kept. A card that states no relation gets the Hub's inference (several bases make
a merge, an adapter library an adapter, quantization tags a quantization, else a fine-tune).

The evidence version is the record's `sha`, else its `lastModified`; the day the dump was
taken is `retrieved`. The Hub's `createdAt` is the upload date, and 2022-03-02 is the floor
it gives every repository older than that: never a release date. Dataset records carry
`"repoType": "dataset"` (kg fetch writes it; a file named datasets*.parquet, .json or .jsonl
implies it, as hub-stats and `curl .../api/datasets` name theirs); the Hub
has no card key for "this dataset holds a model's outputs", a dump says so with
`generated_by`.

Anyone can write a card, so nothing here is evaluated or rendered: JSON and safe YAML are
parsed, sizes are bounded, ids that cannot be Hub ids are refused. A record the reader
cannot use (not JSON, no id, an id that is no Hub id) is an error; a value a card's author
wrote badly (an overlong or non-id base model, an oversized record) is a warning and is left
out. Either way the place is named and the other records are read.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import yaml

from kg.errors import Problem
from kg.sources import Origin, Record, is_placeholder, map_license, open_source, read_source_text, retrieved_on

NAME = "huggingface"
HUB = "https://huggingface.co"
CREATED_AT_FLOOR = "2022-03-02"
# Misspellings seen in real cards -> the key the Hub documents.
KEY_FIXES = {"base_model_ralation": "base_model_relation", "base_models": "base_model", "basemodel": "base_model",
             "dataset": "datasets", "languages": "language", "licence": "license"}
RELATIONS = {"finetune": "finetune", "adapter": "adapter", "merge": "merge", "quantized": "quantized"}
QUANTIZED_TAGS = {"gguf", "gptq", "awq", "exl2", "4-bit", "8-bit"}
# The order in which the encodings of lineage are believed: the Hub's resolved field, the card, the derived tags.
EVIDENCE = ("baseModels", "cardData", "tags")

# Bounds on what one record may hold: a line or a serialized field past MAX_RECORD is not parsed,
# a value we keep is at most MAX_TEXT characters, and lists are read up to MAX_ITEMS items.
MAX_RECORD = 2_000_000
MAX_FRONT_MATTER = 256_000
MAX_TEXT = 300
MAX_ITEMS = 200
MAX_TAGS = 2_000
MAX_ARRAY_FILE = 512 * 1024 * 1024
# A Hub id: an optional owner and a name, ASCII letters, digits, '-', '_' and '.', at most 96
# characters each, no '--' or '..', not starting or ending with '-' or '.'.
_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"
HUB_ID = re.compile(rf"(?:{_PART}/)?{_PART}")
_SHA = re.compile(r"[0-9a-f]{40}")
_DAY = re.compile(r"\d{4}-\d\d-\d\d")
_HUB_URL = re.compile(r"^https?://(?:www\.)?(?:huggingface\.co|hf\.co)/(?:models/)?")
_MAYBE_ALIAS = re.compile(r"(?:^|[\s\[{,:-])[&*][^\s]")


def is_hub_id(text: Any) -> bool:
    """True for text that can be a Hub repository id ('owner/name', or a legacy 'name')."""
    return isinstance(text, str) and len(text) <= 200 and HUB_ID.fullmatch(text) is not None and "--" not in text and ".." not in text


def read(path: Path, problems: list[Problem], commit: str | None = None) -> list[Record]:
    if path.is_dir():  # a folder of cards (<owner>/<name>/README.md), or of dumps (the cards dataset's train-*.parquet)
        dumps = [r for dump in sorted([*path.glob("*.parquet"), *path.glob("*.jsonl")]) for r in read(dump, problems)]
        return dumps + [r for card in sorted(path.rglob("README.md")) for r in _read_card(card, path, problems, commit)]
    if path.suffix == ".parquet":
        from kg.sources.hub_parquet import read_rows

        return _records(read_rows(path, problems), str(path), retrieved_on(path), problems)
    if path.suffix in (".jsonl", ".json"):
        items = _json_items(path, problems)
        if path.name.startswith("datasets"):  # what `curl .../api/datasets > datasets.json` saves: no repoType in it
            items = ((row, {"repoType": "dataset", **item} if isinstance(item, dict) else item) for row, item in items)
        return _records(items, str(path), retrieved_on(path), problems)
    return _read_card(path, path.parent, problems, commit)


# --- README cards -------------------------------------------------------------------------


def front_matter(text: str) -> tuple[dict | None, int, str]:
    """A card's front matter as a mapping, or None with the line and what is wrong.

    Parsed with the safe loader only; anchors and aliases are refused, since a few lines of
    them can name billions of values.
    """
    if not text.startswith("---"):
        return None, 1, "no YAML front matter (a model card starts with '---')"
    end = text.find("\n---", 3, MAX_FRONT_MATTER)
    if end < 0:
        return None, 1, f"front matter is not closed by '---' within {MAX_FRONT_MATTER:,} characters"
    block = text[3:end]
    if _MAYBE_ALIAS.search(block) and _has_alias(block):
        return None, 1, "front matter uses YAML anchors or aliases, which are not read"
    try:
        meta = yaml.load(block, Loader=yaml.CSafeLoader) or {}
    except yaml.MarkedYAMLError as exc:
        return None, (exc.problem_mark.line + 1 if exc.problem_mark else 1), f"front matter is not valid YAML: {exc.problem}"
    except (yaml.YAMLError, RecursionError, ValueError):
        return None, 1, "front matter is not valid YAML"
    if not isinstance(meta, dict):
        return None, 2, "front matter is not a mapping"
    return meta, 0, ""


def _has_alias(block: str) -> bool:
    try:
        return any(isinstance(e, yaml.AliasEvent) or getattr(e, "anchor", None) for e in yaml.parse(block, Loader=yaml.CSafeLoader))
    except yaml.YAMLError:
        return False  # the load says what is wrong


def _read_card(card: Path, root: Path, problems: list[Problem], commit: str | None) -> list[Record]:
    shown = str(card)
    text = read_source_text(card, problems)  # a regular file of bounded size, checked before it is read
    if text is None:
        return []
    meta, line, message = front_matter(text)
    if meta is None:
        problems.append(Problem(shown, line, "", message))
        return []
    end = text.find("\n---", 3)
    lines = {row.split(":", 1)[0].strip(): n for n, row in enumerate(text[:end].splitlines(), start=1) if ":" in row and not row.startswith(" ")}
    # The repository id is the card's folder path under the root (owner/name), else the model_name.
    relative = card.parent.relative_to(root).as_posix() if card.parent != root else ""
    repo = relative if relative.count("/") == 1 else str(meta.get("model_name") or card.parent.name)
    retrieved = retrieved_on(card)

    def origin(pointer: str) -> Origin:
        key = pointer.split("/")[1] if pointer.startswith("cardData/") else pointer
        return Origin(NAME, f"{shown}:{lines.get(key, 1)}", f"{HUB}/{repo}", retrieved, commit)

    warn = _warner(problems, shown, 1)
    return [_model({"id": repo}, _fix_keys(meta), origin, warn)]


# --- API records --------------------------------------------------------------------------


def _json_items(path: Path, problems: list[Problem]) -> Iterator[tuple[int, Any]]:
    """(row, record) of a JSON Lines file, or of one JSON array; bad rows reported and left out."""
    shown = str(path)
    handle = open_source(path, problems, whole=False)  # a FIFO or a device is refused, not waited on
    if handle is None:
        return
    with open(handle, encoding="utf-8", errors="replace") as lines:  # line by line: a dump of the whole Hub is gigabytes
        first = lines.read(1)
        while first.isspace():
            first = lines.read(1)
        if first == "[":
            yield from _array_items(path, problems)
            return
        lines.seek(0)
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            if len(line) > MAX_RECORD:
                problems.append(Problem(shown, number, "", f"record of {len(line):,} characters is over the {MAX_RECORD:,} a record may have; left out", level="warning"))
                continue
            item = _parse_json(line.strip(), shown, number, problems)
            if item is not None:
                yield number, item


def _array_items(path: Path, problems: list[Problem]) -> Iterator[tuple[int, Any]]:
    shown, size = str(path), path.stat().st_size
    if size > MAX_ARRAY_FILE:
        problems.append(Problem(shown, 1, "", f"a JSON array of {size:,} bytes is too large to read whole", "save it as JSON Lines, one record a line (kg fetch does)"))
        return
    text = read_source_text(path, problems)
    items = _parse_json(text, shown, 1, problems) if text is not None else None
    if items is not None:
        yield from enumerate(items, start=1)


def _parse_json(text: str, shown: str, row: int, problems: list[Problem]) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(Problem(shown, row + exc.lineno - 1, "", f"not valid JSON: {exc.msg}"))
    except (RecursionError, ValueError):  # nesting past the parser's depth; an integer past Python's 4,300 digits
        problems.append(Problem(shown, row, "", "not readable JSON (nested too deep or a number too long)"))
    return None


def _records(items: Iterable[tuple[int, Any]], shown: str, retrieved: str, problems: list[Problem]) -> list[Record]:
    """Records of (row, API record) pairs; a later record of an id replaces the earlier one."""
    records: list[Record] = []
    position: dict[str, int] = {}
    for row, item in items:
        record = record_of(item, shown, row, retrieved, problems)
        if record is None:
            continue
        key = f"{record.kind} {record.source_id}"
        if key in position:
            records[position[key]] = record
        else:
            position[key] = len(records)
            records.append(record)
    return records


def record_of(item: Any, shown: str, row: int, retrieved: str, problems: list[Problem]) -> Record | None:
    """One Hub API record (a model's or a dataset's) -> a Record, or None when it cannot be used."""
    if not isinstance(item, dict) or not isinstance(item.get("id") or item.get("modelId"), str):
        problems.append(Problem(shown, row, "id", "a Hub model record needs an 'id'"))
        return None
    repo = item.get("id") or item["modelId"]
    if not is_hub_id(repo):
        problems.append(Problem(shown, row, "id", f"'{_shorten(repo)}' cannot be a Hub id", "a Hub id is owner/name in letters, digits, '-', '_' and '.'"))
        return None
    warn = _warner(problems, shown, row)
    card = _card_of(item, warn)
    dataset = item.get("repoType") == "dataset"
    # Shared by every value of the record: one string each, not one per value.
    url, where = f"{HUB}/datasets/{repo}" if dataset else f"{HUB}/{repo}", f"{shown}:{row}#/"
    version = item.get("sha") if isinstance(item.get("sha"), str) and _SHA.fullmatch(item["sha"]) else timestamp(item.get("lastModified") or item.get("last_modified"))

    def origin(pointer: str) -> Origin:
        return Origin(NAME, where + pointer, url, retrieved, version)

    return (_dataset if dataset else _model)(item, card, origin, warn)


def _card_of(item: dict, warn: Callable[[str, str], None]) -> dict:
    """The card's metadata: the API's cardData, hub-stats' cardData JSON text, or a README's front matter."""
    card = item.get("cardData", item.get("card_data"))
    if isinstance(card, str):
        if len(card) > MAX_RECORD:
            warn("cardData", f"over {MAX_RECORD:,} characters; left out")
            return {}
        card = _parse_json(card, "", 0, problems := [])
        if problems:
            warn("cardData", "not valid JSON; left out")
    elif card is None and isinstance(item.get("card"), str):  # the cards Parquet: the README itself
        card, _, message = front_matter(item["card"])
        if card is None:
            warn("card", f"{message}; the card's fields are left out")
    return _fix_keys(card) if isinstance(card, dict) else {}


def timestamp(value: Any) -> str | None:
    """A Hub time as the API writes it (2024-01-31T12:00:00.000Z), from its text or a Parquet timestamp."""
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.timezone.utc) if value.tzinfo else value
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?", value):
        return value
    return None


def _warner(problems: list[Problem], shown: str, row: int) -> Callable[[str, str], None]:
    def warn(pointer: str, message: str) -> None:
        problems.append(Problem(shown, row, pointer.replace("/", "."), message, level="warning"))

    return warn


def _shorten(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _fix_keys(meta: dict) -> dict:
    return {KEY_FIXES.get(str(k).casefold(), str(k)): v for k, v in meta.items()}


def _texts(value: Any, pointer: str, warn: Callable[[str, str], None], limit: int = MAX_ITEMS) -> list[tuple[str, str]]:
    """(text, pointer) of a string or a list's strings, bounded; a list is read up to `limit` items."""
    if value is None:  # most fields of most records: nothing to build
        return []
    if isinstance(value, str):
        if len(value) <= MAX_TEXT and value.isprintable():
            return [(value.strip(), pointer)]
        warn(pointer, "over-long or holds control characters; left out")
        return []
    if not isinstance(value, list):
        return []
    if len(value) > limit:
        warn(pointer, f"{len(value):,} items; only the first {limit:,} are read")
    kept = []
    for index, text in enumerate(value[:limit]):
        if isinstance(text, str):
            if len(text) <= MAX_TEXT and text.isprintable():
                kept.append((text.strip(), f"{pointer}/{index}"))
            else:
                warn(f"{pointer}/{index}", "over-long or holds control characters; left out")
    return kept


def _tags(item: dict, warn: Callable[[str, str], None]) -> list:
    """The record's tags, bounded; each is checked where it is used (a few a record), not all of them here."""
    tags = item.get("tags")
    if not isinstance(tags, list):
        return []
    if len(tags) > MAX_TAGS:
        warn("tags", f"{len(tags):,} items; only the first {MAX_TAGS:,} are read")
    return tags[:MAX_TAGS]


def _tagged(tags: list, prefix: str, warn: Callable[[str, str], None]) -> list[tuple[str, str]]:
    """(what follows `prefix`, pointer) of the tags that start with it."""
    found = []
    for index, tag in enumerate(tags):
        if isinstance(tag, str) and tag.startswith(prefix):
            if len(tag) <= MAX_TEXT and tag.isprintable():
                found.append((tag[len(prefix):], f"tags/{index}"))
            else:
                warn(f"tags/{index}", "over-long or holds control characters; left out")
    return found


def _hub_id(text: str, pointer: str, warn: Callable[[str, str], None]) -> str | None:
    """The Hub id `text` names (a huggingface.co URL is its id), or None after a warning."""
    repo = _HUB_URL.sub("", text).strip("/") if "://" in text else text
    if is_hub_id(repo):
        return repo
    warn(pointer, f"'{_shorten(text)}' cannot be a Hub id; left out")
    return None


# --- models and datasets ------------------------------------------------------------------


def _model(item: dict, card: dict, origin: Callable[[str], Origin], warn: Callable[[str, str], None]) -> Record:
    repo = item.get("id") or item["modelId"]
    record = Record(NAME, repo, "model", repo.split("/")[-1], origin("id"), aliases=[repo], external_ids=[f"huggingface:{repo}"])
    tags = _tags(item, warn)
    _add_lineage(record, item, card, tags, origin, warn)
    datasets = _texts(card.get("datasets"), "cardData/datasets", warn) or _tagged(tags, "dataset:", warn)
    for dataset, pointer in datasets:
        if (target := _hub_id(dataset, pointer, warn)) is not None:
            record.mention("trained_on", f"huggingface:{target}", "dataset", origin(pointer))
    _claim_common(record, item, card, tags, origin, warn)
    safetensors = item.get("safetensors")
    total = safetensors.get("total") if isinstance(safetensors, dict) else None
    if isinstance(total, int) and not isinstance(total, bool) and total > 0:
        record.claim("parameters", total, origin("safetensors/total"))
    for key, name in (("library_name", "library"), ("pipeline_tag", "task")):
        value, pointer = (item[key], key) if item.get(key) is not None else (card.get(key), f"cardData/{key}")
        for text, where in _texts(value, pointer, warn, 1):
            record.claim(name, text, origin(where))
    return record


def _dataset(item: dict, card: dict, origin: Callable[[str], Origin], warn: Callable[[str, str], None]) -> Record:
    repo = item["id"]
    record = Record(NAME, repo, "dataset", repo.split("/")[-1], origin("id"), aliases=[repo], external_ids=[f"huggingface:{repo}"])
    for model, pointer in _texts(card.get("generated_by"), "cardData/generated_by", warn):
        if (target := _hub_id(model, pointer, warn)) is not None:
            record.mention("generated_by", f"huggingface:{target}", "model", origin(pointer))
    _claim_common(record, item, card, _tags(item, warn), origin, warn)
    return record


def _claim_common(record: Record, item: dict, card: dict, tags: list, origin: Callable[[str], Origin], warn: Callable[[str, str], None]) -> None:
    """The claims models and datasets share: licence, languages, upload date, gating."""
    licenses = _texts(card.get("license"), "cardData/license", warn) or _tagged(tags, "license:", warn)
    for license, pointer in licenses:
        if license.casefold() == "other":
            # 'other' says only "see license_name / license_link"; the name is the claim.
            for name, where in _texts(card.get("license_name"), "cardData/license_name", warn, 1):
                record.claim("license", map_license(name), origin(where), record.artefact)
            for link, where in _texts(card.get("license_link"), "cardData/license_link", warn, 1):
                if link.startswith(("https://", "http://")):
                    record.claim("license_link", link, origin(where))
        elif not is_placeholder(license):
            record.claim("license", map_license(license), origin(pointer), record.artefact)  # a repo's licence covers the files it holds
    for language, pointer in _texts(card.get("language"), "cardData/language", warn):
        record.claim("languages", language, origin(pointer))
    created = item.get("createdAt")
    created = created if isinstance(created, str) else timestamp(created)  # a Parquet timestamp, or nothing
    if created and _DAY.match(created) and created[:10] > CREATED_AT_FLOOR:
        record.claim("uploaded", created[:10], origin("createdAt"))
    if item.get("gated") in ("auto", "manual"):
        record.claim("gated", item["gated"], origin("gated"))


def _add_lineage(record: Record, item: dict, card: dict, tags: list, origin: Callable[[str], Origin], warn: Callable[[str, str], None]) -> None:
    """One mention per base and stated relation, from the first encoding (in EVIDENCE order) that says it."""
    said: dict[str, list[tuple[str, str | None, bool, str, str]]] = {}  # folded id -> (id, relation, stated, evidence, pointer)
    for base, relation, stated, evidence, pointer in _lineage_claims(item, card, tags, warn):
        if (repo := _hub_id(base, pointer, warn)) is not None:
            said.setdefault(repo.casefold(), []).append((repo, relation, stated, evidence, pointer))
    for claims in said.values():
        # A stated relation we do not know (None) stays a plain derivation rather than a guessed one.
        stated = [(repo, relation, evidence, pointer) for repo, relation, told, evidence, pointer in claims if told]
        if not stated:
            repo, _, _, evidence, pointer = claims[0]
            stated = [(repo, _relation(card, item, tags), evidence, pointer)]
        relations = set()
        for repo, relation, evidence, pointer in stated:
            if relation not in relations:  # the same relation again is agreement, not a second claim
                relations.add(relation)
                record.mention("derived_from", f"huggingface:{repo}", "model", origin(pointer), relation, evidence)


def _lineage_claims(item: dict, card: dict, tags: list, warn: Callable[[str, str], None]) -> Iterator[tuple[str, str | None, bool, str, str]]:
    """(base, relation, whether a relation was stated, evidence, pointer) from the three encodings, in EVIDENCE order."""
    bases = item.get("baseModels")
    if isinstance(bases, dict):  # {"relation": ..., "models": [{"id": ...}]}, what /api/models/{id} answers
        stated = isinstance(bases.get("relation"), str)
        relation = RELATIONS.get(bases["relation"]) if stated else None
        models = bases.get("models") if isinstance(bases.get("models"), list) else []
        ids = [m.get("id") if isinstance(m, dict) else None for m in models]
        for base, pointer in _texts(ids, "baseModels/models", warn):
            yield base, relation, stated, "baseModels", pointer + "/id"
    elif isinstance(bases, list):  # a plain list of ids, as some clients describe it: no relation stated
        for base, pointer in _texts(bases, "baseModels", warn):
            yield base, None, False, "baseModels", pointer
    explicit = card.get("base_model_relation")
    stated = isinstance(explicit, str) and not is_placeholder(explicit)
    for base, pointer in _texts(card.get("base_model"), "cardData/base_model", warn):
        yield base, RELATIONS.get(explicit) if stated else None, stated, "cardData", pointer
    for tag, pointer in _tagged(tags, "base_model:", warn):
        relation, _, base = tag.rpartition(":")
        yield (base, RELATIONS.get(relation), True, "tags", pointer) if relation else (base, None, False, "tags", pointer)


def _relation(card: dict, item: dict, tags: list) -> str:
    """The Hub's inference for a card that states no relation: several bases make a merge; adapter and quantization libraries or tags say so; else a fine-tune."""
    tagset = {t.casefold() for t in tags if isinstance(t, str)}
    if isinstance(card.get("base_model"), list) and len(card["base_model"]) > 1:
        return "merge"
    if "peft" in (card.get("library_name"), item.get("library_name")) or "peft" in tagset or "lora" in tagset:
        return "adapter"
    if tagset & QUANTIZED_TAGS:
        return "quantized"
    return "finetune"
