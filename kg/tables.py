"""Hub records as Arrow tables: the whole Hub (millions of models) read, joined, given terms
and written without a Python object per record.

The object path (kg.sources.huggingface -> kg.merge -> kg.stream) makes a `Record` with its
claims and mentions for each model: 5-7 KB of Python objects, 20 GB at the Hub's 3 million
models. Here a dump (the Hub API's JSON Lines, or hub-stats' models/datasets Parquet) is read
in batches straight into Arrow columns, checked with Arrow's compute functions, and kept as
four tables:

* records: one row a source record (file, row, Hub id, kind, version, upload day, licence,
  parameter count);
* mentions: one row a reference a record makes (record, field, relation, Hub id);
* entities: one row an entity the records describe (id, kind, name, Hub id, accepted
  licence, terms signature), new ones with ids made as kg.merge makes them;
* edges: the accepted lineage (entity, relation, field, target, record).

pyarrow rather than Polars: it is already a dependency (the Parquet reader), it reads JSON
Lines with an explicit schema in C++ threads, its string kernels write the RDF terms, and
pyoxigraph and the Parquet files exchange Arrow buffers without a copy. Polars would add a
second columnar engine of ~30 MB for the same joins.

What a row of the fast path cannot hold (a field of another JSON type than the Hub writes,
a line that is not JSON, a blank line in a batch) sends that batch of lines through the object
reader's own `record_of`, one record at a time, so every check and message of the object path
applies; its Records become rows of the same tables. Identity, lineage and licences follow
kg.merge and kg.sources.huggingface, with one difference in what is read: the lineage and the
datasets come from the Hub's derived tags (`base_model:<relation>:<id>`, `dataset:<id>`) and
the API's `baseModels`, not from the card's `base_model` list, which the Hub turns into those
tags (docs/how-to/hub-scale.md).
"""

from __future__ import annotations

import io
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq

from kg.errors import Problem
from kg.stream import TABLE_FILES
from kg.sources import PLACEHOLDERS, Record, map_license, retrieved_on
from kg.sources import huggingface as hf

SOURCE = "huggingface"
BATCH_BYTES = 8 << 20  # JSON Lines read per batch: a batch that needs the object reader costs at most this much
READ_THREADS = 2  # batches parsed and checked at once (the 2 cores of benchmarks/RESULTS.md: 1.9 times one thread)
HASHED_APART = 1 << 20  # texts from which a column is grouped or matched in parts by length (`_length_parts`), READ_THREADS at a time
LENGTH_PARTS = 8
PARQUET_ROWS = 100_000
# The Hub id rule of kg.sources.huggingface.HUB_ID in RE2 (Arrow's regex engine); '--' and '..' are refused apart.
_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"
HUB_ID_RE2 = rf"^(?:{_PART}/)?{_PART}$"
SHA_RE2 = r"^[0-9a-f]{40}$"
TIME_RE2 = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?$"
DAY_RE2 = r"^\d{4}-\d\d-\d\d"

# The fields of an API record the fast path reads, with the types the Hub writes them in.
JSON_SCHEMA = pa.schema([
    ("id", pa.string()), ("modelId", pa.string()), ("repoType", pa.string()), ("sha", pa.string()),
    ("createdAt", pa.string()), ("lastModified", pa.string()), ("library_name", pa.string()),
    ("tags", pa.list_(pa.string())),
    ("baseModels", pa.struct([("relation", pa.string()), ("models", pa.list_(pa.struct([("id", pa.string())])))])),
    ("safetensors", pa.struct([("total", pa.int64())])),
    ("cardData", pa.struct([("license", pa.string()), ("license_name", pa.string()), ("library_name", pa.string()),
                            ("generated_by", pa.list_(pa.string()))])),
])

RECORDS = pa.schema([("file", pa.int32()), ("row", pa.int64()), ("id", pa.string()), ("kind", pa.string()),
                     ("version", pa.string()), ("uploaded", pa.string()), ("license", pa.string()), ("parameters", pa.int64())])
MENTIONS = pa.schema([("record", pa.int64()), ("field", pa.string()), ("relation", pa.string()), ("text", pa.string()),
                      ("kind", pa.string()), ("pointer", pa.string())])
# A record's licence claims beyond its first (the accepted one is in `records`): kept for the named graphs.
LICENCES = pa.schema([("record", pa.int64()), ("license", pa.string())])


@dataclass
class HubTables:
    """What `read_hub_tables` reads: the files, and one table each of records, mentions and extra licence claims."""
    files: list[str]
    retrieved: list[str]
    records: pa.Table
    mentions: pa.Table
    licences: pa.Table
    problems: list[Problem] = field(default_factory=list)


# --- reading --------------------------------------------------------------------------------


# Dumps from this size on take the columnar path in `kg build`; smaller ones keep the object path, whose
# export (graph.json, the claims' form) the rest of the project still reads until both write the same RDF.
TABLES_FROM_BYTES = 32 * 2**20
LINEAGE_ROWS = 1 << 20  # rows in each row group of entities.parquet and edges.parquet (pyarrow's default)


def is_table_dump(path: Path) -> bool:
    """Whether `kg build` reads `path` by the columnar path: an API JSON Lines file or a hub-stats Parquet file
    of TABLES_FROM_BYTES or more (a folder of cards, the cards Parquet and small dumps are the object path's)."""
    path = Path(path)
    if path.is_dir() or path.suffix not in (".jsonl", ".parquet") or not path.is_file() or path.stat().st_size < TABLES_FROM_BYTES:
        return False
    if path.suffix == ".parquet":
        try:
            return "card" not in pq.ParquetFile(path).schema_arrow.names  # the model cards Parquet needs each README parsed
        except (pa.ArrowException, OSError):
            return False  # the object reader says what is wrong with it
    return True


def read_hub_tables(paths: list[Path]) -> HubTables:
    """Read Hub dumps into tables; problems (errors and warnings, each with file and row) are in `.problems`.
    The files are read in order by this thread; each batch is parsed and checked by one of READ_THREADS
    (Arrow's JSON parser and compute kernels let go of the GIL), and the batches are kept in file order."""
    problems: list[Problem] = []
    parts: list[tuple[pa.Table, pa.Table, pa.Table]] = []
    offset = 0
    with ThreadPoolExecutor(READ_THREADS) as pool:
        for number, path in enumerate(paths):
            jobs = _parquet_batches(path, problems) if path.suffix == ".parquet" else _json_batches(path, problems)
            for (records, mentions, licences), found in _in_order(pool, jobs, number, str(path)):
                problems += found
                parts.append((records, _shift(mentions, offset), _shift(licences, offset)))
                offset += records.num_rows
    tables = [pa.concat_tables([p[i] for p in parts]) if parts else schema.empty_table() for i, schema in enumerate((RECORDS, MENTIONS, LICENCES))]
    # One chunk a column: a batch of rows taken from a table of many chunks costs a pass over all of them
    # (Arrow's take on chunked arrays), which made writing the records quadratic.
    records = _keep_last(tables[0].combine_chunks())
    give_back()
    return HubTables([str(p) for p in paths], [retrieved_on(p) for p in paths], records, tables[1], tables[2], problems)


def _in_order(pool, jobs: Iterator[Callable[[list[Problem]], tuple]], file: int, shown: str) -> Iterator[tuple[tuple, list[Problem]]]:  # noqa: ANN001
    """Each job's tables and problems, in the jobs' order, with at most two batches a thread read ahead."""
    pending: deque = deque()
    for job in jobs:
        pending.append(pool.submit(_read_batch, job, file, shown))
        if len(pending) > 2 * READ_THREADS:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _read_batch(job: Callable[[list[Problem]], tuple], file: int, shown: str) -> tuple[tuple[pa.Table, pa.Table, pa.Table], list[Problem]]:
    """A batch's records, mentions and licences, and the problems found in it."""
    problems: list[Problem] = []
    raw, fallback = job(problems)
    return (_from_raw(raw, file, shown, problems) if raw is not None else _from_records(fallback, file)), problems


