"""The Data Provenance Collection: data_summaries/<collection>.json.

Each file maps a dataset id to its record. Licences are display names
(`CC BY-NC 4.0`, `OpenAI`), creators are organisation names, "Model
Generated" names models (`OpenAI GPT-3`) and "Derived from Datasets" names
datasets or their Hugging Face paths: all of these are mentions, resolved
later. Places are JSON pointers into the file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from kg.errors import Problem
from kg.sources import Origin, Record, files_of, is_placeholder, map_license, read_source_text, retrieved_on

NAME = "dpc"
REPOSITORY = "https://github.com/Data-Provenance-Initiative/Data-Provenance-Collection"
# Language names as the collection writes them -> BCP 47 (only the ones the catalog can use).
LANGUAGES = {"English": "en", "Chinese": "zh", "Simplified Chinese": "zh-Hans", "Traditional Chinese": "zh-Hant",
             "Japanese": "ja", "Korean": "ko", "French": "fr", "German": "de", "Spanish": "es", "Russian": "ru"}


def read(path: Path, problems: list[Problem], commit: str | None = None) -> list[Record]:
    return [record for file in files_of(path, "*.json") for record in _read_file(file, problems, commit)]


def _pointer(*parts: object) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _read_file(file: Path, problems: list[Problem], commit: str | None) -> list[Record]:
    shown = str(file)
    text = read_source_text(file, problems)
    if text is None:
        return []
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        line = getattr(exc, "lineno", 1)
        problems.append(Problem(shown, line, "", f"not valid JSON: {getattr(exc, 'msg', exc)}"))
        return []
    if not isinstance(data, dict):
        problems.append(Problem(shown, 1, "", "expected a JSON object of dataset id -> record"))
        return []
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
        record = Record(NAME, str(entry.get("Unique Dataset Identifier") or key), "dataset", name, origin())
        if entry.get("Unique Dataset Identifier") not in (None, name):
            record.aliases.append(str(entry["Unique Dataset Identifier"]))
        hf = entry.get("Hugging Face URL")
        if isinstance(hf, str) and "huggingface.co/datasets/" in hf:
            record.external_ids.append("huggingface:" + hf.split("huggingface.co/datasets/", 1)[1].strip("/"))
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
        records.append(record)
    return records


# A licence file in a GitHub repository (LICENSE, license.txt) whose path says nothing of data: it may be the code's.
_REPOSITORY_LICENCE = re.compile(r"github\.com/[^/]+/[^/]+/blob/[^/]+/(.*licen[cs]e[^/]*)$", re.I)


def _scope(url: object) -> str | None:
    """What a DPC licence is about: the data, unless its evidence is a repository's licence file (then not said)."""
    match = _REPOSITORY_LICENCE.search(url) if isinstance(url, str) else None
    return None if match and "data" not in match.group(1).casefold() else "data"


def _list(entry: dict, field: str, shown: str, key: str, problems: list[Problem]) -> list:
    value = entry.get(field)
    if value is None or value == "":
        return []
    if not isinstance(value, list):
        problems.append(Problem(shown, 1, _pointer(key, field), f"expected a list, got {type(value).__name__}"))
        return []
    return value
