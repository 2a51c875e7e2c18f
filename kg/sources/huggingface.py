"""Hugging Face: model card front matter (a README.md or a folder of them) and
Hub API dumps (JSON Lines of `HfApi.list_models(full=True, cardData=True)`).

Real cards are messy: `base_model`, `datasets`, `language` may be a string or
a list; keys are misspelled (`base_model_ralation`); `license: other` points
elsewhere. The Hub's tags (`base_model:finetune:<id>`, `dataset:<id>`,
`license:<id>`) say the same as the card for records without one. The Hub's
`createdAt` is the upload date, and 2022-03-02 is the floor it gives every
repository older than that: never a release date.

A dump may hold dataset records too (`HfApi.list_datasets`), marked
`"repoType": "dataset"`. The Hub has no card key for "this dataset holds a
model's outputs"; a dump says so with `generated_by` (a repo id or a list),
which the reader takes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kg.errors import Problem
from kg.sources import Origin, Record, is_placeholder, load_yaml, map_license, read_source_text, retrieved_on, source_lines

NAME = "huggingface"
HUB = "https://huggingface.co"
CREATED_AT_FLOOR = "2022-03-02"
# Misspellings seen in real cards -> the key the Hub documents.
KEY_FIXES = {"base_model_ralation": "base_model_relation", "base_models": "base_model", "basemodel": "base_model",
             "dataset": "datasets", "languages": "language", "licence": "license"}
RELATIONS = {"finetune": "finetune", "adapter": "adapter", "merge": "merge", "quantized": "quantized"}
QUANTIZED_TAGS = {"gguf", "gptq", "awq", "exl2", "4-bit", "8-bit"}


def read(path: Path, problems: list[Problem], commit: str | None = None) -> list[Record]:
    if path.is_dir():
        return [r for card in sorted(path.rglob("README.md")) for r in _read_card(card, path, problems, commit)]
    if path.suffix in (".jsonl", ".json"):
        return _read_jsonl(path, problems)
    return _read_card(path, path.parent, problems, commit)


def _read_card(card: Path, root: Path, problems: list[Problem], commit: str | None) -> list[Record]:
    shown = str(card)
    text = read_source_text(card, problems)
    if text is None:
        return []
    if not text.startswith("---"):
        problems.append(Problem(shown, 1, "", "no YAML front matter (a model card starts with '---')"))
        return []
    end = text.find("\n---", 3)
    if end < 0:
        problems.append(Problem(shown, 1, "", "front matter is not closed by '---'"))
        return []
    known = len(problems)
    meta = load_yaml(text[3:end], shown, problems)  # bounded: an alias bomb is refused before it expands
    if len(problems) > known:
        return []
    meta = meta or {}
    if not isinstance(meta, dict):
        problems.append(Problem(shown, 2, "", "front matter is not a mapping"))
        return []
    lines = {line.split(":", 1)[0].strip(): n for n, line in enumerate(text[:end].splitlines(), start=1) if ":" in line and not line.startswith(" ")}
    # The repository id is the card's folder path under the root (owner/name), else the model_name.
    relative = card.parent.relative_to(root).as_posix() if card.parent != root else ""
    repo = relative if relative.count("/") == 1 else str(meta.get("model_name") or card.parent.name)
    retrieved = retrieved_on(card)

    def origin(key: str) -> Origin:
        return Origin(NAME, f"{shown}:{lines.get(key, 1)}", f"{HUB}/{repo}", retrieved, commit)

    return [_record(repo, _fix_keys(meta), [], None, origin)]


def _read_jsonl(path: Path, problems: list[Problem]) -> list[Record]:
    shown = str(path)
    retrieved = retrieved_on(path)
    records = []
    for number, line in source_lines(path, problems):  # line by line: a dump of the whole Hub is gigabytes
        record = _read_line(line, number, shown, retrieved, problems)
        if record is not None:
            records.append(record)
    return records


def _read_line(line: str, number: int, shown: str, retrieved: str, problems: list[Problem]) -> Record | None:
    if not line.strip():
        return None
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        problems.append(Problem(shown, number, "", f"not valid JSON: {exc.msg}"))
        return None
    if not isinstance(item, dict) or not isinstance(item.get("id") or item.get("modelId"), str):
        problems.append(Problem(shown, number, "id", "a Hub model record needs an 'id'"))
        return None
    repo = item.get("id") or item["modelId"]
    card = item.get("cardData") or item.get("card_data") or {}
    card = _fix_keys(card if isinstance(card, dict) else {})
    tags = item["tags"] if isinstance(item.get("tags"), list) else []  # anything else is no tags, not a crash
    dataset = item.get("repoType") == "dataset"
    # Shared by every value of the record: one string each, not one per value.
    url, commit, where = f"{HUB}/datasets/{repo}" if dataset else f"{HUB}/{repo}", item.get("sha"), f"{shown}:{number}#/"

    def origin(key: str) -> Origin:
        return Origin(NAME, where + key, url, retrieved, commit)

    return (_dataset_record if dataset else _record)(repo, card, tags, item.get("createdAt"), origin)


def _fix_keys(meta: dict) -> dict:
    return {KEY_FIXES.get(str(k).casefold(), str(k)): v for k, v in meta.items()}


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _record(repo: str, card: dict, tags: list, created: Any, origin) -> Record:  # noqa: ANN001
    name = repo.split("/")[-1]
    record = Record(NAME, repo, "model", name, origin("id"), aliases=[repo], external_ids=[f"huggingface:{repo}"])
    tag_bases = [(t.split(":")[1], t.split(":", 2)[2]) for t in tags if isinstance(t, str) and t.startswith("base_model:") and t.count(":") >= 2]
    bases = _as_list(card.get("base_model"))
    relation = card.get("base_model_relation")
    for base in bases:
        record.mention("derived_from", f"huggingface:{base}", "model", origin("base_model"), _relation(relation, bases, tags, card))
    for kind, base in tag_bases if not bases else []:
        record.mention("derived_from", f"huggingface:{base}", "model", origin("tags"), RELATIONS.get(kind, "finetune"))
    datasets = _as_list(card.get("datasets")) or [t[len("dataset:"):] for t in tags if isinstance(t, str) and t.startswith("dataset:")]
    for dataset in datasets:
        record.mention("trained_on", f"huggingface:{dataset}", "dataset", origin("datasets"))
    _claim_common(record, card, tags, created, origin)
    return record


def _dataset_record(repo: str, card: dict, tags: list, created: Any, origin) -> Record:  # noqa: ANN001
    record = Record(NAME, repo, "dataset", repo.split("/")[-1], origin("id"), aliases=[repo], external_ids=[f"huggingface:{repo}"])
    for model in _as_list(card.get("generated_by")):
        record.mention("generated_by", f"huggingface:{model}", "model", origin("generated_by"))
    _claim_common(record, card, tags, created, origin)
    return record


def _claim_common(record: Record, card: dict, tags: list, created: Any, origin) -> None:  # noqa: ANN001
    """The claims models and datasets share: licence, languages, upload date."""
    licenses = _as_list(card.get("license")) or [t[len("license:"):] for t in tags if isinstance(t, str) and t.startswith("license:")]
    for license in licenses:
        if license.casefold() != "other" and not is_placeholder(license):
            record.claim("license", map_license(license), origin("license"), record.artefact)  # a repo's licence covers the files it holds
    for language in _as_list(card.get("language")):
        record.claim("languages", language, origin("language"))
    if isinstance(created, str) and created[:10] > CREATED_AT_FLOOR:
        record.claim("uploaded", created[:10], origin("createdAt"))


def _relation(explicit: Any, bases: list[str], tags: list, card: dict) -> str:
    """The Hub's inference: an explicit relation wins; several bases make a merge; adapter and quantization files or tags say so; else a fine-tune."""
    if isinstance(explicit, str) and explicit in RELATIONS:
        return RELATIONS[explicit]
    tagset = {t.casefold() for t in tags if isinstance(t, str)}
    if len(bases) > 1:
        return "merge"
    if card.get("library_name") == "peft" or "peft" in tagset or "lora" in tagset:
        return "adapter"
    if tagset & QUANTIZED_TAGS:
        return "quantized"
    return "finetune"