def codes_of(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Equal values, equal small integers: the group keys of numpy's grouping (nulls are one group of their own).
    A long text column is encoded in parts by length (`_length_parts`), two at a time."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if len(values) < HASHED_APART or not pa.types.is_string(values.type):
        return _encoded(values)[0]
    parts = _length_parts(values)
    codes = np.empty(len(values), dtype=np.int64)
    offset = 0
    with ThreadPoolExecutor(READ_THREADS) as pool:
        for rows, (part, distinct) in zip(parts, pool.map(lambda rows: _encoded(pc.take(values, pa.array(rows))), parts)):
            codes[rows] = part + offset
            offset += distinct
    return codes


def _encoded(values: pa.Array) -> tuple[np.ndarray, int]:
    """codes_of in one piece, and how many codes it gave."""
    if not len(values):
        return np.zeros(0, dtype=np.int64), 0
    encoded = pc.dictionary_encode(values)
    return pc.fill_null(encoded.indices, len(encoded.dictionary)).to_numpy().astype(np.int64), len(encoded.dictionary) + (values.null_count > 0)


def _length_parts(values: pa.Array) -> list[np.ndarray]:
    """The rows of a text column in LENGTH_PARTS + 1 parts: by length modulo LENGTH_PARTS, then the nulls. Equal texts
    have equal lengths, so texts are grouped or matched part by part: each part's hash table is a fraction of the
    whole, and two parts are hashed at once (Arrow lets go of the GIL). At three million models, the 6.1 million
    names and ids `_name_joins` compares took 0.9 s this way, and 1.6-5.4 s in one piece (benchmarks/RESULTS.md)."""
    length = pc.fill_null(pc.binary_length(values), -1).to_numpy(zero_copy_only=False)
    part = np.where(length < 0, LENGTH_PARTS, length % LENGTH_PARTS).astype(np.uint8)
    rows = np.argsort(part, kind="stable")  # a radix sort of small numbers: each part's rows in their order
    return np.split(rows, np.cumsum(np.bincount(part, minlength=LENGTH_PARTS + 1))[:-1])


def codes_of_rows(*columns: pa.Array | pa.ChunkedArray | np.ndarray) -> np.ndarray:
    """codes_of over several columns (arrays of text, or codes already): equal rows, equal small integers. Each
    column is encoded alone and the codes combined, which costs a third of encoding their texts joined."""
    codes = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        part = column if isinstance(column, np.ndarray) else codes_of(column)
        codes = codes * (int(part.max()) + 1 if len(part) else 1) + part
        if len(codes) and codes.max() >= 1 << 40:
            codes = np.unique(codes, return_inverse=True)[1].astype(np.int64)
    return np.unique(codes, return_inverse=True)[1].astype(np.int64) if len(codes) and codes.max() >= 4 * len(codes) else codes


def give_back() -> None:
    """Return freed memory to the system now. The allocator keeps what a stage freed for the next
    allocations, and after a join of millions of rows that is about 0.9 GB a million models (glibc's heap,
    trimmed by Arrow's pool); called between stages, it keeps the peak to what each stage holds."""
    pa.default_memory_pool().release_unused()


def _shift(table: pa.Table, offset: int) -> pa.Table:
    return table.set_column(0, "record", pc.add(table["record"], offset)) if offset else table


def _keep_last(records: pa.Table) -> pa.Table:
    """A later record of the same kind and id replaces the earlier one (`kg fetch --update` appends), in the earlier one's place."""
    codes = codes_of_rows(records["kind"], records["id"])
    _, first = np.unique(codes, return_index=True)
    if len(first) == len(codes):
        return records.append_column("position", pa.array(np.arange(len(codes))))
    last = len(codes) - 1 - np.unique(codes[::-1], return_index=True)[1]
    order = np.argsort(first, kind="stable")
    # The table keeps every row (mentions point at row numbers); a replaced row gets no position.
    position = np.full(len(codes), -1, dtype=np.int64)
    position[last[order]] = np.arange(len(order))
    return records.append_column("position", pa.array(position))


def _json_batches(path: Path, problems: list[Problem]) -> Iterator[Callable[[list[Problem]], tuple]]:
    """A job for each batch of lines, read here: called with a list for its problems, it gives (raw table, None)
    when Arrow reads the lines as the Hub writes them, else (None, [(row, Record)]) from the object reader."""
    shown = str(path)
    handle = hf.open_source(path, problems, whole=False)  # a FIFO or a device is refused, not waited on
    if handle is None:
        return
    options = pj.ParseOptions(explicit_schema=JSON_SCHEMA, unexpected_field_behavior="ignore")
    dataset = path.name.startswith("datasets")
    line = 1
    with open(handle, "rb") as data:
        first = data.read(64).lstrip()
        data.seek(0)
        if first.startswith(b"["):  # one JSON array (curl's answer): the object reader, which bounds its size
            yield lambda found: (None, _object_rows(hf._array_items(path, found), shown, retrieved_on(path), dataset, found))
            return
        rest = b""
        while True:
            block = data.read(BATCH_BYTES)
            chunk = rest + block
            cut = chunk.rfind(b"\n") + 1 if block else len(chunk)
            if not cut and block:  # a line longer than a batch, so than any record may be: left out, read to its end
                length, rest = _skip_line(data, chunk)
                problems.append(Problem(shown, line, "", f"record of {length:,} bytes is over the {hf.MAX_RECORD:,} characters a record may have; left out", level="warning"))
                line += 1
                continue
            chunk, rest = chunk[:cut], chunk[cut:]
            if not chunk:
                break
            lines = chunk.count(b"\n") + (not chunk.endswith(b"\n"))
            yield partial(_json_batch, chunk, line, lines, path, dataset, options)
            line += lines


def _skip_line(data: BinaryIO, start: bytes) -> tuple[int, bytes]:
    """Read past the line `start` begins: its length in bytes, and what follows its end."""
    length = len(start)
    while block := data.read(BATCH_BYTES):
        end = block.find(b"\n")
        if end >= 0:
            return length + end, block[end + 1:]
        length += len(block)
    return length, b""


def _json_batch(chunk: bytes, line: int, lines: int, path: Path, dataset: bool, options: pj.ParseOptions, problems: list[Problem]) -> tuple:
    raw = _parse_lines(chunk, options)
    if raw is not None and raw.num_rows == lines:
        return _with_rows(raw, line, dataset), None
    return None, _object_rows(_chunk_items(chunk, line, str(path), problems), str(path), retrieved_on(path), dataset, problems)


def _parse_lines(chunk: bytes, options: pj.ParseOptions) -> pa.Table | None:
    if b"\n\n" in chunk or chunk.startswith(b"\n") or b"\r" in chunk:
        return None  # blank lines: Arrow skips them and the row numbers would shift
    try:
        return pj.read_json(io.BytesIO(chunk), parse_options=options, read_options=pj.ReadOptions(block_size=1 << 24))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _with_rows(raw: pa.Table, first_line: int, dataset: bool) -> pa.Table:
    raw = raw.append_column("row", pa.array(np.arange(first_line, first_line + raw.num_rows, dtype=np.int64)))
    if dataset:
        raw = raw.set_column(raw.schema.get_field_index("repoType"), "repoType", pa.array(["dataset"] * raw.num_rows, pa.string()))
    return raw


def _chunk_items(chunk: bytes, first_line: int, shown: str, problems: list[Problem]) -> Iterator[tuple[int, object]]:
    """The object reader's reading of a batch of lines: each line parsed alone, bad ones reported by line."""
    for number, line in enumerate(chunk.decode("utf-8", errors="replace").split("\n"), start=first_line):
        if not line.strip():
            continue
        if len(line) > hf.MAX_RECORD:
            problems.append(Problem(shown, number, "", f"record of {len(line):,} characters is over the {hf.MAX_RECORD:,} a record may have; left out", level="warning"))
            continue
        item = hf._parse_json(line.strip(), shown, number, problems)
        if item is not None:
            yield number, item


def _object_rows(items, shown: str, retrieved: str, dataset: bool, problems: list[Problem]) -> list[tuple[int, Record]]:  # noqa: ANN001
    rows = []
    for row, item in items:
        if dataset and isinstance(item, dict):
            item = {"repoType": "dataset", **item}
        record = hf.record_of(item, shown, row, retrieved, problems)
        if record is not None:
            rows.append((row, record))
    return rows


def _parquet_batches(path: Path, problems: list[Problem]) -> Iterator[Callable[[list[Problem]], tuple]]:
    """hub-stats' Parquet, batch by batch, as jobs giving the raw table of the JSON path (its cardData is JSON text:
    the licence fields are taken from it with a regular expression; a file of another shape goes through the object reader)."""
    from kg.sources.hub_parquet import open_parquet, read_rows

    shown = str(path)
    parquet = open_parquet(path, problems)
    if parquet is None:
        return
    names = set(parquet.schema_arrow.names)
    base_struct = "baseModels" in names and pa.types.is_struct(parquet.schema_arrow.field("baseModels").type)
    if "id" not in names or "card" in names or ("baseModels" in names and not base_struct):
        yield lambda found: (None, _object_rows(read_rows(path, found), shown, retrieved_on(path), False, found))
        return
    dataset = path.name.startswith("datasets")
    wanted = [c for c in ("id", "sha", "createdAt", "lastModified", "library_name", "tags", "baseModels", "cardData", "safetensors") if c in names]
    row = 1
    try:
        for batch in parquet.iter_batches(batch_size=PARQUET_ROWS, columns=wanted):
            yield partial(_parquet_batch, batch, row, shown, dataset)
            row += batch.num_rows
    except (pa.ArrowException, OSError) as exc:
        problems.append(Problem(shown, row, "", f"the Parquet file cannot be read past here: {exc}"))


def _parquet_batch(batch: pa.RecordBatch, row: int, shown: str, dataset: bool, problems: list[Problem]) -> tuple:
    from kg.sources.hub_parquet import _bound

    batch, oversized = _bound(batch)
    for offset in sorted(oversized):
        problems.append(Problem(shown, row + offset, "cardData", f"over {hf.MAX_RECORD:,} characters; left out", level="warning"))
    return _with_rows(_raw_of_parquet(pa.Table.from_batches([batch]), dataset), row, False), None


def _raw_of_parquet(table: pa.Table, dataset: bool) -> pa.Table:
    n = table.num_rows

    def column(name: str, kind: pa.DataType) -> pa.Array:
        if name in table.column_names and table[name].type == kind:
            return table[name].combine_chunks()
        return pa.nulls(n, kind)

    card = column("cardData", pa.string())
    license = pc.struct_field(pc.extract_regex(card, r'"license"\s*:\s*"(?P<v>[^"\\]*)"'), "v")
    license_name = pc.struct_field(pc.extract_regex(card, r'"license_name"\s*:\s*"(?P<v>[^"\\]*)"'), "v")
    safetensors = table["safetensors"].combine_chunks() if "safetensors" in table.column_names else None
    total = pc.struct_field(safetensors, "total") if safetensors is not None and pa.types.is_struct(safetensors.type) and "total" in [f.name for f in safetensors.type] else pa.nulls(n, pa.int64())
    arrays = {
        "id": column("id", pa.string()), "modelId": pa.nulls(n, pa.string()),
        "repoType": pa.array(["dataset" if dataset else None] * n, pa.string()),
        "sha": column("sha", pa.string()), "createdAt": column("createdAt", pa.string()), "lastModified": column("lastModified", pa.string()),
        "library_name": column("library_name", pa.string()), "tags": column("tags", pa.list_(pa.string())),
        "baseModels": table["baseModels"].combine_chunks().cast(JSON_SCHEMA.field("baseModels").type) if "baseModels" in table.column_names else pa.nulls(n, JSON_SCHEMA.field("baseModels").type),
        "safetensors": pa.StructArray.from_arrays([pc.cast(total, pa.int64())], ["total"]),
        "cardData": pa.StructArray.from_arrays([license, license_name, pa.nulls(n, pa.string()), pa.nulls(n, pa.list_(pa.string()))],
                                               ["license", "license_name", "library_name", "generated_by"]),
    }
    return pa.table(arrays)


# --- a raw batch -> records, mentions, licences ---------------------------------------------


def _from_raw(raw: pa.Table, file: int, shown: str, problems: list[Problem]) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Check a raw batch in Arrow; its good rows become records, their references mentions."""
    raw = pa.RecordBatch.from_arrays([c.combine_chunks() for c in raw.columns], raw.column_names)  # one chunk: arrays, not chunked arrays
    ids = pc.coalesce(raw["id"], raw["modelId"])
    valid = pc.and_(pc.match_substring_regex(ids, HUB_ID_RE2),
                    pc.invert(pc.or_(pc.match_substring(ids, "--"), pc.match_substring(ids, ".."))))
    valid = pc.fill_null(valid, False)
    if not pc.all(valid).as_py():
        for row, repo in zip(pc.filter(raw["row"], pc.invert(valid)).to_pylist(), pc.filter(ids, pc.invert(valid)).to_pylist()):
            if repo is None:
                problems.append(Problem(shown, row, "id", "a Hub model record needs an 'id'"))
            else:
                problems.append(Problem(shown, row, "id", f"'{hf._shorten(repo)}' cannot be a Hub id", "a Hub id is owner/name in letters, digits, '-', '_' and '.'"))
        raw, ids = raw.filter(valid), pc.filter(ids, valid)
    n = raw.num_rows
    kind = pc.if_else(pc.equal(pc.fill_null(raw["repoType"], ""), "dataset"), "dataset", "model")
    sha = raw["sha"]
    changed = pc.coalesce(raw["lastModified"])
    version = pc.if_else(pc.fill_null(pc.match_substring_regex(sha, SHA_RE2), False), sha,
                         pc.if_else(pc.fill_null(pc.match_substring_regex(changed, TIME_RE2), False), changed, pa.scalar(None, pa.string())))
    created = pc.utf8_slice_codeunits(raw["createdAt"], 0, 10)
    uploaded = pc.if_else(pc.fill_null(pc.and_(pc.match_substring_regex(raw["createdAt"], DAY_RE2), pc.greater(created, hf.CREATED_AT_FLOOR)), False),
                          created, pa.scalar(None, pa.string()))
    total = pc.struct_field(raw["safetensors"], "total")
    parameters = pc.if_else(pc.fill_null(pc.greater(total, 0), False), total, pa.scalar(None, pa.int64()))
    first, extra = _licences(raw, kind)
    records = pa.table({"file": pa.array(np.full(n, file, dtype=np.int32)), "row": raw["row"], "id": ids, "kind": kind,
                        "version": version, "uploaded": uploaded, "license": first, "parameters": parameters}, schema=RECORDS)
    mentions = pa.concat_tables([_lineage(raw, ids, kind, shown, problems), _tagged_datasets(raw, kind, shown, problems), _generated_by(raw, kind)])
    return records, mentions, extra


def _flat_tags(raw: pa.Table) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Every tag, the row it belongs to and its index in that row's list (bounded to MAX_TAGS per record)."""
    tags = raw["tags"]
    flat = pc.list_flatten(tags)
    parents = pc.list_parent_indices(tags).to_numpy()
    offsets = tags.offsets.to_numpy()
    index = np.arange(len(parents)) - (offsets[parents] - offsets[0])
    keep = index < hf.MAX_TAGS
    if not keep.all():
        flat, parents, index = pc.filter(flat, pa.array(keep)), parents[keep], index[keep]
    return flat, parents, index


def _prefixed(raw: pa.Table, prefix: str, problems: list[Problem], shown: str) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """(text after `prefix`, row, tag index) of the tags that start with it; overlong or unprintable ones warned about and left out."""
    flat, parents, index = _flat_tags(raw)
    mask = pc.fill_null(pc.starts_with(flat, prefix), False)
    texts, parents, index = pc.filter(flat, mask), parents[mask.to_numpy(zero_copy_only=False)], index[mask.to_numpy(zero_copy_only=False)]
    good = pc.and_(pc.less_equal(pc.utf8_length(texts), hf.MAX_TEXT), pc.utf8_is_printable(texts))
    good_np = good.to_numpy(zero_copy_only=False)
    if not good_np.all():
        rows = raw["row"].to_numpy()
        for p, i in zip(parents[~good_np], index[~good_np]):
            problems.append(Problem(shown, int(rows[p]), f"tags.{i}", "over-long or holds control characters; left out", level="warning"))
        texts, parents, index = pc.filter(texts, good), parents[good_np], index[good_np]
    return pc.utf8_slice_codeunits(texts, len(prefix)), parents, index


def _licences(raw: pa.Table, kind: pa.Array) -> tuple[pa.Array, pa.Table]:
    """Each record's first licence claim, mapped to our ids as kg.sources.map_license maps them, and its other claims.

    As the object reader: the card's `license`, else every `license:` tag; `other` stands for the card's
    `license_name`; placeholders ('unknown', 'n/a'...) are no claim."""
    card = raw["cardData"]
    stated = pc.utf8_trim_whitespace(pc.struct_field(card, "license"))
    usable = pc.and_(pc.less_equal(pc.utf8_length(stated), hf.MAX_TEXT), pc.utf8_is_printable(stated))
    stated = pc.if_else(pc.fill_null(usable, False), stated, pa.scalar(None, pa.string()))
    name = pc.utf8_trim_whitespace(pc.struct_field(card, "license_name"))
    is_other = pc.fill_null(pc.equal(pc.utf8_lower(stated), "other"), False)
    from_card = pc.if_else(is_other, name, stated)
    from_card = pc.if_else(pc.fill_null(pc.is_in(pc.utf8_lower(from_card), pa.array(sorted(PLACEHOLDERS))), False), pa.scalar(None, pa.string()), from_card)
    flat, parents, index = _prefixed(raw, "license:", [], "") if raw.num_rows else (pa.array([], pa.string()), np.zeros(0, int), np.zeros(0, int))
    tag_licence = pc.utf8_trim_whitespace(flat)
    bad = pc.or_(pc.equal(pc.utf8_lower(tag_licence), "other"), pc.is_in(pc.utf8_lower(tag_licence), pa.array(sorted(PLACEHOLDERS))))
    keep = pc.invert(pc.fill_null(bad, True)).to_numpy(zero_copy_only=False)
    has_card = pc.is_valid(stated).to_numpy(zero_copy_only=False)
    keep &= ~has_card[parents] if len(parents) else keep
    tag_licence, parents = pc.filter(tag_licence, pa.array(keep)), parents[keep]
    # The first tag licence of each record, and the rest as extra claims.
    first_tag = np.full(raw.num_rows, -1, dtype=np.int64)
    order = np.arange(len(parents))
    firsts = np.ones(len(parents), dtype=bool)
    firsts[1:] = parents[1:] != parents[:-1]
    first_tag[parents[firsts]] = order[firsts]
    texts = tag_licence.to_pylist()
    tag_first = [texts[i] if i >= 0 else None for i in first_tag]
    first = pc.coalesce(from_card, pa.array(tag_first, pa.string()))
    extra = pa.table({"record": pa.array(parents[~firsts], pa.int64()), "license": pc.filter(tag_licence, pa.array(~firsts))}, schema=LICENCES)
    return _map_licences(first), extra.set_column(1, "license", _map_licences(extra["license"].combine_chunks()))


def _map_licences(values: pa.Array) -> pa.Array:
    """map_license over the distinct values only: a dump of millions names a few thousand licences."""
    encoded = pc.dictionary_encode(values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values)
    mapped = pa.array([map_license(v) for v in encoded.dictionary.to_pylist()], pa.string())
    return pc.take(mapped, encoded.indices)


def _lineage(raw: pa.Table, ids: pa.Array, kind: pa.Array, shown: str, problems: list[Problem]) -> pa.Table:
    """One mention per base and stated relation, as kg.sources.huggingface._add_lineage: `baseModels` first, then the
    `base_model:` tags; where no encoding states a relation, the Hub's inference (adapter, quantization, merge, fine-tune)."""
    rows = raw["row"].to_numpy()
    # baseModels: {"relation": ..., "models": [{"id": ...}]}
    bases = raw["baseModels"]
    models = pc.struct_field(bases, "models")
    flat_models = pc.list_flatten(models)
    api_parents = pc.list_parent_indices(models).to_numpy()
    api_ids = pc.struct_field(flat_models, "id") if len(flat_models) else pa.array([], pa.string())
    api_relation = pc.take(pc.struct_field(bases, "relation"), pa.array(api_parents, pa.int64())) if len(api_parents) else pa.array([], pa.string())
    api_pointer: list[str] = []
    if len(api_parents):
        within = np.arange(len(api_parents)) - np.searchsorted(api_parents, api_parents, side="left")
        api_pointer = [f"baseModels/models/{i}/id" for i in within]
    texts, parents, index = _prefixed(raw, "base_model:", problems, shown)
    # 'relation:id' split at its last ':' (a regular expression costs six times more); a lone id states no relation.
    parts = pc.split_pattern(pc.binary_join_element_wise("", texts, ":"), ":", max_splits=1, reverse=True)  # ':' first: always two parts
    head, tag_base = pc.list_element(parts, 0), pc.list_element(parts, 1)
    tag_relation = pc.if_else(pc.equal(head, ""), pa.scalar(None, pa.string()), pc.utf8_slice_codeunits(head, 1))
    claims = pa.table({
        "parent": pa.array(np.concatenate([api_parents, parents]).astype(np.int64)),
        "base": pa.concat_arrays([api_ids.cast(pa.string()), tag_base.cast(pa.string())]) if len(api_ids) or len(tag_base) else pa.array([], pa.string()),
        "relation": pa.concat_arrays([api_relation.cast(pa.string()), tag_relation.cast(pa.string())]) if len(api_parents) or len(tag_relation) else pa.array([], pa.string()),
        "stated": pa.concat_arrays([pc.is_valid(api_relation), pc.is_valid(tag_relation)]) if len(api_parents) or len(tag_relation) else pa.array([], pa.bool_()),
        "pointer": pa.concat_arrays([pa.array(api_pointer, pa.string()), _pointers("tags/", index)]),
    })
    claims = claims.filter(pc.is_valid(claims["base"]))
    claims = _checked_ids(claims, "base", rows, shown, problems)
    # Per record and base (case aside): the stated relations if any, else the inferred one; each relation once.
    folded = pc.utf8_lower(claims["base"])
    codes = codes_of_rows(claims["parent"].to_numpy(), folded)
    stated = claims["stated"].to_numpy(zero_copy_only=False)
    any_stated = np.zeros(codes.max() + 1 if len(codes) else 0, dtype=bool)
    np.logical_or.at(any_stated, codes, stated)
    _, first_of = np.unique(codes, return_index=True)
    is_first = np.zeros(len(codes), dtype=bool)
    is_first[first_of] = True
    keep = stated | (~any_stated[codes] & is_first)
    claims, codes = claims.filter(pa.array(keep)), codes[keep]
    inferred = _inferred_relations(raw)
    parent = claims["parent"].to_numpy()
    relation = pc.if_else(claims["stated"], pc.take(pa.array(list(hf.RELATIONS)), pc.index_in(claims["relation"], pa.array(list(hf.RELATIONS)))),
                          pc.take(inferred, pa.array(parent)))
    # A relation stated twice for a base is agreement, not a second claim.
    _, unique = np.unique(codes_of_rows(codes, pc.fill_null(relation, "\x00")), return_index=True)
    chosen = np.sort(unique)
    return pa.table({"record": pa.array(parent[chosen]), "field": pa.array(["derived_from"] * len(chosen), pa.string()),
                     "relation": pc.take(relation, pa.array(chosen, pa.int64())), "text": pc.take(claims["base"], pa.array(chosen, pa.int64())),
                     "kind": pa.array(["model"] * len(chosen), pa.string()), "pointer": pc.take(claims["pointer"], pa.array(chosen, pa.int64()))},
                    schema=MENTIONS)


def _pointers(prefix: str, index: np.ndarray) -> pa.Array:
    """'tags/3'... made in Arrow: a Python string per tag costs more than the rest of the batch."""
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(index, pa.int64()), pa.string()), "")


