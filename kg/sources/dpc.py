"""The Data Provenance Collection: data_summaries/<collection>.json.

Each file maps a dataset id to its record. Licences are display names
(`CC BY-NC 4.0`, `OpenAI`), creators are organisation names, "Model
Generated" names models (`OpenAI GPT-3`) and "Derived from Datasets" names
datasets or their Hugging Face paths: all of these are mentions, resolved
later. Places are JSON pointers into the file.

Identity: a record is its collection's version of a dataset, `<collection>/<id>`.
Its "Hugging Face URL" is often the page of the *source* its data comes from,
shared by every part of a split dataset (71 Aya languages, 7 Dolly categories)
and by other collections' reformats (Tasksource's, Flan's, OIG's): so the Hub
id is the record's own only when no other record gives it, or when the record
is the one dataset of a collection of one. Any other record is a part (a subset
when its own collection has other parts of the same source, else a conversion)
with a `derived_from` mention of that Hub id, named with its collection
('Longform: c4', never plain 'c4'); the dataset at that Hub id, when no record
is it, gets a record of its own for the edges to lead to. Files starting with
'_' (`_template.json`) describe the format and are no collection.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

from kg.errors import Problem
from kg.sources import Origin, Record, files_of, hub_repo, is_placeholder, map_license, normalise, read_source_text, retrieved_on

NAME = "dpc"
REPOSITORY = "https://github.com/Data-Provenance-Initiative/Data-Provenance-Collection"
# Language names as the collection writes them -> BCP 47 (only the ones the catalog can use).
LANGUAGES = {"English": "en", "Chinese": "zh", "Simplified Chinese": "zh-Hans", "Traditional Chinese": "zh-Hant",
             "Japanese": "ja", "Korean": "ko", "French": "fr", "German": "de", "Spanish": "es", "Russian": "ru"}


def read(path: Path, problems: list[Problem], commit: str | None = None) -> list[Record]:
    loaded = [(file, data) for file in files_of(path, "*.json") if not file.name.startswith("_") for data in [_load(file, problems)] if data is not None]
    holders: dict[str, set[tuple[str, str]]] = defaultdict(set)  # Hub id -> the (collection, dataset) records that give it
    sizes: dict[str, set[str]] = defaultdict(set)  # collection -> its datasets
    names: dict[tuple[str, str], int] = defaultdict(int)  # (collection, normalised dataset name) -> records
    for file, data in loaded:
        for key, entry in data.items():
            if isinstance(entry, dict):
                collection, uid = _identity(file, key, entry)
                sizes[collection].add(uid)
                names[(collection, normalise(str(entry.get("Dataset Name") or uid)))] += 1
                hub = hub_repo(entry.get("Hugging Face URL"))
                if hub:
                    holders[hub].add((collection, uid))
    records = [record for file, data in loaded for record in _read_file(file, data, holders, sizes, names, problems, commit)]
    return records + _sources_of_parts(records, holders, sizes)


def _sources_of_parts(records: list[Record], holders: dict[str, set], sizes: dict[str, set]) -> list[Record]:
    """One record for each Hub dataset that records are parts or reformats of and none is: the entity their edges lead to.

    It is named by the collection when that collection is all of it and nothing else is
    ('Aya Dataset', whose 71 languages are its subsets), else by the Hub id's name
    ('super_glue', which Flan's and Tasksource's tasks reformat). It carries no claim:
    the DPC describes only its parts.
    """
    first: dict[str, Record] = {}
    held = {e for record in records for e in record.external_ids}
    for record in records:
        for mention in record.mentions:
            if mention.field == "derived_from" and mention.text.startswith("huggingface:") and mention.text not in held:
                first.setdefault(mention.text, record)
    made = []
    for hub_id, part in first.items():
        hub = hub_id.removeprefix("huggingface:")
        collections = {c for c, _ in holders[hub]}
        whole = len(collections) == 1 and len(holders[hub]) == len(sizes[next(iter(collections))])
        name = next(iter(collections)) if whole else hub.split("/")[-1]
        origin = next(m.origin for m in part.mentions if m.text == hub_id)
        made.append(Record(NAME, hub_id, "dataset", name, origin, external_ids=[hub_id]))
    return made


def _load(file: Path, problems: list[Problem]) -> dict | None:
    text = read_source_text(file, problems)  # a regular file of bounded size, checked before it is read
    if text is None:
        return None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        problems.append(Problem(str(file), getattr(exc, "lineno", 1), "", f"not valid JSON: {getattr(exc, 'msg', exc)}"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(str(file), 1, "", "expected a JSON object of dataset id -> record"))
        return None
    return data


def _identity(file: Path, key: str, entry: dict) -> tuple[str, str]:
    collection = entry.get("Collection")
    return (collection if isinstance(collection, str) and collection.strip() else file.stem).strip(), str(entry.get("Unique Dataset Identifier") or key)


def _pointer(*parts: object) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _read_file(file: Path, data: dict, holders: dict[str, set], sizes: dict[str, set], names: dict, problems: list[Problem], commit: str | None) -> list[Record]:
    shown = str(file)
    url = f"{REPOSITORY}/blob/{commit or 'main'}/data_summaries/{file.name}"
    retrieved = retrieved_on(file)
    records = []
    for key, entry in data.items():
        def origin(*parts: object) -> Origin:
            return Origin(NAME, f"{shown}#{_pointer(key, *parts)}", url, retrieved, commit)

        if not isinstance(entry, dict):
            problems.append(Problem(shown, 1, _pointer(key), "expected a dataset record (a JSON object)"))
            continue
        name = entry.get("Dataset Name") or entry.get("Unique Dataset Identifier") or key
        if not isinstance(name, str):
            problems.append(Problem(shown, 1, _pointer(key, "Dataset Name"), "expected text"))
            continue
        collection, uid = _identity(file, key, entry)
        alone = len(sizes[collection]) == 1
        if names[(collection, normalise(name))] > 1:
            name = uid  # a name its collection gives several records ('commitpackft' for each of 277 languages) names none
        hub = hub_repo(entry.get("Hugging Face URL"))
        if alone or normalise(collection) in normalise(name):
            record = Record(NAME, f"{collection}/{uid}", "dataset", name.strip(), origin())
            record.aliases += [n for n in (collection, uid) if normalise(n) != normalise(name)] if alone else []
        else:
            record = Record(NAME, f"{collection}/{uid}", "dataset", f"{collection}: {name.strip()}", origin())
        if hub and _holds(hub, collection, uid, holders, sizes):
            record.external_ids.append(f"huggingface:{hub}")
        elif hub:
            # A part or a reformat of the dataset at that id: its own entity, with an edge to its source.
            siblings = sum(c == collection for c, _ in holders[hub]) > 1
            record.mention("derived_from", f"huggingface:{hub}", "dataset", origin("Hugging Face URL"), "subset" if siblings else "conversion")
        _read_values(record, entry, shown, key, origin, problems)
        records.append(record)
    return records


# A licence file in a GitHub repository (LICENSE, license.txt) whose path says nothing of data: it may be the code's.
_REPOSITORY_LICENCE = re.compile(r"github\.com/[^/]+/[^/]+/blob/[^/]+/(.*licen[cs]e[^/]*)$", re.I)


def _scope(url: object) -> str | None:
    """What a DPC licence is about: the data, unless its evidence is a repository's licence file (then not said)."""
    match = _REPOSITORY_LICENCE.search(url) if isinstance(url, str) else None
    return None if match and "data" not in match.group(1).casefold() else "data"


