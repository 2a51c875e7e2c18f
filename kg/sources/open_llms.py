"""Markdown tables of open LLMs, as in the open-llms README.

Columns found by their header (Language Model, Release Date, Checkpoints,
Params (B), Licence); a row's checkpoint links to huggingface.co give
external ids. Release dates are `YYYY/MM`; parameters are in billions and
a range (`0.06 - 11`) is a series, not one model, so it gives no count.
"""

from __future__ import annotations

import re
from pathlib import Path

from kg.errors import Problem
from kg.sources import Origin, Record, hub_repo, is_placeholder, map_license, read_source_text, retrieved_on

NAME = "open-llms"
REPOSITORY = "https://github.com/eugeneyan/open-llms"
LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")
COLUMNS = {"name": ("language model", "model", "name"), "released": ("release date",), "checkpoints": ("checkpoints",),
           "parameters": ("params (b)",), "license": ("licence", "license")}


def read(path: Path, problems: list[Problem], commit: str | None = None) -> list[Record]:
    shown = str(path)
    url = f"{REPOSITORY}/blob/{commit or 'main'}/{path.name}"
    retrieved = retrieved_on(path)
    records: list[Record] = []
    header: dict[str, int] | None = None
    kind = "model"
    text = read_source_text(path, problems)
    for number, line in enumerate((text or "").replace("\r\n", "\n").split("\n"), start=1):  # not splitlines: U+2028 in a cell ends no line
        if line.lstrip().startswith("#"):
            # The section says what a table lists: "Open LLM datasets for ..." lists datasets (a heading may start with a space).
            kind = "dataset" if "dataset" in line.casefold() else "model"
        if not line.lstrip().startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in re.sub(r"<!--.*?-->", "", line).strip().strip("|").split("|")]
        if header is None:
            names = [c.casefold() for c in cells]
            header = {key: names.index(n) for key, options in COLUMNS.items() for n in options if n in names}
            if "name" not in header:
                problems.append(Problem(shown, number, "", "table has no 'Language Model' column"))
            continue
        if set("".join(cells)) <= set("-: ") or "name" not in header:
            continue
        records.append(_row(cells, header, kind, Origin(NAME, f"{shown}:{number}", url, retrieved, commit), problems))
    return records


def _cell(cells: list[str], header: dict[str, int], key: str) -> str:
    index = header.get(key)
    return cells[index] if index is not None and index < len(cells) else ""


def _text(cell: str) -> str:
    return LINK.sub(lambda m: m.group(1), cell).strip()


def _row(cells: list[str], header: dict[str, int], kind: str, origin: Origin, problems: list[Problem]) -> Record:
    name = _text(_cell(cells, header, "name"))
    record = Record(NAME, name, kind, name, origin)
    released = _text(_cell(cells, header, "released")).replace("/", "-")
    if re.fullmatch(r"\d{4}-\d{2}", released):
        record.claim("released", released)
    elif released and not is_placeholder(released):
        problems.append(Problem(origin.where.rsplit(":", 1)[0], int(origin.where.rsplit(":", 1)[1]), "Release Date",
                                f"'{released}' is not a YYYY/MM month", level="warning"))
    repos = list(dict.fromkeys(filter(None, (hub_repo(link) for _, link in LINK.findall(_cell(cells, header, "checkpoints"))))))
    if len(repos) == 1:
        # One checkpoint is the row's own Hub id; a row of several is a series ('Phi-3 small/medium' lists the mini ones too).
        record.external_ids.append(f"huggingface:{repos[0]}")
    params = _text(_cell(cells, header, "parameters"))
    if kind == "model" and re.fullmatch(r"\d+(\.\d+)?", params):
        record.claim("parameters", round(float(params) * 10**9))
    license = _text(_cell(cells, header, "license"))
    if license and not is_placeholder(license):
        record.claim("license", map_license(license), scope=record.artefact)  # the table lists checkpoints' licences
    return record