def _checked_ids(claims: pa.Table, column: str, rows: np.ndarray, shown: str, problems: list[Problem]) -> pa.Table:
    """The claims whose `column` is a Hub id (a huggingface.co URL read as its id); the others warned about and left out."""
    texts = claims[column]
    urls = pc.fill_null(pc.match_substring(texts, "://"), False)
    if pc.any(urls).as_py():
        texts = pc.if_else(urls, pc.utf8_trim(pc.replace_substring_regex(texts, r"^https?://(?:www\.)?(?:huggingface\.co|hf\.co)/(?:models/)?", ""), "/"), texts)
        claims = claims.set_column(claims.schema.get_field_index(column), column, texts)
    texts = pc.utf8_trim_whitespace(texts)
    claims = claims.set_column(claims.schema.get_field_index(column), column, texts)
    ok = pc.and_(pc.and_(pc.match_substring_regex(texts, HUB_ID_RE2), pc.less_equal(pc.utf8_length(texts), 200)),
                 pc.invert(pc.or_(pc.match_substring(texts, "--"), pc.match_substring(texts, ".."))))
    ok = pc.fill_null(ok, False)
    if not pc.all(ok).as_py():
        bad = claims.filter(pc.invert(ok))
        for parent, text, pointer in zip(bad["parent"].to_pylist(), bad[column].to_pylist(), bad["pointer"].to_pylist()):
            problems.append(Problem(shown, int(rows[parent]), pointer.replace("/", "."), f"'{hf._shorten(text)}' cannot be a Hub id; left out", level="warning"))
        claims = claims.filter(ok)
    return claims


def _inferred_relations(raw: pa.Table) -> pa.Array:
    """The Hub's inference for a record that states no relation: an adapter library or tag, a quantization tag, else a fine-tune."""
    flat, parents, _ = _flat_tags(raw)
    lowered = pc.utf8_lower(flat)
    n = raw.num_rows
    adapter = np.zeros(n, dtype=bool)
    quantized = np.zeros(n, dtype=bool)
    adapter[parents[pc.fill_null(pc.is_in(lowered, pa.array(["peft", "lora"])), False).to_numpy(zero_copy_only=False)]] = True
    quantized[parents[pc.fill_null(pc.is_in(lowered, pa.array(sorted(hf.QUANTIZED_TAGS))), False).to_numpy(zero_copy_only=False)]] = True
    library = pc.or_(pc.equal(pc.fill_null(raw["library_name"], ""), "peft"), pc.equal(pc.fill_null(pc.struct_field(raw["cardData"], "library_name"), ""), "peft"))
    adapter |= library.to_numpy(zero_copy_only=False)
    return pa.array(np.where(adapter, "adapter", np.where(quantized, "quantized", "finetune")), pa.string())


def _tagged_datasets(raw: pa.Table, kind: pa.Array, shown: str, problems: list[Problem]) -> pa.Table:
    """A model's `dataset:` tags as trained_on mentions."""
    texts, parents, index = _prefixed(raw, "dataset:", problems, shown)
    claims = pa.table({"parent": pa.array(parents, pa.int64()), "text": texts, "pointer": _pointers("tags/", index)})
    claims = claims.filter(pc.equal(pc.take(kind, claims["parent"]), "model")) if claims.num_rows else claims
    claims = _checked_ids(claims, "text", raw["row"].to_numpy(), shown, problems)
    n = claims.num_rows
    return pa.table({"record": claims["parent"], "field": pa.array(["trained_on"] * n, pa.string()), "relation": pa.nulls(n, pa.string()),
                     "text": claims["text"], "kind": pa.array(["dataset"] * n, pa.string()), "pointer": claims["pointer"]}, schema=MENTIONS)


def _generated_by(raw: pa.Table, kind: pa.Array) -> pa.Table:
    """A dataset card's `generated_by` models."""
    lists = pc.struct_field(raw["cardData"], "generated_by")
    lists = pc.if_else(pc.equal(kind, "dataset"), lists, pa.nulls(len(lists), lists.type))
    flat, parents = pc.list_flatten(lists), pc.list_parent_indices(lists).to_numpy()
    claims = pa.table({"parent": pa.array(parents, pa.int64()), "text": flat.cast(pa.string()), "pointer": _pointers("cardData/generated_by/", np.arange(len(parents)))})
    claims = claims.filter(pc.is_valid(claims["text"]))
    claims = _checked_ids(claims, "text", raw["row"].to_numpy(), "", [])
    n = claims.num_rows
    return pa.table({"record": claims["parent"], "field": pa.array(["generated_by"] * n, pa.string()), "relation": pa.nulls(n, pa.string()),
                     "text": claims["text"], "kind": pa.array(["model"] * n, pa.string()), "pointer": claims["pointer"]}, schema=MENTIONS)