def _holds(hub: str, collection: str, uid: str, holders: dict[str, set], sizes: dict[str, set]) -> bool:
    """Whether the Hub id is the record's own: no other record gives it, or the record is the only one of a collection of one that does."""
    given = holders[hub]
    if given == {(collection, uid)}:
        return True
    homes = {c for c, _ in given if len(sizes[c]) == 1}
    return homes == {collection}


def _read_values(record: Record, entry: dict, shown: str, key: str, origin, problems: list[Problem]) -> None:  # noqa: ANN001
    for index, lic in enumerate(_list(entry, "Licenses", shown, key, problems)):
        text = lic.get("License") if isinstance(lic, dict) else None
        if isinstance(text, str) and not is_placeholder(text):
            record.claim("license", map_license(text), origin("Licenses", index, "License"), _scope(lic.get("License URL")))
    for index, language in enumerate(_list(entry, "Languages", shown, key, problems)):
        if language in LANGUAGES:
            record.claim("languages", LANGUAGES[language], origin("Languages", index))
    dialogs = (entry.get("Text Metrics") or {}).get("Num Dialogs") if isinstance(entry.get("Text Metrics"), dict) else None
    if isinstance(dialogs, int) and dialogs > 0:
        record.claim("records", dialogs, origin("Text Metrics", "Num Dialogs"))
    for index, creator in enumerate(_list(entry, "Creators", shown, key, problems)):
        record.mention("developers", creator, "organization", origin("Creators", index))
    for index, model in enumerate(_list(entry, "Model Generated", shown, key, problems)):
        record.mention("generated_by", model, "model", origin("Model Generated", index))
    for index, parent in enumerate(_list(entry, "Derived from Datasets", shown, key, problems)):
        record.mention("derived_from", parent, "dataset", origin("Derived from Datasets", index))


def _list(entry: dict, field: str, shown: str, key: str, problems: list[Problem]) -> list:
    value = entry.get(field)
    if value is None or value == "":
        return []
    if not isinstance(value, list):
        problems.append(Problem(shown, 1, _pointer(key, field), f"expected a list, got {type(value).__name__}"))
        return []
    return value
