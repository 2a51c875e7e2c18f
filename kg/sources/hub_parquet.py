"""Parquet dumps of the Hub, read in record batches: rows come out as the API's records.

Three shapes are known, told apart by their columns and name:
* hub-stats' models.parquet (`id`, `author`, `createdAt`, `lastModified`, `downloads`,
  `likes`, `pipeline_tag`, `library_name`, `tags`, `baseModels` as a struct, `cardData` as
  JSON text, `safetensors`, `config`);
* hub-stats' datasets.parquet: the same columns for datasets, in a file named datasets*.parquet;
* the model cards Parquet (librarian-bots/model_cards_with_metadata: `modelId`, `author`,
  `tags`, `createdAt`, `last_modified`, `card`, the whole README).

Only the columns the reader uses are read, one batch of rows at a time, so a dump of
millions of rows never becomes Python objects all at once. Text columns are bounded in
Arrow before a row reaches Python: a `card` is cut to the length its front matter may have,
an oversized `cardData` is dropped with a warning.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kg.errors import Problem
from kg.sources.huggingface import MAX_FRONT_MATTER, MAX_RECORD

BATCH_ROWS = 2_000
TIMES = ("createdAt", "lastModified", "last_modified")
COLUMNS = {
    "models": ("id", "author", "sha", "createdAt", "lastModified", "gated", "pipeline_tag", "library_name", "tags", "baseModels", "cardData", "safetensors"),
    "datasets": ("id", "author", "sha", "createdAt", "lastModified", "gated", "tags", "cardData"),
    "cards": ("modelId", "author", "createdAt", "last_modified", "pipeline_tag", "library_name", "tags", "card"),
}


def open_parquet(path: Path, problems: list[Problem]) -> pq.ParquetFile | None:
    """The Parquet file at `path`, or None with one problem when it is not one that can be read."""
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        problems.append(Problem(str(path), 1, "", f"not a readable Parquet file: {exc}"))
        return None


def read_rows(path: Path, problems: list[Problem]) -> Iterator[tuple[int, dict]]:
    """(row, API-shaped record) of each row; a file that is not a known shape is one problem."""
    shown = str(path)
    table = open_parquet(path, problems)
    if table is None:
        return
    names = set(table.schema_arrow.names)
    shape = "cards" if {"modelId", "card"} <= names else ("datasets" if path.name.startswith("datasets") else "models") if "id" in names else None
    if shape is None:
        problems.append(Problem(shown, 1, "", "not a Hub dump: no 'id' column (hub-stats) nor 'modelId' and 'card' (model cards)"))
        return
    columns = [c for c in COLUMNS[shape] if c in names]
    row = 0
    try:
        for batch in table.iter_batches(batch_size=BATCH_ROWS, columns=columns):
            batch, oversized = _bound(batch)
            for offset, values in enumerate(batch.to_pylist()):
                row += 1
                if offset in oversized:
                    problems.append(Problem(shown, row, "cardData", f"over {MAX_RECORD:,} characters; left out", level="warning"))
                yield row, _as_record(shape, values)
    except (pa.ArrowException, OSError) as exc:
        problems.append(Problem(shown, row + 1, "", f"the Parquet file cannot be read past here: {exc}"))


def _bound(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, set[int]]:
    """The batch with times as text, `card` cut to its front matter's room and oversized `cardData` emptied; and the emptied rows."""
    oversized: set[int] = set()
    names = batch.schema.names
    for name in TIMES:
        if name in names and pa.types.is_timestamp(batch.schema.field(name).type):
            # Text as the API writes it, made in Arrow: a datetime object per value costs more than the rest of the row.
            column = batch.column(name)
            text = pc.strftime(column.cast(pa.timestamp("ms", tz=column.type.tz), safe=False), format="%Y-%m-%dT%H:%M:%SZ")
            batch = batch.set_column(names.index(name), name, text)
    if "card" in names and pa.types.is_string(batch.schema.field("card").type):
        cut = pc.utf8_slice_codeunits(batch.column("card"), 0, MAX_FRONT_MATTER + 8)
        batch = batch.set_column(names.index("card"), "card", cut)
    if "cardData" in names and pa.types.is_string(batch.schema.field("cardData").type):
        column = batch.column("cardData")
        over = pc.fill_null(pc.greater(pc.utf8_length(column), MAX_RECORD), False)
        if pc.any(over).as_py():
            oversized = {i for i, flag in enumerate(over.to_pylist()) if flag}
            batch = batch.set_column(names.index("cardData"), "cardData", pc.if_else(over, pa.scalar(None, pa.string()), column))
    return batch, oversized


def _as_record(shape: str, values: dict[str, Any]) -> dict:
    """A row as the API writes a record: JSON text parsed later, keys renamed, nulls dropped."""
    item = {key: value for key, value in values.items() if value is not None}
    if shape == "cards":
        item["id"] = item.pop("modelId", None)
        if "last_modified" in item:
            item["lastModified"] = item.pop("last_modified")
    elif shape == "datasets":
        item["repoType"] = "dataset"
    for key in ("baseModels", "safetensors"):
        if isinstance(item.get(key), str):  # a dump that keeps them as JSON text
            item[key] = _json(item[key])
    return item


def _json(text: str) -> Any:
    if len(text) > MAX_RECORD:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None