def _from_records(rows: list[tuple[int, Record]], file: int) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Records the object reader made (a batch Arrow could not type) as rows of the same tables."""
    records, mentions, licences = [], [], []
    for position, (row, record) in enumerate(rows):
        claims: dict[str, list] = {}
        for claim in record.claims:
            claims.setdefault(claim.field, []).append(claim.value)
        licence = claims.get("license", [])
        licences += [{"record": position, "license": value} for value in licence[1:]]
        records.append({"file": file, "row": row, "id": record.source_id, "kind": record.kind, "version": record.origin.commit,
                        "uploaded": (claims.get("uploaded") or [None])[0], "license": (licence or [None])[0], "parameters": (claims.get("parameters") or [None])[0]})
        for m in record.mentions:
            mentions.append({"record": position, "field": m.field, "relation": m.relation, "text": m.text.removeprefix("huggingface:"),
                             "kind": m.kind, "pointer": m.origin.where.rpartition("#/")[2]})
    return (pa.Table.from_pylist(records, RECORDS), pa.Table.from_pylist(mentions, MENTIONS), pa.Table.from_pylist(licences, LICENCES))


# --- identity: records -> entities, mentions -> edges ---------------------------------------


ENTITIES = pa.schema([("entity", pa.string()), ("kind", pa.string()), ("name", pa.string()), ("hub_id", pa.string()),
                      ("imported", pa.bool_()), ("license", pa.string()), ("uploaded", pa.string()), ("parameters", pa.int64()),
                      ("record", pa.int64())])
EDGES = pa.schema([("entity", pa.string()), ("relation", pa.string()), ("field", pa.string()), ("target", pa.string()), ("record", pa.int64())])


@dataclass
class Joined:
    """The records placed: `owner` gives each record's entity (null: ambiguous or replaced), `entities` the new
    entities (and the curated ones records matched, imported False), `edges` the accepted lineage,
    `references` every mention with its target (null: unresolved; its entity is its record's owner)."""
    tables: HubTables
    owner: pa.Array
    matched: dict[int, tuple[str, str]]  # record row -> (curated entity, the rule that matched it)
    entities: pa.Table
    edges: pa.Table
    references: pa.Table
    ambiguous: list[tuple[int, tuple[str, ...]]]
    record_entity: np.ndarray  # each record's row in `entities` (-1: none)

    @cached_property
    def edge_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Each edge's entity and target by their row in `entities` (-1: none), found once for the passes that walk
        the lineage (the terms, the page's families; at a million models a lookup by id is 0.4 s). An edge's
        entity is its record's; its target is looked up by id."""
        ids = self.entities["entity"].combine_chunks()
        width = np.int32 if len(ids) < 2**31 else np.int64  # kept to the end of the build: 36 MB at three million models
        return self.record_entity[self.edges["record"].to_numpy()].astype(width), _positions(self.edges["target"], ids).astype(width)

    def counts(self) -> dict[str, int]:
        """The merge report's counts (kg.merge.Merged.counts), from the tables."""
        imported = pc.sum(pc.cast(self.entities["imported"], pa.int64())).as_py() or 0
        unresolved = self.references["target"].null_count
        read = pc.sum(pc.cast(pc.greater_equal(self.tables.records["position"], 0), pa.int64())).as_py() or 0
        return {"read": read, "matched": len(self.matched), "new": imported, "ambiguous": len(self.ambiguous),
                "references": self.references.num_rows, "resolved": self.references.num_rows - unresolved, "unresolved": unresolved,
                "conflicting": 0}


def slugs_of(kind: pa.Array, ids: pa.Array) -> pa.Array:
    """kg.merge._new_id's id for each Hub id, before collisions: '<kind>/huggingface-<slug>'. A Hub id is ASCII letters,
    digits and '-_./' (checked when read), so _slug's NFKD, casefold and '[^a-z0-9.]+' come to plain replacements."""
    text = pc.replace_substring(pc.replace_substring(pc.ascii_lower(ids), "_", "-"), "/", "-")
    runs = pc.fill_null(pc.match_substring(text, "--"), False)
    if pc.any(runs).as_py():
        text = pc.if_else(runs, pc.replace_substring_regex(text, "-+", "-"), text)
    text = pc.utf8_trim(text, "-.")
    text = pc.if_else(pc.equal(text, ""), "x", text)
    return pc.binary_join_element_wise(kind, pc.binary_join_element_wise("huggingface-", text, ""), "/")


def _last_part(ids: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A Hub id's name: what follows its last '/' (the whole id if it has none), without a list of parts (a third of
    the time, and no list array of every id's two parts at the join's peak)."""
    return pc.replace_substring_regex(ids, "^.*/", "")


def squash(texts: pa.Array) -> pa.Array:
    """A Hub id's letters and digits, lower case: equal for any two ids `normalise` makes equal (a cheap
    superset of its matches, checked exactly with `normalise` afterwards)."""
    for mark in ("-", "_", ".", "/"):
        texts = pc.replace_substring(texts, mark, "")
    return pc.ascii_lower(texts)


def join_catalog(tables: HubTables, catalog) -> Joined:  # noqa: ANN001 (kg.catalog.Catalog)
    """Place every record as kg.merge.merge does, by joins: its Hub id (case aside) against the catalog's
    Hub ids and aliases, then names with owners kept apart; the others become new entities with
    kg.merge's ids. Then each mention is resolved, and the accepted lineage made; `tables.mentions` is emptied
    once the references hold them (at three million models it is 0.7 GB). Each step is a function of its
    own, and freed memory is given back between them: a step's temporaries are freed when it returns."""
    from kg.merge import _curated_index
    from kg.sources import normalise

    records = tables.records
    curated = _curated_index(catalog)
    # Each record's name, and its name and id squashed: made once for the steps that compare them.
    ids = records["id"].combine_chunks()
    names = _last_part(ids)
    keys = _Keys(names, squash(names), squash(ids))
    del ids, names
    owner_array, entity_code, matched, rules, ambiguous = _place(records, catalog, curated, normalise, keys)
    give_back()
    entities, record_entity = _entities(records, owner_array, entity_code, keys, catalog)
    give_back()
    references, code_of = _resolve_mentions(tables, owner_array, entity_code, curated, catalog, normalise, keys)
    del keys
    give_back()
    record_kind = _kind_codes(records["kind"], whole=True)
    curated_record = np.zeros(records.num_rows, dtype=bool)
    curated_record[list(matched)] = True
    edges = _accept_edges(references, owner_array, code_of, record_kind, curated_record, catalog)
    return Joined(tables, owner_array, {i: (matched[i], rules[i]) for i in matched}, entities, edges, references, ambiguous, record_entity)


@dataclass
class _Keys:
    """Each record's name (its Hub id's last part), that name squashed and its whole id squashed (`squash`)."""
    names: pa.Array
    squashed_names: pa.Array
    squashed_ids: pa.Array


def _place(records: pa.Table, catalog, curated, normalise, keys: _Keys) -> tuple[pa.Array, np.ndarray, dict[int, str], dict[int, str], list]:  # noqa: ANN001
    """Each record's entity: its id (null: ambiguous or replaced), its number (equal numbers, equal entities; -1 for
    none), the records matched to curated entities (row -> entity, row -> rule) and the ambiguous ones."""
    kept = pc.greater_equal(records["position"], 0).to_numpy(zero_copy_only=False)
    order = np.argsort(np.where(kept, records["position"].to_numpy(), len(kept)), kind="stable")[: int(kept.sum())]
    ids = records["id"].combine_chunks()
    kind = records["kind"].combine_chunks()
    owner = [None] * records.num_rows
    rules: dict[int, str] = {}
    ambiguous = []
    # Candidates for a curated entity: a Hub id the catalog lists, or a name (or the whole id) that may normalise to a curated name.
    explicit = pa.array(sorted(k.removeprefix("huggingface:") for k in curated.explicit if k.startswith("huggingface:")), pa.string())
    curated_names = pa.array(sorted({k.split(" ", 1)[1].replace("-", "").replace(".", "") for k in curated.names}), pa.string())
    maybe = pc.or_(pc.is_in(pc.utf8_lower(ids), explicit), pc.or_(pc.is_in(keys.squashed_names, curated_names), pc.is_in(keys.squashed_ids, curated_names)))
    for i in np.flatnonzero(maybe.to_numpy(zero_copy_only=False) & kept):
        repo, k = ids[i].as_py(), kind[i].as_py()
        owners = frozenset({normalise(repo.split("/")[0])} - {""}) if "/" in repo else frozenset()
        found, rule, _ = curated.find(k, [repo.split("/")[-1], repo], [f"huggingface:{repo}"], owners, None)
        if len(found) > 1:
            ambiguous.append((int(i), tuple(sorted(found))))
        elif found:
            owner[i], rules[i] = next(iter(found)), rule
    matched = {i: o for i, o in enumerate(owner) if o is not None}
    placed = np.zeros(records.num_rows, dtype=bool)
    placed[list(matched)] = True
    placed[[i for i, _ in ambiguous]] = True
    # The others: one new entity per Hub id (case aside), named for its first record; names shared by several ids are joined as kg.merge joins them.
    new = kept & ~placed
    group = codes_of_rows(kind, pc.utf8_lower(ids))
    rows = order[new[order]]  # in record order
    groups, first = np.unique(group[rows], return_index=True)
    leaders = np.sort(rows[first]) if len(rows) else np.zeros(0, dtype=np.int64)
    leaders = leaders[np.argsort(records["position"].to_numpy()[leaders], kind="stable")]
    joined_to = _name_joins(leaders, kind, ids, keys, normalise)
    slug = slugs_of(pc.take(kind, pa.array(leaders)), pc.take(ids, pa.array(leaders))) if len(leaders) else pa.array([], pa.string())
    # kg.merge._new_id numbers a slug taken already (by an earlier record or the catalog): rare, done in Python.
    slug_codes = codes_of(slug)
    clash = (np.bincount(slug_codes)[slug_codes] > 1) if len(slug_codes) else np.zeros(0, dtype=bool)
    clash |= pc.is_in(slug, pa.array(sorted(catalog.entities), pa.string())).to_numpy(zero_copy_only=False) if len(leaders) else clash
    joined_rows = np.array(sorted(joined_to), dtype=np.int64)
    joining = np.isin(leaders, joined_rows)
    final = slug
    source = np.arange(len(leaders))  # each leader's entity, as the leader whose id it takes
    if clash.any() or joining.any():
        final = _numbered(slug, clash, joining, set(catalog.entities))
        at = {int(leader): k for k, leader in enumerate(leaders)}
        for leader, target in joined_to.items():
            source[at[leader]] = at[target]
        final = pc.take(final, pa.array(source))
    # Each placed record's entity: its group's leader's, taken by index (no Python string per record).
    leader_of_group = np.full(int(group.max()) + 1 if len(group) else 0, -1, dtype=np.int64)
    leader_of_group[group[leaders]] = np.arange(len(leaders))
    pick = np.full(records.num_rows, -1, dtype=np.int64)
    pick[rows] = leader_of_group[group[rows]]
    owner_array = pc.take(final, pa.array(pick, mask=pick < 0)) if len(leaders) else pa.nulls(records.num_rows, pa.string())
    if matched:
        mask = np.zeros(records.num_rows, dtype=bool)
        mask[sorted(matched)] = True
        owner_array = pc.replace_with_mask(owner_array, pa.array(mask), pa.array([matched[i] for i in sorted(matched)], pa.string()))
    # Each record's entity as a number as well: the mentions' entities are compared and grouped by it, not by
    # their ids (hashing millions of ids was the join's peak).
    entity_code = np.full(records.num_rows, -1, dtype=np.int64)
    entity_code[rows] = source[pick[rows]]
    if matched:
        numbers = {e: len(leaders) + k for k, e in enumerate(sorted(set(matched.values())))}
        entity_code[sorted(matched)] = [numbers[matched[i]] for i in sorted(matched)]
    return owner_array, entity_code, matched, rules, ambiguous


def _numbered(slug: pa.Array, clashing: np.ndarray, joining: np.ndarray, catalog_ids: set[str]) -> pa.Array:
    """kg.merge._new_id over the leaders in record order: each takes its slug `s`, or the first of `s-2`, `s-3`...
    that no catalog id and no earlier leader has. Only leaders whose slug's root (the slug without trailing `-<n>`
    parts) is the root of a clashing slug can be renumbered or be in the way of a number, so only they are
    walked in Python (a joining leader takes no id of its own)."""
    root = pc.replace_substring_regex(slug, r"(-[0-9]+)+$", "")
    roots = pc.unique(pc.filter(root, pa.array(clashing)))
    walked = np.flatnonzero(pc.is_in(root, roots).to_numpy(zero_copy_only=False) & ~joining)
    taken = set(catalog_ids)
    values = []
    for base in pc.take(slug, pa.array(walked, pa.int64())).to_pylist():
        name, n = base, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        values.append(name)
    mask = np.zeros(len(slug), dtype=bool)
    mask[walked] = True
    return pc.replace_with_mask(slug, pa.array(mask), pa.array(values, pa.string())) if len(walked) else slug


def _name_joins(leaders: np.ndarray, kind: pa.Array, ids: pa.Array, keys: _Keys, normalise) -> dict[int, int]:  # noqa: ANN001
    """Leaders (first records of a Hub id) that kg.merge joins to an earlier one by name: same kind, a name
    or the whole id normalised alike, owners not different. Found among the few whose squashed keys collide."""
    from kg.merge import _Index

    if not len(leaders):
        return {}
    # Every record's kind with its squashed name, and with its squashed id, numbered together; counted among the leaders.
    kinds = _kind_codes(kind, whole=True).astype(np.int64)
    every = codes_of_rows(np.concatenate([kinds, kinds]), pa.concat_arrays([keys.squashed_names, keys.squashed_ids]))
    codes = np.concatenate([every[leaders], every[len(kinds) + leaders]])
    counts = np.bincount(codes)
    shared = counts[codes] > 1
    candidates = np.unique(np.concatenate([np.flatnonzero(shared[: len(leaders)]), np.flatnonzero(shared[len(leaders):])]))
    index = _Index()
    joined: dict[int, int] = {}
    place: dict[str, int] = {}
    for c in candidates:  # in record order (leaders are sorted by position)
        i = int(leaders[c])
        repo, k = ids[i].as_py(), kind[i].as_py()
        owners = frozenset({normalise(repo.split("/")[0])} - {""}) if "/" in repo else frozenset()
        found, _, _ = index.find(k, [repo.split("/")[-1], repo], [], owners)
        if len(found) == 1:
            target = place[next(iter(found))]
            joined[i] = joined.get(target, target)
            index.add(next(iter(found)), k, [repo.split("/")[-1], repo], [], owners)
        else:
            place[str(i)] = i
            index.add(str(i), k, [repo.split("/")[-1], repo], [], owners)
    return joined


def _entities(records: pa.Table, owner: pa.Array, entity_code: np.ndarray, keys: _Keys, catalog) -> tuple[pa.Table, np.ndarray]:  # noqa: ANN001
    """One row per new entity (named for its first record; licence, upload day and parameters from its first record that
    states each, as kg.merge accepts the first claim), and one per curated entity a record matched; and each record's
    row in that table (-1: none). `entity_code` numbers the records' entities (_place)."""
    position = records["position"].to_numpy()
    rows = np.flatnonzero(entity_code >= 0)
    rows = rows[np.argsort(position[rows], kind="stable")]
    # The entities numbered in order of first appearance: the entities in record order.
    found, firsts = np.unique(entity_code[rows], return_index=True)
    order = np.argsort(firsts)
    number = np.full(int(found.max()) + 1 if len(found) else 0, -1, dtype=np.int64)
    number[found[order]] = np.arange(len(found))
    codes, firsts = number[entity_code[rows]], firsts[order]
    leader_rows = rows[firsts]
    entity_ids = pc.take(owner, pa.array(leader_rows))
    curated = pa.array(sorted(catalog.entities), pa.string())
    imported = pc.invert(pc.is_in(entity_ids, curated))

    def pick(name: str, kind_: pa.DataType) -> pa.Array:
        """Each entity's value from its first record that has one (kg.merge accepts the first claim)."""
        valid = pc.is_valid(pc.take(records[name], pa.array(rows))).to_numpy(zero_copy_only=False)
        at = np.full(len(firsts), -1, dtype=np.int64)
        found, first_valid = np.unique(codes[valid], return_index=True)
        at[found] = rows[np.flatnonzero(valid)[first_valid]]
        taken = pc.take(records[name].combine_chunks(), pa.array(np.where(at >= 0, at, 0)))
        return pc.if_else(pc.and_(pa.array(at >= 0), imported), taken, pa.scalar(None, kind_))

    hub = pc.take(records["id"].combine_chunks(), pa.array(leader_rows))
    name = pc.take(keys.names, pa.array(leader_rows))
    record_entity = np.full(records.num_rows, -1, dtype=np.int64)
    record_entity[rows] = codes
    return pa.table({"entity": entity_ids, "kind": pc.take(records["kind"].combine_chunks(), pa.array(leader_rows)), "name": name, "hub_id": hub,
                     "imported": imported, "license": pick("license", pa.string()), "uploaded": pick("uploaded", pa.string()),
                     "parameters": pick("parameters", pa.int64()), "record": pa.array(leader_rows, pa.int64())}, schema=ENTITIES), record_entity


# A reference's entity is its record's owner (`Joined.owner`), not a column of its own: 0.23 GB at three million models.
REFERENCES = pa.schema([("field", pa.string()), ("relation", pa.string()), ("text", pa.string()), ("target", pa.string()),
                        ("record", pa.int64()), ("pointer", pa.string())])


def _resolve_mentions(tables: HubTables, owner: pa.Array, entity_code: np.ndarray, curated, catalog, normalise, keys: _Keys) -> tuple[pa.Table, np.ndarray]:  # noqa: ANN001
    """Each mention's target as kg.merge._resolve finds it: the catalog (Hub id, then name), then the new
    entities (Hub id, then name); several candidates leave it unresolved, as does the entity itself.
    The references of the placed records' mentions, and the entity of each by its number (`entity_code`):
    their ids are taken only for the few compared in Python and for the edges made (0.23 GB at three million)."""
    mentions = tables.mentions
    records = tables.records
    code = entity_code[mentions["record"].to_numpy()]
    if (code < 0).any():  # a filter copies every column; most builds place every record
        mentions, code = mentions.filter(pa.array(code >= 0)), code[code >= 0]
    n = mentions.num_rows
    record = mentions["record"].combine_chunks()
    record_np = record.to_numpy()
    text = mentions["text"].combine_chunks()
    kind = mentions["kind"].combine_chunks()
    mentions = mentions.select(["field", "relation", "pointer"])
    tables.mentions = MENTIONS.empty_table()  # every mention is in the references now: the chunked copies go back
    last = _last_part(text)
    overrides: dict[int, str | None] = {}  # the targets found in Python (the catalog's, and by name)
    done = np.zeros(n, dtype=bool)
    # 1. the catalog, for the few that may be its entities
    explicit = pa.array(sorted(k.removeprefix("huggingface:") for k in curated.explicit if k.startswith("huggingface:")), pa.string())
    curated_names = pa.array(sorted({k.split(" ", 1)[1].replace("-", "").replace(".", "") for k in curated.names}), pa.string())
    folded = pc.utf8_lower(text)
    maybe = pc.or_(pc.is_in(folded, explicit), pc.is_in(squash(last), curated_names)).to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(maybe):
        t, k, e = text[i].as_py(), kind[i].as_py(), owner[int(record_np[i])].as_py()
        found, _, _ = curated.find(k, [t.split("/")[-1]], [f"huggingface:{t}"])
        found = found - {e}
        if found:
            done[i] = True
            overrides[i] = next(iter(found)) if len(found) == 1 else None
    # 2. the new entities by Hub id: a join on kind and the folded id
    new_records = pc.and_(pc.is_valid(owner), pc.invert(pc.is_in(owner, pa.array(sorted(catalog.entities), pa.string()))))
    held = records.select(["kind", "id"]).append_column("owner", owner)
    held_rows = np.arange(records.num_rows)
    if not pc.all(new_records).as_py():
        held_rows = np.flatnonzero(new_records.to_numpy(zero_copy_only=False))
        held = held.filter(new_records)  # the columns used: a filter copies
    held_keys = pc.binary_join_element_wise(held["kind"], pc.utf8_lower(held["id"]), " ")
    wanted = pc.binary_join_element_wise(kind, folded, " ")
    del folded
    at = _positions(wanted, held_keys)
    del wanted, held_keys
    hit = (at >= 0) & ~done
    itself = entity_code[held_rows[np.maximum(at, 0)]] == code  # naming itself: no edge
    by_id = _named(held["owner"], np.where(hit & ~itself, at, -1))
    done |= hit
    # 3. the new entities by name, for the few left whose squashed name is one of theirs
    rest = np.flatnonzero(~done)
    if len(rest):
        rest_keys = pc.binary_join_element_wise(pc.take(kind, pa.array(rest)), squash(pc.take(last, pa.array(rest))), " ")
        name_keys = pc.binary_join_element_wise(held["kind"], pc.take(keys.squashed_names, pa.array(held_rows)), " ")
        id_keys = pc.binary_join_element_wise(held["kind"], pc.take(keys.squashed_ids, pa.array(held_rows)), " ")
        near = pc.or_(pc.is_in(name_keys, rest_keys), pc.is_in(id_keys, rest_keys)).to_numpy(zero_copy_only=False)
        names: dict[str, set[str]] = {}
        for k, repo, e in zip(pc.filter(held["kind"], pa.array(near)).to_pylist(), pc.filter(held["id"], pa.array(near)).to_pylist(), pc.filter(held["owner"], pa.array(near)).to_pylist()):
            for key in (repo.split("/")[-1], repo):
                names.setdefault(f"{k} {normalise(key)}", set()).add(e)
        squashed = {key.split(" ", 1)[0] + " " + key.split(" ", 1)[1].replace("-", "").replace(".", "") for key in names}
        close = rest[pc.is_in(rest_keys, pa.array(sorted(squashed), pa.string())).to_numpy(zero_copy_only=False)] if names else rest[:0]
        for i in close:
            found_names = names.get(f"{kind[i].as_py()} {normalise(last[i].as_py())}", set()) - {owner[int(record_np[i])].as_py()}
            overrides[i] = next(iter(found_names)) if len(found_names) == 1 else None
    mask = np.zeros(n, dtype=bool)
    values = []
    for i in sorted(overrides):
        mask[i] = True
        values.append(overrides[i])
    target_array = pc.replace_with_mask(by_id, pa.array(mask), pa.array(values, pa.string())) if values else by_id
    return pa.table({"field": mentions["field"], "relation": mentions["relation"], "text": text, "target": target_array,
                     "record": record, "pointer": mentions["pointer"]}, schema=REFERENCES), code


def _kind_codes(ids: pa.Array | pa.ChunkedArray, whole: bool = False) -> np.ndarray:
    """Each entity id's kind as a small integer (1 + its place in kg.vocab.KINDS; 0 for none), without splitting the
    texts; with `whole`, each value is a kind's name itself (a record's kind)."""
    from kg.vocab import KINDS

    codes = np.zeros(len(ids), dtype=np.int8)
    for number, kind in enumerate(KINDS, 1):
        found = pc.equal(ids, kind) if whole else pc.starts_with(ids, kind + "/")
        codes[pc.fill_null(found, False).to_numpy(zero_copy_only=False)] = number
    return codes


def _accept_edges(references: pa.Table, owner: pa.Array, code: np.ndarray, record_kind: np.ndarray, curated_record: np.ndarray, catalog) -> pa.Table:  # noqa: ANN001
    """kg.merge.accept_edges on the reference table: a model derives from models and a dataset from datasets,
    a derivation of unstated kind is `based-on` (`derived` for data), a curated entity keeps its reviewed field.
    Each reference's entity is known by its record: its number (`code`), kind (`record_kind`, by _kind_codes)
    and whether a curated entry (`curated_record`); its id is its record's `owner`."""
    from kg.graph import RELATION_LABELS
    from kg.merge import UNSTATED_RELATIONS
    from kg.vocab import KINDS

    # Worked on the reference table's own columns and taken once at the end: the filtered copies of the references
    # this made before were 0.37 GB of the join's peak at one million models.
    field, target = references["field"], references["target"]
    record = references["record"].to_numpy()
    ok = pc.is_valid(target).to_numpy(zero_copy_only=False)  # resolved (_resolve_mentions resolves none to its own entity)
    kind, target_kind = record_kind[record], _kind_codes(target)
    derived = pc.equal(field, "derived_from").to_numpy(zero_copy_only=False)
    same = (kind == target_kind) & np.isin(kind, [KINDS.index(k) + 1 for k in UNSTATED_RELATIONS])
    # Each edge's relation by its number in `labels` (the texts are made for the edges kept only): the stated
    # relation of a derivation, else `based-on` or `derived` by the entity's kind, and the field for the others.
    stated, fields = (pc.dictionary_encode(references[c].combine_chunks()) for c in ("relation", "field"))
    texts = [*stated.dictionary.to_pylist(), *fields.dictionary.to_pylist(), "based-on", "derived"]
    labels = sorted(set(texts))
    number = np.array([labels.index(t) for t in texts], dtype=np.int64)
    unstated = np.where(kind == KINDS.index("model") + 1, len(texts) - 2, len(texts) - 1)
    said = pc.fill_null(stated.indices, -1).to_numpy().astype(np.int64)
    relation = number[np.where(derived, np.where(said >= 0, said, unstated), fields.indices.to_numpy().astype(np.int64) + len(stated.dictionary))]
    ok &= (~derived | same) & np.isin(np.array(labels, dtype=object), list(RELATION_LABELS))[relation]
    # A curated entity whose entry has the field keeps its own edges.
    reviewed = {f"{entity_id} {name}" for entity_id, entity_ in catalog.entities.items() for name, _, _ in entity_.edges}
    curated = np.flatnonzero(curated_record[record] & ok)
    if len(curated):
        ok[curated] = [f"{e} {f}" not in reviewed for e, f in zip(pc.take(owner, pa.array(record[curated])).to_pylist(), pc.take(field, pa.array(curated)).to_pylist())]
    rows = np.flatnonzero(ok)
    _, first = np.unique(codes_of_rows(code, target, relation)[rows], return_index=True)
    kept = rows[np.sort(first)]
    keep = pa.array(kept)
    return pa.table({"entity": pc.take(owner, pa.array(record[kept])), "relation": pc.take(pa.array(labels, pa.string()), pa.array(relation[kept])),
                     "field": pc.take(field, keep), "target": pc.take(target, keep), "record": pa.array(record[kept])}, schema=EDGES)


# --- effective terms: one pass over the edges in topological order ----------------------------


@dataclass(frozen=True)
class Signature:
    """The effective terms an entity has, without their paths: (term, kind, licence, whether the entity's own or
    a parent's licence states it directly) for each, the governing licence when known, and whether terms are unknown
    for the entity itself or upstream. Entities with equal signatures share one ODRL policy node."""
    entries: frozenset[tuple[str, str, str, bool]]
    governing: str | None
    own_gap: bool
    upstream_gap: bool

    def as_tuple(self) -> tuple:
        """The signature as kg.rdf.terms_signature gives it (the object path's)."""
        return self.entries, self.governing, self.own_gap, self.upstream_gap

    @cached_property
    def digest(self) -> str:
        """The shared policy's name, kg.rdf.policy_digest's: the same terms, the same policy by either path."""
        from kg.rdf import policy_digest

        return policy_digest(self.as_tuple())

    def commercial_use(self, licenses) -> bool | None:  # noqa: ANN001
        """kg.terms._commercial_use for an imported entity whose licence covers its weights or data."""
        if any(t == "no-commercial-use" for t, _, _, _ in self.entries):
            return False
        governing = licenses.get(self.governing or "")
        return True if governing is not None and governing.commercial_use is True else None


@dataclass
class Terms:
    """Per entity of `entities` (same order): its signature's index in `signatures`, the edge through whose
    target its inherited terms came (`via_edge`, a row of the edges; -1 for none) and its nearest origin of
    terms (`origin_row`, a row of the entities; -1 for none). Rows, not ids: at three million models the two
    columns of ids were 0.3 GB held from the terms to the end of the build; `via` and `origin` name them."""
    signatures: list[Signature]
    signature: np.ndarray
    via_edge: np.ndarray
    origin_row: np.ndarray
    levels: int
    cycles: int
    ids: pa.Array  # the entities' ids
    targets: pa.ChunkedArray  # the edges' targets

    def via(self, rows: slice = slice(None)) -> pa.Array:
        """The entity each entity of `rows` inherits its terms through (null: none)."""
        return _named(self.targets, self.via_edge[rows])

    def origin(self, rows: slice = slice(None)) -> pa.Array:
        """The nearest entity whose own licence gives each entity of `rows` terms (null: none)."""
        return _named(self.ids, self.origin_row[rows])


def _named(names: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> pa.Array:
    named = pc.take(names, pa.array(rows, mask=rows < 0)) if len(names) else pa.nulls(len(rows), pa.string())
    return named.combine_chunks() if isinstance(named, pa.ChunkedArray) else named


class _Registry:
    """Signatures numbered once; combining two is memoised, so the pass does Python work only per distinct pair."""

    def __init__(self) -> None:
        self.signatures: list[Signature] = []
        self.number: dict[Signature, int] = {}
        self.unions: dict[tuple[int, int], int] = {}
        self.passed: dict[tuple[int, int, bool], int] = {}

    def add(self, signature: Signature) -> int:
        found = self.number.get(signature)
        if found is None:
            found = self.number[signature] = len(self.signatures)
            self.signatures.append(signature)
        return found

    def union(self, a: int, b: int) -> int:
        key = (a, b)
        found = self.unions.get(key)
        if found is None:
            x, y = self.signatures[a], self.signatures[b]
            found = self.unions[key] = self.add(Signature(x.entries | y.entries, x.governing, x.own_gap, x.upstream_gap or y.upstream_gap))
        return found


def curated_lineage(joined: Joined, graph):  # noqa: ANN001, ANN201
    """The catalog's lineage `graph` as the object path's graph has it around curated entities: each edge the
    dump gives a curated entity (in a field its entry leaves empty), and the imported entities behind those
    edges, with their own edges (few entities, and small). `graph` itself, not a copy, when the dump gives none.
    kg.terms reads it to answer the curated entities (their terms, in the RDF and in the tables)."""
    entities, edges = joined.entities, joined.edges
    child_at, parent_at = joined.edge_rows
    imported = entities["imported"].to_numpy(zero_copy_only=False)
    curated_children = pc.unique(pc.filter(edges["entity"], pa.array(~imported[child_at]))) if edges.num_rows else pa.array([], pa.string())
    if not len(curated_children):
        return graph
    all_ids = entities["entity"].combine_chunks()
    order = np.argsort(child_at, kind="stable")
    starts = _positions(curated_children, all_ids)
    reached = _spread(child_at[order], parent_at[order], len(all_ids), starts[starts >= 0])  # one walk from them all
    behind = pc.unique(pa.concat_arrays([pc.filter(all_ids, pa.array(reached)), curated_children]))
    graph = graph.copy()
    add_imported(graph, entities, edges.filter(pc.is_in(edges["entity"], behind)), behind)
    return graph


def compute_terms_table(joined: Joined, graph, licenses, rules=None) -> Terms:  # noqa: ANN001
    """Every entity's effective terms in one pass: levels in topological order, each level's signatures from its
    parents' by memoised set operations (kg.terms' rules: what each edge passes, nearest holders first).
    Curated entities keep kg.terms' own answer on `graph`, the catalog's lineage with what the dump adds to it
    (`curated_lineage`): the hidden cases do not change."""
    from kg.terms import SUBJECTS, _reach, _rule_passes, _terms_of, load_rules

    rules = rules or load_rules()
    registry = _Registry()
    entities = joined.entities
    n = entities.num_rows
    ids = entities["entity"].combine_chunks()
    imported = entities["imported"].to_numpy(zero_copy_only=False)
    edges = joined.edges
    # Curated entities: kg.terms' own answer, reduced to its signature.
    cache: dict = {}
    curated_sig: dict[str, int] = {}
    for node, data in list(graph.nodes(data=True)):
        if data.get("kind") in SUBJECTS and not data.get("imported"):
            reached = _reach(graph, licenses, node, rules, cache)
            governing = data.get("license") if data.get("license") in licenses else None
            curated_sig[node] = registry.add(Signature(frozenset((a.term, a.kind, a.licence, a.length == 1) for a in reached.arrivals),
                                                       governing, reached.own_gap, reached.upstream_gap))
    # Imported entities start from their own licence: one signature per distinct licence.
    licence = entities["license"].combine_chunks()
    encoded = pc.dictionary_encode(pc.fill_null(licence, ""))
    own = [registry.add(Signature(frozenset((t, "own", lic, True) for t in _terms_of(licenses[lic], rules)), lic, False, False)
                        if lic in licenses else Signature(frozenset(), None, True, False)) for lic in encoded.dictionary.to_pylist()]
    signature = np.array(own, dtype=np.int64)[encoded.indices.to_numpy(zero_copy_only=False)] if n else np.zeros(0, dtype=np.int64)
    for i in np.flatnonzero(~imported):
        signature[i] = curated_sig.get(ids[i].as_py(), registry.add(Signature(frozenset(), None, False, False)))
    # The edges out of imported entities, parents numbered (an imported parent by its row, a curated one by its signature).
    child_np, parent_np = joined.edge_rows
    rule_list = list(rules.rules)
    # The rule of each edge, looked up once per distinct (field, relation): each column encoded alone, not their texts joined.
    fields, relations = (pc.dictionary_encode(edges[c].combine_chunks()) for c in ("field", "relation"))
    width = len(relations.dictionary)
    found_rules = [rules.rule_for(f, r) for f in fields.dictionary.to_pylist() for r in relations.dictionary.to_pylist()]
    per_pair = np.array([next((k for k, r in enumerate(rule_list) if r is rule), -1) for rule in found_rules], dtype=np.int64)
    rule_of = per_pair[fields.indices.to_numpy().astype(np.int64) * width + relations.indices.to_numpy()] if edges.num_rows else np.zeros(0, dtype=np.int64)
    curated_ids = pa.array(list(curated_sig), pa.string())
    at = pc.index_in(edges["target"], curated_ids)
    curated_target = np.append(np.array(list(curated_sig.values()), dtype=np.int64), -1)[pc.fill_null(at, len(curated_sig)).to_numpy(zero_copy_only=False)]
    outputs = {node for node, data in graph.nodes(data=True) if data.get("output_terms")}
    excused = pc.and_(pc.equal(edges["field"], "generated_by"), pc.is_in(edges["target"], pa.array(sorted(outputs), pa.string()))).to_numpy(zero_copy_only=False) if edges.num_rows else np.zeros(0, dtype=bool)
    live = (child_np >= 0) & imported[np.maximum(child_np, 0)] & (rule_of >= 0)
    curated_parent = live & ((parent_np < 0) | ~imported[np.maximum(parent_np, 0)])
    imported_parent = live & ~curated_parent

    def passed(rule: int, sig: int, excuse: bool) -> int:
        key = (rule, sig, excuse)
        found = registry.passed.get(key)
        if found is None:
            rule_, parent_sig = rule_list[rule], registry.signatures[sig]
            held = {(t, lic) for t, _, lic, direct in parent_sig.entries if direct}
            entries = set()
            for t, k, lic, direct in parent_sig.entries:
                arrives = rule_.passes.get(k)
                if (direct or (t, lic) not in held) and arrives and _rule_passes(rule_, _Term(t, lic), licenses):
                    entries.add((t, arrives, lic, False))
            gap = parent_sig.upstream_gap or (parent_sig.own_gap and not excuse)
            found = registry.passed[key] = registry.add(Signature(frozenset(entries), None, False, gap))
        return found

    via = np.full(n, -1, dtype=np.int64)

    def fold(edge_rows: np.ndarray, parent_sigs: np.ndarray) -> None:
        """Add each edge's passed terms to its child's signature, a round per edge of a child."""
        distinct, back = _distinct(rule_of[edge_rows], parent_sigs, excused[edge_rows])
        passed_sigs = np.array([passed(r, s, e) for r, s, e in distinct], dtype=np.int64)
        contributions = passed_sigs[back] if len(edge_rows) else np.zeros(0, dtype=np.int64)
        empty = np.array([not registry.signatures[c].entries for c in passed_sigs], dtype=bool)[back] if len(edge_rows) else np.zeros(0, dtype=bool)
        children = child_np[edge_rows]
        order = np.argsort(children, kind="stable")
        children, contributions, rows_sorted, empty = children[order], contributions[order], edge_rows[order], empty[order]
        rank = np.arange(len(children)) - np.searchsorted(children, children, side="left")
        for k in range(int(rank.max()) + 1 if len(rank) else 0):
            take = rank == k
            pairs = signature[children[take]] * (1 << 32) + contributions[take]  # one integer a pair: np.unique on rows is slow
            unique, back = np.unique(pairs, return_inverse=True)
            merged = np.array([registry.union(int(a >> 32), int(a & 0xFFFFFFFF)) for a in unique], dtype=np.int64)
            signature[children[take]] = merged[back.reshape(-1)]
        firsts = children[~empty]
        where = rows_sorted[~empty]
        unset = via[firsts] < 0
        via[firsts[unset]] = where[unset]

    # Curated parents are final already.
    rows = np.flatnonzero(curated_parent & (curated_target >= 0))
    fold(rows, curated_target[rows])
    # Imported parents: Kahn's algorithm by levels, each level in one vectorised step.
    pending = np.bincount(child_np[imported_parent], minlength=n) if n else np.zeros(0, dtype=np.int64)
    by_parent = np.flatnonzero(imported_parent)
    by_parent = by_parent[np.argsort(parent_np[by_parent], kind="stable")]
    parent_sorted = parent_np[by_parent]
    ready = np.flatnonzero((pending == 0) & imported)
    done = np.zeros(n, dtype=bool)
    levels = 0
    while len(ready):
        levels += 1
        done[ready] = True
        lo, hi = np.searchsorted(parent_sorted, ready, side="left"), np.searchsorted(parent_sorted, ready, side="right")
        counts = hi - lo
        # The runs lo[i]:hi[i] of every ready parent, concatenated without a Python loop.
        rows = by_parent[np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())] if counts.sum() else np.zeros(0, dtype=np.int64)
        if not len(rows):
            break
        fold(rows, signature[parent_np[rows]])
        np.subtract.at(pending, child_np[rows], 1)
        touched = np.unique(child_np[rows])
        ready = touched[(pending[touched] == 0) & ~done[touched]]
    cycles = int((imported & ~done).sum())
    row_type = np.int32 if max(n, edges.num_rows) < 2**31 else np.int64
    parent = np.where(via >= 0, parent_np[np.maximum(via, 0)] if len(parent_np) else -1, -1)
    return Terms(registry.signatures, signature, via.astype(row_type), _origins(parent, signature, registry).astype(row_type), levels, cycles, ids, edges["target"])


@dataclass(frozen=True)
class _Term:
    """What kg.terms._rule_passes reads of an arrival."""
    term: str
    licence: str


def _distinct(rule: np.ndarray, sig: np.ndarray, excused: np.ndarray) -> tuple[list[tuple], np.ndarray]:
    """The distinct (rule, signature, excused) triples, and each row's index among them."""
    if not len(rule):
        return [], np.zeros(0, dtype=np.int64)
    keys = (sig.astype(np.int64) << 16) | (rule.astype(np.int64) << 1) | excused.astype(np.int64)
    unique, back = np.unique(keys, return_inverse=True)
    return [(int((k >> 1) & 0x7FFF), int(k >> 16), bool(k & 1)) for k in unique], back.reshape(-1)


def _origins(parent: np.ndarray, signature: np.ndarray, registry: _Registry) -> np.ndarray:
    """Each entity's nearest origin of terms (its row; -1 for none): itself when its own licence states some, else
    its `via` parent's (`parent`: that parent's row, -1 for none), found by pointer doubling (a few vectorised
    steps however deep the lineage)."""
    own = np.array([any(d and k in ("own", "output") for _, k, _, d in s.entries) for s in registry.signatures], dtype=bool)[signature]
    n = len(signature)
    here = np.arange(n)
    pointer = np.where(own, here, parent)
    for _ in range(64):
        stuck = pointer < 0
        nxt = np.where(stuck, -1, pointer)
        ahead = np.where(stuck, -1, np.where(own[np.maximum(nxt, 0)], nxt, pointer[np.maximum(nxt, 0)]))
        if np.array_equal(ahead, pointer):
            break
        pointer = ahead
    found = (pointer >= 0) & own[np.maximum(pointer, 0)]
    return np.where(found, pointer, -1)


# --- writing: N-Triples, Turtle and N-Quads from Arrow string columns ------------------------


WRITE_ROWS = 25_000  # entities (and their records) written per batch: two threads hold a batch's columns each
TRIM_EVERY = 8  # batches between two returns of freed memory while writing (kg.tables.give_back)
HUB = "https://huggingface.co/"


from kg.vocab import ID as _ID  # noqa: E402

ID_BASE = str(_ID)


@dataclass
class _Vocabulary:
    """The N-Triples form of every constant term the export writes, and their Turtle forms."""
    nt: dict[str, str]
    ttl: dict[str, str]
    types: dict[str, tuple[str, str]]  # kind -> (its classes as N-Triples objects, and as Turtle's `a ...`)
    closed: dict[tuple[str, str], list[str]]  # (relation or field, kind) -> the properties written, N-Triples


def _vocabulary() -> _Vocabulary:
    from rdflib.namespace import DCTERMS, ODRL2, PROV, RDF, RDFS, XSD

    from kg.rdf import super_terms
    from kg.stream import _compact, term
    from kg.vocab import CLASSES, DERIVATIONS, LKG, REFERENCES, SCHEMA, fits

    supers = super_terms()
    named = {"type": RDF.type, "label": RDFS.label, "name": SCHEMA.name, "identifier": DCTERMS.identifier, "description": SCHEMA.description,
             "source": DCTERMS.source, "license": SCHEMA.license, "uploaded": LKG.uploaded, "parameters": LKG.parameterCount,
             "policy": ODRL2.hasPolicy, "record": LKG.SourceRecord, "describes": LKG.describes, "claimSource": LKG.claimSource,
             "claimLocation": LKG.claimLocation, "retrieved": LKG.retrieved, "commit": LKG.sourceCommit, "mentions": LKG.mentions,
             "Set": ODRL2.Set, "Policy": ODRL2.Policy, "uid": ODRL2.uid, "inheritFrom": ODRL2.inheritFrom, "permission": ODRL2.permission,
             "prohibition": ODRL2.prohibition, "duty": ODRL2.duty, "action": ODRL2.action, "Rule": ODRL2.Rule, "termName": LKG.termName,
             "date": XSD.date, "integer": XSD.integer}
    nt = {key: term(value) for key, value in named.items()}
    ttl = {key: ("a" if key == "type" else _compact(value)) for key, value in nt.items()}
    types = {}
    for kind in ("model", "dataset"):
        classes = [term(c) for c in (CLASSES[kind], *supers.get(CLASSES[kind], ()))]
        types[kind] = (classes, "a " + ", ".join(_compact(c) for c in classes))
    closed = {}
    properties = {**{r: p for r, p in DERIVATIONS.items()}, "based-on": PROV.wasDerivedFrom, "derived": PROV.wasDerivedFrom,
                  "trained_on": REFERENCES["trained_on"], "generated_by": REFERENCES["generated_by"]}
    for relation, prop in properties.items():
        for kind in ("model", "dataset"):
            closed[(relation, kind)] = [term(q) for q in (prop, *supers.get(prop, ())) if fits(q, kind)]
    return _Vocabulary(nt, ttl, types, closed)


def _column(parts: list) -> pa.Array:  # noqa: ANN001
    """Concatenate string columns and constants element-wise; a null part makes the whole null (an absent field)."""
    return pc.binary_join_element_wise(*parts, "")


def _bytes_of(lines: pa.Array) -> memoryview:
    """The text of a string column with no nulls, as one buffer: each value already ends its line."""
    lines = pc.drop_null(lines)
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    if not len(lines):
        return memoryview(b"")
    if lines.type != pa.large_string() and lines.type != pa.string():
        lines = lines.cast(pa.string())
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32 if lines.type == pa.string() else np.int64)[lines.offset: lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2])[offsets[0]: offsets[-1]]


def _licence_terms(values: pa.Array, licenses, turtle: bool = False) -> pa.Array:  # noqa: ANN001
    """A licence as an object term: our licence's IRI when the table knows it (`license:<id>` in Turtle where
    that is a plain name), else the text as a literal (escaped)."""
    from kg.rdf import license_iri
    from kg.stream import _compact, iri, literal

    encoded = pc.dictionary_encode(values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values)
    terms = [(_compact if turtle else str)(iri(str(license_iri(v)))) if v in licenses else literal(v) for v in encoded.dictionary.to_pylist()]
    return pc.take(pa.array(terms, pa.string()), encoded.indices)


# A local name Turtle writes plainly after a prefix (kg.stream._LOCAL, in RE2, which has no lookahead).
TURTLE_LOCAL_RE2 = r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]|\.[A-Za-z0-9_-])*$"


def _turtle_ids(ids: pa.Array) -> pa.Array:
    """Entity ids as Turtle terms: `model:huggingface-x` (the prefixes of kg.ttl's header) where the id's local part
    is a plain name, as every Hub slug is; else the whole IRI (with the other prefixed names, kg.ttl is a fifth smaller)."""
    from kg.vocab import KINDS

    parts = pc.split_pattern(ids, "/", max_splits=1)
    kind, local = pc.list_element(parts, 0), pc.list_element(parts, 1)
    plain = pc.fill_null(pc.and_(pc.is_in(kind, pa.array(sorted(KINDS), pa.string())), pc.match_substring_regex(local, TURTLE_LOCAL_RE2)), False)
    return pc.if_else(plain, pc.binary_join_element_wise(kind, local, ":"), _column(["<", ID_BASE, ids, ">"]))


@dataclass
class _Plan:
    """What the N-Triples and the Turtle writer share, made once before the two threads start: which imported
    entities to write with their policies' names, their edges in the same order (batch k's edges are the
    rows edge_order[starts[k]:starts[k+1]] of the edge table), the dump's edges of curated entities, the
    placed records, and the policies' text. Rows are chosen by index arrays, taken batch by batch, so the
    tables are not copied whole (at three million models each copy is 0.6 GB)."""
    imported: np.ndarray
    policies: pa.Array
    edge_order: np.ndarray
    starts: np.ndarray
    curated_edges: pa.Table
    placed: np.ndarray
    policy_nt: bytes
    policy_ttl: bytes
    policy_triples: int

    def entities(self, joined: Joined, k: int) -> tuple[pa.Table, pa.Array, pa.Table]:
        """Batch k: its entities, their policies, their edges."""
        rows = pa.array(self.imported[k * WRITE_ROWS: (k + 1) * WRITE_ROWS])
        return (joined.entities.take(rows), self.policies.slice(k * WRITE_ROWS, WRITE_ROWS),
                joined.edges.take(pa.array(self.edge_order[self.starts[k]: self.starts[k + 1]])))

    def records(self, joined: Joined, k: int) -> pa.Table:
        """Batch k of the placed records, with their entity as `owner`."""
        rows = pa.array(self.placed[k * WRITE_ROWS: (k + 1) * WRITE_ROWS])
        return joined.tables.records.take(rows).append_column("owner", pc.take(joined.owner, rows))


def _imported_rows(joined: Joined) -> np.ndarray:
    return np.flatnonzero(joined.entities["imported"].to_numpy(zero_copy_only=False)) if joined.entities.num_rows else np.zeros(0, np.int64)


def _policies(joined: Joined, terms: Terms, licenses) -> tuple[bytes, bytes, int]:  # noqa: ANN001
    """The shared policies the imported entities have (_policy_text)."""
    return _policy_text([terms.signatures[i] for i in np.unique(terms.signature[_imported_rows(joined)])], licenses)


def _plan(joined: Joined, terms: Terms, policies: tuple[bytes, bytes, int]) -> _Plan:
    imported = _imported_rows(joined)
    signature_column = terms.signature[imported]
    digests = pa.array([s.digest for s in terms.signatures], pa.string())
    policy_nt, policy_ttl, policy_triples = policies
    # Each edge's entity by its place among the imported entities (-1: a curated entity's edge), edges ordered by it.
    edges = joined.edges
    place = np.full(joined.entities.num_rows, -1, dtype=np.int64)
    place[imported] = np.arange(len(imported))
    row = joined.edge_rows[0]
    at = np.where(row >= 0, place[row], -1)
    order = np.argsort(at, kind="stable")
    ordered = at[order]
    first = int(np.searchsorted(ordered, 0))
    starts = first + np.searchsorted(ordered[first:], np.arange(0, len(imported) + WRITE_ROWS, WRITE_ROWS))
    placed = np.flatnonzero(pc.is_valid(joined.owner).to_numpy(zero_copy_only=False))
    return _Plan(imported, pc.take(digests, pa.array(signature_column, pa.int64())), order, starts,
                 edges.take(pa.array(np.sort(order[:first]))), placed, policy_nt, policy_ttl, policy_triples)


def write_table_exports(handles: dict, joined: Joined, plan: _Plan, licenses, quads: bool = True) -> int:  # noqa: ANN001
    """Write the imported part of the export to open binary `handles` (kg.nt, kg.ttl, kg.nq, each optional) after
    the catalog's own blocks: per batch of entities, string columns joined by Arrow and written as one buffer.
    The line formats and Turtle are written by two threads (Arrow's kernels let go of the GIL) from one plan.
    Returns the number of triples of the default graph (with kg.nq's quads when asked for)."""
    vocabulary = _vocabulary()  # once: the ontology is parsed by rdflib, which is not made for two threads
    lines = {name: handle for name, handle in handles.items() if name != "kg.ttl"}
    if not lines or "kg.ttl" not in handles:
        return _write_tables(handles, plan, joined, licenses, quads, vocabulary)
    with ThreadPoolExecutor(2) as pool:
        turtle = pool.submit(_write_tables, {"kg.ttl": handles["kg.ttl"]}, plan, joined, licenses, False, vocabulary)
        count = _write_tables(lines, plan, joined, licenses, quads, vocabulary)
        turtle.result()
    return count


def _write_tables(handles: dict, plan: _Plan, joined: Joined, licenses, quads: bool, vocabulary: _Vocabulary) -> int:  # noqa: ANN001
    nt_handles = [handles[n] for n in ("kg.nt", "kg.nq") if n in handles]
    ttl = handles.get("kg.ttl")
    nq = handles.get("kg.nq") if quads else None
    for handle in nt_handles:
        handle.write(plan.policy_nt)
    if ttl is not None:
        ttl.write(plan.policy_ttl)
    count = plan.policy_triples
    for k in range(len(plan.starts) - 1):
        count += _write_entities(nt_handles, ttl, *plan.entities(joined, k), vocabulary, licenses)
        if nt_handles and k % TRIM_EVERY == TRIM_EVERY - 1:
            give_back()  # one thread trims for both; each batch would cost more in page faults than it saves
    # Curated entities' edges from the dump, in fields their entries leave empty (kg.merge.accept_edges).
    if plan.curated_edges.num_rows:
        lines, texts = _edge_terms(plan.curated_edges.sort_by("entity"), vocabulary, nt=bool(nt_handles), ttl=ttl is not None)
        for column in lines:
            count += len(column) - column.null_count
            for handle in nt_handles:
                handle.write(_bytes_of(column))
        if ttl is not None:
            ttl.write(_bytes_of(_column([_turtle_ids(texts["entity"]), " ", texts["text"], " .\n\n"])))
        if not nt_handles:
            count += _edge_triples(plan.curated_edges, vocabulary)
    files = [__import__("kg.stream", fromlist=["literal"]).literal(f"{f}:")[:-1] for f in joined.tables.files]
    for k in range(-(-len(plan.placed) // WRITE_ROWS)):
        count += _write_records(nt_handles, ttl, plan.records(joined, k), files, joined.tables.retrieved, vocabulary)
    if nq is not None:
        count += _write_claims(nq, joined, vocabulary, licenses)
    return count


def _emit(nt_handles: list, ttl, subject: pa.Array, pairs: list[tuple[str, pa.Array | None]], vocabulary: _Vocabulary,
          turtle: dict[str, pa.Array] | None = None) -> int:  # noqa: ANN001
    """Write one column of triples per (predicate key, object column) for each subject; in Turtle, one block a subject,
    with the shorter Turtle forms `turtle` gives for some keys (and for "subject")."""
    count = 0 if nt_handles else sum(len(objects) - objects.null_count for _, objects in pairs if objects is not None)  # a line a value
    for key, objects in pairs if nt_handles else ():
        if objects is not None:
            lines = _column([subject, " ", vocabulary.nt[key], " ", objects, " .\n"])
            data = _bytes_of(lines)
            count += len(lines) - lines.null_count
            for handle in nt_handles:
                handle.write(data)
    if ttl is not None:
        turtle = turtle or {}
        columns = [_column([vocabulary.ttl[key], " ", turtle.get(key, objects)]) for key, objects in pairs if objects is not None]
        body = pc.binary_join_element_wise(*columns, " ;\n    ", null_handling="skip")
        ttl.write(_bytes_of(_column([turtle.get("subject", subject), " ", body, " .\n\n"])))
    return count


def _write_entities(nt_handles: list, ttl, batch: pa.Table, policies: pa.Array, edges: pa.Table, vocabulary: _Vocabulary, licenses) -> int:  # noqa: ANN001
    from kg.stream import literal

    subject = _column(["<", ID_BASE, batch["entity"], ">"])
    kind = batch["kind"].combine_chunks()
    is_model = pc.equal(kind, "model")
    name = _column(['"', batch["name"], '"@en'])  # a Hub id's last part: letters, digits and -_. (checked when read)
    url = _column(["<", HUB, pc.if_else(is_model, "", "datasets/"), batch["hub_id"], ">"])
    description = pc.if_else(is_model, literal("A model known only from huggingface; not reviewed for the catalog.", lang="en"),
                             literal("A dataset known only from huggingface; not reviewed for the catalog.", lang="en"))
    count = 0
    pairs = [("label", name), ("name", name), ("identifier", _column(['"', batch["entity"], '"'])), ("description", description), ("source", url),
             ("license", _licence_terms(batch["license"], licenses)),
             ("uploaded", _column(['"', batch["uploaded"], '"^^', vocabulary.nt["date"]])),
             ("parameters", _column(['"', pc.cast(batch["parameters"], pa.string()), '"^^', vocabulary.nt["integer"]])),
             ("policy", _column(["<", ID_BASE, "terms/", policies, ">"]))]
    # Types: each class of the kind, a column each (a model's and a dataset's lists differ in length).
    if not nt_handles:  # Turtle alone: the triples counted as the lines would be
        count += sum(pc.sum(pc.equal(kind, kind_name)).as_py() * len(classes) for kind_name, (classes, _) in vocabulary.types.items())
        count += _edge_triples(edges, vocabulary)
    for kind_name, (classes, _) in vocabulary.types.items() if nt_handles else ():
        rows = pc.equal(kind, kind_name)
        for cls in classes:
            lines = _column([pc.if_else(rows, subject, pa.scalar(None, pa.string())), " ", vocabulary.nt["type"], " ", cls, " .\n"])
            data = _bytes_of(lines)
            count += len(lines) - lines.null_count
            for handle in nt_handles:
                handle.write(data)
    # Lineage: each edge with its property and the standard super-properties the ontology gives.
    edge_lines, edge_ttl = _edge_terms(edges, vocabulary, nt=bool(nt_handles), ttl=ttl is not None)
    for lines in edge_lines:
        data = _bytes_of(lines)
        count += len(lines) - lines.null_count
        for handle in nt_handles:
            handle.write(data)
    extra = None
    if ttl is not None:
        types_ttl = pc.if_else(is_model, vocabulary.types["model"][1], vocabulary.types["dataset"][1])
        # Each entity's edges as one `p <t>, ... ; q <u>` text, taken by position.
        at = pc.index_in(batch["entity"], edge_ttl["entity"]) if edge_ttl.num_rows else pa.nulls(batch.num_rows, pa.int32())
        edges_text = pc.take(edge_ttl["text"], at) if edge_ttl.num_rows else pa.nulls(batch.num_rows, pa.string())
        extra = pc.binary_join_element_wise(types_ttl, edges_text, " ;\n    ", null_handling="skip")
        turtle = {"license": _licence_terms(batch["license"], licenses, turtle=True), "uploaded": _column(['"', batch["uploaded"], '"^^', vocabulary.ttl["date"]]),
                  "parameters": pc.cast(batch["parameters"], pa.string())}  # Turtle's own form of an integer, as kg.stream writes it
        columns = [extra] + [_column([vocabulary.ttl[key], " ", turtle.get(key, objects)]) for key, objects in pairs]
        body = pc.binary_join_element_wise(*columns, " ;\n    ", null_handling="skip")
        ttl.write(_bytes_of(_column([_turtle_ids(batch["entity"]), " ", body, " .\n\n"])))
    return count + _emit(nt_handles, None, subject, pairs, vocabulary)


def _edge_keys(edges: pa.Table) -> pa.DictionaryArray:
    """Each edge's "<relation> <kind of its entity>", the key of vocabulary.closed's properties, dictionary-encoded."""
    key = pc.binary_join_element_wise(edges["relation"], pc.list_element(pc.split_pattern(edges["entity"], "/", max_splits=1), 0), " ")
    return pc.dictionary_encode(key.combine_chunks() if isinstance(key, pa.ChunkedArray) else key)


def _edge_triples(edges: pa.Table, vocabulary: _Vocabulary) -> int:
    """How many triples `_edge_terms` writes for the edges: each edge once per property of its relation."""
    if not edges.num_rows:
        return 0
    encoded = _edge_keys(edges)
    per_key = np.bincount(encoded.indices.to_numpy(zero_copy_only=False), minlength=len(encoded.dictionary))
    return sum(int(count) * len(vocabulary.closed.get(tuple(value.split(" ")), [])) for count, value in zip(per_key, encoded.dictionary.to_pylist()))


def _edge_terms(edges: pa.Table, vocabulary: _Vocabulary, nt: bool = True, ttl: bool = True) -> tuple[list[pa.Array], pa.Table]:
    """The N-Triples lines of the edges (a column per property of each relation), and per entity the Turtle text of its edges."""
    if not edges.num_rows:
        return [], pa.table({"entity": pa.array([], pa.string()), "text": pa.array([], pa.string())})
    subject = _column(["<", ID_BASE, edges["entity"], ">"]) if nt else None
    target = _column(["<", ID_BASE, edges["target"], ">"]) if nt else None
    target_ttl = _turtle_ids(edges["target"]) if ttl else None
    lines, texts = [], []
    encoded = _edge_keys(edges)
    from kg.stream import _compact

    for code, value in enumerate(encoded.dictionary.to_pylist()):
        relation, kind_name = value.split(" ")
        rows = pc.equal(encoded.indices, code)
        properties = vocabulary.closed.get((relation, kind_name), [])
        for prop in properties if nt else ():
            lines.append(_column([pc.if_else(rows, subject, pa.scalar(None, pa.string())), " ", prop, " ", target, " .\n"]))
        texts.append(None if not ttl else pc.if_else(rows, _column([" ;\n    ".join(f"{_compact(p)} " for p in properties[:1]), target_ttl,
                                               *[x for p in properties[1:] for x in (f" ;\n    {_compact(p)} ", target_ttl)]]), pa.scalar(None, pa.string())))
    if not ttl:
        return lines, pa.table({"entity": pa.array([], pa.string()), "text": pa.array([], pa.string())})
    text = pc.coalesce(*texts) if texts else pa.nulls(edges.num_rows, pa.string())
    # One text per entity: the entity's edges joined (edges are sorted by entity).
    entity = edges["entity"].combine_chunks()
    codes = codes_of(entity)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    offsets = pa.array(np.r_[starts, len(codes)].astype(np.int32))
    grouped = pc.binary_join(pa.ListArray.from_arrays(offsets, text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text), " ;\n    ")
    return lines, pa.table({"entity": pc.take(entity, pa.array(starts)), "text": grouped})


def _write_records(nt_handles: list, ttl, records: pa.Table, files: list[str], retrieved: list[str], vocabulary: _Vocabulary) -> int:  # noqa: ANN001
    """Each record's node in the default graph: what it describes, its source, place, day and version."""
    from kg.stream import literal

    is_model = pc.equal(records["kind"], "model")
    subject = _column(["<", ID_BASE, "record/", SOURCE, "/", records["id"], ">"])  # kg.vocab.record_iri: a checked Hub id needs no percent-encoding
    file_text = pc.take(pa.array(files, pa.string()), records["file"])
    retrieved_text = pc.take(pa.array([literal(r, datatype=str(vocabulary.nt["date"])[1:-1]) for r in retrieved], pa.string()), records["file"])
    pairs = [("type", vocabulary.nt["record"]), ("describes", _column(["<", ID_BASE, records["owner"], ">"])),
             ("claimSource", f'"{SOURCE}"'), ("source", _column(["<", HUB, pc.if_else(is_model, "", "datasets/"), records["id"], ">"])),
             ("claimLocation", _column([file_text, pc.cast(records["row"], pa.string()), '#/id"'])),  # the row, at its id, as the object path says it
             ("retrieved", retrieved_text),
             ("commit", _column(['"', records["version"], '"']))]  # a sha or an API time: nothing to escape (checked when read)
    pairs = [(key, pa.array([value] * records.num_rows, pa.string()) if isinstance(value, str) else value) for key, value in pairs]
    turtle = {"type": pa.array([vocabulary.ttl["record"]] * records.num_rows, pa.string()), "describes": _turtle_ids(records["owner"]),
              "retrieved": pc.take(pa.array([f'"{r}"^^{vocabulary.ttl["date"]}' for r in retrieved], pa.string()), records["file"])} if ttl is not None else None
    return _emit(nt_handles, ttl, subject, pairs, vocabulary, turtle)


def _write_claims(nq, joined: Joined, vocabulary: _Vocabulary, licenses) -> int:  # noqa: ANN001
    """Every claim of every record, accepted or not, as a quad in the record's graph."""
    count = 0
    records = joined.tables.records.append_column("owner", joined.owner).append_column("index", pa.array(np.arange(joined.tables.records.num_rows)))
    records = records.filter(pc.is_valid(joined.owner))
    graph = _column(["<", ID_BASE, "record/", SOURCE, "/", records["id"], ">"])
    subject = _column(["<", ID_BASE, records["owner"], ">"])

    def write(subjects: pa.Array, predicate: str, objects: pa.Array, graphs: pa.Array) -> None:
        nonlocal count
        lines = _column([subjects, " ", *([predicate, " "] if predicate else []), objects, " ", graphs, " .\n"])
        count += len(lines) - lines.null_count
        nq.write(_bytes_of(lines))

    write(subject, vocabulary.nt["license"], _licence_terms(records["license"], licenses), graph)
    write(subject, vocabulary.nt["uploaded"], _column(['"', records["uploaded"], '"^^', vocabulary.nt["date"]]), graph)
    write(subject, vocabulary.nt["parameters"], _column(['"', pc.cast(records["parameters"], pa.string()), '"^^', vocabulary.nt["integer"]]), graph)
    extra = joined.tables.licences
    if extra.num_rows:
        at = pc.index_in(extra["record"], records["index"])
        ok = pc.is_valid(at)
        write(pc.take(subject, pc.filter(at, ok)), vocabulary.nt["license"], _licence_terms(pc.filter(extra["license"], ok), licenses), pc.take(graph, pc.filter(at, ok)))
    refs = joined.references
    at = pc.index_in(refs["record"], records["index"])
    ref_graph = pc.take(graph, at)
    entity = pc.take(joined.owner, refs["record"])
    ref_subject = _column(["<", ID_BASE, entity, ">"])
    kind = pc.list_element(pc.split_pattern(entity, "/", max_splits=1), 0)
    relation = pc.if_else(pc.equal(refs["field"], "derived_from"), pc.coalesce(refs["relation"], pc.if_else(pc.equal(kind, "model"), "based-on", "derived")), refs["field"])
    key = pc.binary_join_element_wise(relation, kind, " ")
    encoded = pc.dictionary_encode(key.combine_chunks() if isinstance(key, pa.ChunkedArray) else key)
    first_property = pa.array([(vocabulary.closed.get(tuple(v.split(" ")), []) or [None])[0] for v in encoded.dictionary.to_pylist()], pa.string())
    predicate = pc.take(first_property, encoded.indices)
    resolved = pc.is_valid(refs["target"])
    write(pc.if_else(resolved, ref_subject, pa.scalar(None, pa.string())), "", _column([predicate, " <", ID_BASE, refs["target"], ">"]), ref_graph)
    mentioned = pc.if_else(resolved, pa.scalar(None, pa.string()), ref_subject)
    write(mentioned, vocabulary.nt["mentions"], _column(['"huggingface:', refs["text"], '"']), ref_graph)  # a checked Hub id: nothing to escape
    return count


def _policy_text(signatures: list[Signature], licenses) -> tuple[bytes, bytes, int]:  # noqa: ANN001
    """One ODRL policy per signature, shared by every entity with those terms, as N-Triples and as Turtle, and
    its triple count: the object path's own blocks (kg.rdf.shared_policy_blocks), so both paths write the
    same policy for the same terms."""
    import io as _io

    from kg.rdf import shared_policy_blocks
    from kg.stream import _HEADERS, write_blocks

    blocks = [block for s in signatures for block in shared_policy_blocks(s.as_tuple(), licenses)]
    data_nt = "".join(f"{subject} {p} {o} .\n" for subject, pairs in blocks for p, o in pairs).encode()
    buffer = _io.StringIO()
    write_blocks(blocks, {"kg.ttl": buffer})
    return data_nt, buffer.getvalue()[len(_HEADERS["kg.ttl"]):].encode(), sum(len(pairs) for _, pairs in blocks)


# --- the build's files ----------------------------------------------------------------------


ENTITIES_FILE, EDGES_FILE = TABLE_FILES


def write_build(folder: Path, triples, joined: Joined, terms: Terms, formats: tuple[str, ...], licenses, compress: bool = False) -> int:  # noqa: ANN001
    """Write the RDF files of `formats` (kg.nt, kg.ttl, kg.nq, kg.jsonld) and the lineage tables into `folder`:
    the catalog's own triples first (sorted, as kg.stream writes them), then the Hub's from the tables.
    kg.jsonld is pyoxigraph's JSON-LD of the N-Triples (it needs kg.nt or kg.nq written). Returns the triples of the default graph.
    The lineage tables are written by a thread of their own (Arrow and zstd, which let go of the GIL) while this one
    writes the catalog's blocks and the policies' text (Python), and before the writers' plan and batches are
    made, so those and the tables' row groups are not held at once."""
    import os
    from contextlib import ExitStack

    from kg.stream import graph_blocks, open_export, write_blocks

    folder = Path(folder)
    textual = [name for name in formats if name != "kg.jsonld"]
    extra = () if "kg.nt" in textual or "kg.jsonld" not in formats else ("kg.nt",)  # JSON-LD is made from the N-Triples
    names = [*textual, *extra]
    paths = {name: folder / (name + (".gz" if compress and name not in extra else "")) for name in names}
    with ExitStack() as stack:
        lineage = stack.enter_context(ThreadPoolExecutor(1)).submit(write_lineage_tables, folder, joined, terms)
        handles = {name: open_export(path, stack) for name, path in paths.items()}
        texts = {name: io.StringIO() for name in handles}
        catalog_blocks = list(graph_blocks(triples))
        write_blocks(catalog_blocks, {("kg.nt" if name == "kg.nq" else name): text for name, text in texts.items() if name != "kg.nq"})
        if "kg.nq" in texts:
            write_blocks(catalog_blocks, {"kg.nt": texts["kg.nq"]})
        for name, text in texts.items():
            handles[name].write(text.getvalue().encode("utf-8"))
        count = sum(len(p) for _, p in catalog_blocks)
        policies = _policies(joined, terms, licenses)
        lineage.result()
        give_back()  # the tables' row groups
        count += write_table_exports(handles, joined, _plan(joined, terms, policies), licenses, quads="kg.nq" in handles)
    if "kg.jsonld" in formats:
        import pyoxigraph as ox

        from kg.store import rdf_input

        source = paths.get("kg.nt") or paths["kg.nq"]
        fmt = ox.RdfFormat.N_TRIPLES if source.name.startswith("kg.nt") else ox.RdfFormat.N_QUADS
        with rdf_input(source) as data, ExitStack() as stack:
            out = open_export(folder / ("kg.jsonld" + (".gz" if compress else "")), stack)
            ox.serialize(ox.parse(data, format=fmt, lenient=True), output=out, format=ox.RdfFormat.STREAMING_JSON_LD)
        for name in extra:
            os.remove(paths[name])
    give_back()  # the writers' batches
    return count


def write_lineage_tables(folder: Path, joined: Joined, terms: Terms) -> None:
    """entities.parquet and edges.parquet: the lineage of a large build in the form `kg lineage --graph`
    and `kg terms --graph` read (docs/how-to/hub-scale.md), instead of a graph.json of millions of nodes."""
    digests = pa.array([s.digest for s in terms.signatures], pa.string())
    entities = joined.entities.append_column("terms", pa.array(terms.signature, pa.int64()))
    records, edges = joined.tables.records, joined.edges
    # Row groups of LINEAGE_ROWS made and written one by one (the size of pyarrow's own row groups): the columns
    # made for the files (each entity's digest and URL, each edge's record URL) are held a row group at a time.
    def entity_parts() -> Iterator[pa.Table]:
        for start, part in _row_groups(entities):
            rows = slice(start, start + part.num_rows)
            url = _column([HUB, pc.if_else(pc.equal(part["kind"], "model"), "", "datasets/"), part["hub_id"]])
            part = part.set_column(part.schema.get_field_index("terms"), "terms", pc.take(digests, part["terms"]))
            yield part.append_column("via", terms.via(rows)).append_column("origin", terms.origin(rows)).append_column("url", url).drop_columns(["record"])

    def edge_parts() -> Iterator[pa.Table]:
        for _, part in _row_groups(edges):
            cited = records.select(["kind", "id"]).take(part["record"])
            evidence = _column([HUB, pc.if_else(pc.equal(cited["kind"], "model"), "", "datasets/"), cited["id"]])
            yield part.drop_columns(["record"]).append_column("evidence", evidence)

    _write_parquet(Path(folder) / ENTITIES_FILE, entity_parts())
    _write_parquet(Path(folder) / EDGES_FILE, edge_parts())


def _row_groups(table: pa.Table) -> Iterator[tuple[int, pa.Table]]:
    """(first row, slice) of LINEAGE_ROWS rows each; an empty table gives one empty slice, so its file is still written."""
    for start in range(0, max(table.num_rows, 1), LINEAGE_ROWS):
        yield start, table.slice(start, LINEAGE_ROWS)


def _write_parquet(path: Path, parts: Iterator[pa.Table]) -> None:
    writer = None
    try:
        for part in parts:
            writer = writer or pq.ParquetWriter(path, part.schema, compression="zstd")
            writer.write_table(part)
    finally:
        if writer is not None:
            writer.close()


# --- the report, and the lineage read back ----------------------------------------------------


def format_table_report(joined: Joined, limit: int | None = 20) -> str:
    """The merge report of kg.merge.format_report, from the tables: counts, matches, ambiguities, and the
    unresolved names most frequent first (`limit` of them; None: all)."""
    lines = [f"{key}: {value}" for key, value in joined.counts().items()]
    records = joined.tables.records
    ids = records["id"]
    lines.append("\nmatched:")
    lines += [f"  huggingface '{ids[i].as_py().split('/')[-1]}' -> {entity} ({rule})" for i, (entity, rule) in sorted(joined.matched.items())]
    lines.append("\nambiguous (not merged):")
    files = joined.tables.files
    lines += [f"  huggingface '{ids[i].as_py().split('/')[-1]}' ({files[records['file'][i].as_py()]}:{records['row'][i].as_py()}): {', '.join(c)}" for i, c in joined.ambiguous]
    refs = joined.references
    unresolved = refs.filter(pc.is_null(refs["target"]))
    texts = pc.binary_join_element_wise("huggingface:", unresolved["text"], "")
    counted = pc.value_counts(texts).to_pylist() if unresolved.num_rows else []
    counted.sort(key=lambda kv: (-kv["counts"], kv["values"]))
    shown = len(counted) if limit is None else min(limit, len(counted))
    lines.append(f"\nunresolved ({len(counted)} distinct names; the {shown} most frequent):")
    lines += [f"  {kv['counts']:>4}  {kv['values']}" for kv in counted[:shown]]
    return "\n".join(lines) + "\n"


def read_lineage_graph(folder: Path, graph, text: str):  # noqa: ANN001, ANN201
    """The catalog's graph with the imported entities around one entity (its ancestors and descendants) read from a
    build's entities.parquet and edges.parquet; and the entity's id. `text` is an id, a Hub id or a name."""
    import networkx as nx

    from kg.graph import find_node

    folder = Path(folder)
    entities = pq.read_table(folder / ENTITIES_FILE, columns=["entity", "kind", "name", "hub_id", "imported", "license", "url"])
    edges = pq.read_table(folder / EDGES_FILE)
    folded = text.removeprefix("huggingface:").casefold()
    hit = pc.or_(pc.equal(entities["entity"], text), pc.or_(pc.equal(pc.utf8_lower(entities["hub_id"]), folded), pc.equal(pc.utf8_lower(entities["name"]), folded)))
    found = entities.filter(hit)
    if found.num_rows == 0 or text in graph:
        start = find_node(graph, text)  # a curated entity, or the catalog's own "did you mean"
    elif found.num_rows > 1:
        from kg.errors import RequestError

        raise RequestError(f"'{text}' names {found.num_rows} entities: {', '.join(found['entity'].to_pylist()[:5])}", "give its id or its Hub id (owner/name)")
    else:
        start = found["entity"][0].as_py()
    ids = entities["entity"].combine_chunks()
    child, parent = _positions(edges["entity"], ids), _positions(edges["target"], ids)
    near = pc.unique(pa.concat_arrays([_reachable(child, parent, ids, start), _reachable(parent, child, ids, start)]))
    out = graph.copy() if isinstance(graph, nx.MultiDiGraph) else nx.MultiDiGraph(graph)
    add_imported(out, entities, edges, near)
    return out, start


def add_imported(graph, entities: pa.Table, edges: pa.Table, near: pa.Array) -> None:  # noqa: ANN001
    """Add to a networkx graph the imported entities of `near` and the edges touching them, with what
    kg.terms and kg.graph read (as kg.merge.add_to_graph gives a new entity); `entities` needs entity, kind,
    name, hub_id, imported and license, `edges` entity, relation, field, target (and evidence, else the child's page)."""
    nodes = entities.filter(pc.and_(pc.is_in(entities["entity"], near), entities["imported"]))
    for row in nodes.to_pylist():
        url = f"{HUB}{'' if row['kind'] == 'model' else 'datasets/'}{row['hub_id']}"
        data = {"kind": row["kind"], "name": row["name"], "sources": [{"url": url, "supports": f"huggingface record {row['hub_id']}"}], "imported": True}
        if row["license"]:
            data.update(license=row["license"], license_scope="weights" if row["kind"] == "model" else "data")
        graph.add_node(row["entity"], **data)
    sub = edges.filter(pc.or_(pc.is_in(edges["entity"], near), pc.is_in(edges["target"], near)))
    for row in sub.to_pylist():
        if row["entity"] in graph and row["target"] in graph:
            evidence = row.get("evidence") or graph.nodes[row["entity"]]["sources"][0]["url"]
            graph.add_edge(row["entity"], row["target"], key=row["relation"], field=row["field"], relation=row["relation"], evidence=evidence, imported="huggingface")


def _positions(values: pa.Array | pa.ChunkedArray, ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Each value's row in `ids` (the first, should it be there twice; a null's is the first null's), -1 where it is
    none (a catalog entity no record matched). Long text columns are matched in parts by length (`_length_parts`)."""
    values, ids = (a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in (values, ids))
    if len(values) + len(ids) < HASHED_APART or not (pa.types.is_string(values.type) and pa.types.is_string(ids.type)):
        return _index_in(values, ids)
    value_parts, id_parts = _length_parts(values), _length_parts(ids)

    def find(part: int) -> np.ndarray:
        rows = id_parts[part]
        if not len(rows):
            return np.full(len(value_parts[part]), -1, dtype=np.int64)
        at = _index_in(pc.take(values, pa.array(value_parts[part])), pc.take(ids, pa.array(rows)))
        return np.where(at >= 0, rows[np.maximum(at, 0)], -1)

    positions = np.empty(len(values), dtype=np.int64)
    with ThreadPoolExecutor(READ_THREADS) as pool:
        for rows, found in zip(value_parts, pool.map(find, range(LENGTH_PARTS + 1))):
            positions[rows] = found
    return positions


def _index_in(values: pa.Array, ids: pa.Array) -> np.ndarray:
    return pc.fill_null(pc.index_in(values, ids), -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _reachable(frm: np.ndarray, to: np.ndarray, ids: pa.Array, start: str) -> pa.Array:
    """The entities reached from `start` along frm -> to (vectorised breadth-first), `start` included."""
    at = pc.index(ids, start).as_py()
    if at < 0:
        return pa.array([start], pa.string())
    order = np.argsort(frm, kind="stable")
    return pc.filter(ids, pa.array(_spread(frm[order], to[order], len(ids), at)))


def _spread(frm_sorted: np.ndarray, to_sorted: np.ndarray, n: int, at: int | np.ndarray) -> np.ndarray:
    """Which of n rows are reached from row(s) `at` along frm -> to, `at` included; the pairs sorted by frm."""
    seen = np.zeros(n, dtype=bool)
    frontier = np.unique(np.asarray(at, dtype=np.int64).reshape(-1))
    seen[frontier] = True
    while len(frontier):
        lo, hi = np.searchsorted(frm_sorted, frontier, "left"), np.searchsorted(frm_sorted, frontier, "right")
        counts = hi - lo
        # The runs lo[i]:hi[i] of every frontier row, concatenated without a Python loop.
        nxt = to_sorted[np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())]
        nxt = nxt[nxt >= 0]
        nxt = np.unique(nxt[~seen[nxt]])
        seen[nxt] = True
        frontier = nxt
    return seen


def overview_page(lineage, joined: Joined, licenses, families: int = 8, members: int = 4, per_curated: int = 2):  # noqa: ANN001, ANN201
    """What the page of a Hub build draws, chosen as kg.graph.overview_nodes chooses it on the object path's
    graph, and their effective terms: every curated entity (the graph `lineage`, `curated_lineage`'s),
    up to `per_curated` imported direct derivatives of each (those with the most derivatives first), and
    the `families` imported roots with the most descendants, each with up to `members` of its direct
    derivatives. Descendants are counted, by a breadth-first walk each, for the 3 x `families` roots with
    the most direct derivatives: a walk at three million models takes a fraction of a second, a walk from
    every root would not end. The terms of the imported entities shown are kg.terms' on their whole ancestry.
    Returns (the page's graph, the terms of its imported entities)."""
    from kg.graph import LINEAGE_FIELDS
    from kg.terms import compute_all

    entities, edges = joined.entities, joined.edges
    ids = entities["entity"].combine_chunks()
    n = len(ids)
    imported = entities["imported"].to_numpy(zero_copy_only=False) if n else np.zeros(0, bool)
    lineage_edges = pc.is_in(edges["field"], pa.array(LINEAGE_FIELDS, pa.string())).to_numpy(zero_copy_only=False) if edges.num_rows else np.zeros(0, bool)
    child, parent = (rows[lineage_edges] for rows in joined.edge_rows)
    child, parent = child[(child >= 0) & (parent >= 0)], parent[(child >= 0) & (parent >= 0)]
    derivatives = np.bincount(parent, minlength=n) if n else np.zeros(0, np.int64)  # direct, as in_degree counts them
    chosen: set[int] = set()

    def most_derived(rows: np.ndarray, count: int) -> list[int]:
        names = pc.take(ids, pa.array(rows, pa.int64())).to_pylist()
        return [row for _, _, row in sorted(zip((-derivatives[rows]).tolist(), names, rows.tolist()))[:count]]

    by_parent = np.argsort(parent, kind="stable")
    parent_sorted, child_by_parent = parent[by_parent], child[by_parent]

    def children_of(row: int) -> np.ndarray:
        return np.unique(child_by_parent[np.searchsorted(parent_sorted, row, "left"): np.searchsorted(parent_sorted, row, "right")])

    for row in np.flatnonzero(~imported):
        kids = children_of(row)
        chosen.update(most_derived(kids[imported[kids]], per_curated))
    has_parent = np.zeros(n, bool)
    has_parent[child] = True
    roots = np.flatnonzero(imported & ~has_parent & (derivatives > 0))
    candidates = roots[np.lexsort((np.arange(len(roots)), -derivatives[roots]))][: 3 * families]
    size = {int(r): int(_spread(parent_sorted, child_by_parent, n, int(r)).sum()) - 1 for r in candidates}
    for root in sorted(size, key=lambda r: (-size[r], ids[int(r)].as_py()))[:families]:
        chosen.update([root, *most_derived(children_of(root), members)])
    shown = pc.take(ids, pa.array(sorted(chosen), pa.int64())) if chosen else pa.array([], pa.string())
    page = lineage.subgraph([node for node, data in lineage.nodes(data=True) if not data.get("imported")]).copy()
    drawn = pa.concat_arrays([pa.array(list(page), pa.string()), shown])
    add_imported(page, entities, edges.filter(pc.and_(pc.is_in(edges["entity"], drawn), pc.is_in(edges["target"], drawn))), shown)
    # Their terms on their whole ancestry: each shown entity and what it derives from.
    by_child = np.argsort(child, kind="stable")
    child_sorted, parent_by_child = child[by_child], parent[by_child]
    behind = _spread(child_sorted, parent_by_child, n, np.array(sorted(chosen), dtype=np.int64))
    ancestry = lineage.copy()
    near = pc.filter(ids, pa.array(behind & imported))
    add_imported(ancestry, entities, edges.filter(pc.is_in(edges["entity"], near)), near)
    return page, compute_all(ancestry, licenses, nodes=[ids[row].as_py() for row in sorted(chosen) if imported[row]])


# --- the stage kg.build runs ------------------------------------------------------------------


@dataclass
class HubBuild:
    """What the columnar path made for kg.build.Build.tables: the joined tables, every entity's terms, the
    catalog's lineage with the dump's edges into it (`curated_lineage`), which the catalog's terms are computed
    on, and what the page draws (`overview_page`): its graph and the terms of the imported entities on it."""
    joined: Joined | None  # None once let go (`let_go`)
    terms: Terms | None
    lineage: object  # networkx.MultiDiGraph
    page: object  # networkx.MultiDiGraph
    page_terms: dict
    counts: dict[str, int]  # the merge report's counts (Joined.counts), kept when the tables are let go
    edges: int  # the accepted lineage edges, likewise

    def let_go(self) -> None:
        """Drop the joined tables and the terms, and hand their memory back, once the build's files are written:
        a store's load comes next, and at three million models they are 3 GB it would hold beside its own."""
        self.joined = self.terms = None
        give_back()


def build_hub(catalog, graph, paths: list[Path], stage) -> HubBuild:  # noqa: ANN001
    """Read, check, join and give terms to Hub dumps (kg.build's stage for them); CatalogError for bad rows."""
    import logging

    from kg.errors import CatalogError

    # The system allocator hands freed buffers back at once; mimalloc, Arrow's default, kept the join's
    # temporaries (3.0 GB peak against 2.4 GB at one million models, and 11 s against 9 s: benchmarks/RESULTS.md).
    pa.set_memory_pool(pa.system_memory_pool())
    with stage(f"reading {', '.join(map(str, paths))} into tables"):
        tables = read_hub_tables(paths)
    if any(p.level == "error" for p in tables.problems):
        raise CatalogError(tables.problems)
    log = logging.getLogger("kg")
    for problem in sorted(tables.problems)[:20]:
        log.warning("%s", problem)
    if len(tables.problems) > 20:
        log.warning("... and %d more warning(s) in the sources", len(tables.problems) - 20)
    with stage(f"joining {tables.records.num_rows:,} records with the catalog"):
        joined = join_catalog(tables, catalog)
        give_back()  # once its temporaries are freed, when it has returned: 0.5 GB at three million models
    with stage("computing every imported entity's effective terms"):
        lineage = curated_lineage(joined, graph)
        terms = compute_terms_table(joined, lineage, catalog.licenses)
        give_back()
    with stage("choosing the imported families the page shows"):
        page, page_terms = overview_page(lineage, joined, catalog.licenses)
    give_back()  # after the page's walks too: their temporaries were held through the writing (0.15 GB at 1M)
    return HubBuild(joined, terms, lineage, page, page_terms, joined.counts(), joined.edges.num_rows)
