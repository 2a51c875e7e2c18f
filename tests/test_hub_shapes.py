"""The Hub's real shapes read by kg.sources.huggingface and kg.sources.hub_parquet, as untrusted input.

The API records are the hand-written fixtures/hub/*.json; the Parquet files are made here
with pyarrow in hub-stats' and the model cards dataset's schemas.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kg.sources import hub_parquet, huggingface, read_source

from hub_fixtures import HUB_FIXTURES, write_hub_stats

MODELS = json.loads((HUB_FIXTURES / "models.json").read_text(encoding="utf-8"))


def _read(path: Path) -> tuple[dict, list[str]]:
    problems: list = []
    records = {r.source_id: r for r in read_source("huggingface", path, problems)}
    return records, [str(p).replace(str(path), "F") for p in problems]


def _said(record) -> list[tuple]:  # noqa: ANN001
    """What a record says, with the place in the record each value came from (not the file's name or row)."""
    return [(c.field, c.value, c.origin.where.split("#")[1]) for c in record.claims] + [
        (m.field, m.text, m.relation, m.evidence, m.origin.where.split("#")[1]) for m in record.mentions]


def _jsonl(tmp_path: Path, records: list[dict], name: str = "hub.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_lineage_keeps_the_encoding_that_said_it_and_both_relations_where_they_disagree() -> None:
    records, problems = _read(HUB_FIXTURES / "models.json")
    assert _said(records["tiny-lab/odd-7b"])[-2:] == [
        ("derived_from", "huggingface:tiny-lab/base-7b", "finetune", "baseModels", "/baseModels/models/0/id"),
        ("derived_from", "huggingface:tiny-lab/base-7b", "quantized", "tags", "/tags/2"),
    ]
    assert problems == ["F:7: warning: cardData.base_model.1: '{{ ''.__class__.__mro__[1] }}' cannot be a Hub id; left out"]
    merge = records["tiny-lab/merge-7b"]
    assert [(m.text, m.relation, m.evidence) for m in merge.mentions] == [
        ("huggingface:tiny-lab/chat-7b", "merge", "baseModels"), ("huggingface:other-org/math-7b", "merge", "baseModels")]


def test_without_base_models_the_card_and_then_the_tags_say_it_and_an_unstated_relation_is_inferred(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, [
        {"id": "a/tags-only", "tags": ["base_model:x/base", "base_model:adapter:x/base"]},
        {"id": "a/card-only", "tags": ["gguf"], "cardData": {"base_model": "https://huggingface.co/x/base"}},
        {"id": "a/two-bases", "cardData": {"base_model": ["x/one", "x/two"]}},
        {"id": "a/card-and-tag", "tags": ["base_model:quantized:x/base"], "cardData": {"base_model": "x/base"}},
        {"id": "a/new-relation", "baseModels": {"relation": "distillation", "models": [{"id": "x/teacher"}]}},
    ])
    records, problems = _read(path)
    assert problems == []
    lineage = {name: [(m.text.removeprefix("huggingface:"), m.relation, m.evidence) for m in r.mentions] for name, r in records.items()}
    assert lineage == {
        "a/tags-only": [("x/base", "adapter", "tags")],
        "a/card-only": [("x/base", "quantized", "cardData")],  # a huggingface.co address is its id; gguf: quantized
        "a/two-bases": [("x/one", "merge", "cardData"), ("x/two", "merge", "cardData")],
        "a/card-and-tag": [("x/base", "quantized", "tags")],  # the card names it, the tag states the relation
        "a/new-relation": [("x/teacher", None, "baseModels")],  # a relation we do not know is a plain derivation
    }


def test_licence_other_takes_the_licence_name_and_a_link_only_when_it_is_an_address() -> None:
    records, _ = _read(HUB_FIXTURES / "models.json")
    assert [c for c in _said(records["tiny-lab/lora-7b"]) if c[0].startswith("license")] == [
        ("license", "tiny-lab-research", "/cardData/license_name"), ("license_link", "https://example.org/tiny-lab/LICENSE", "/cardData/license_link")]
    assert [c for c in _said(records["tiny-lab/gated-13b"]) if c[0].startswith(("license", "gated", "parameters"))] == [
        ("license", "tiny-lab-community", "/cardData/license_name"), ("gated", "manual", "/gated"), ("parameters", 13015864320, "/safetensors/total")]


def test_the_evidence_version_is_the_sha_else_last_modified_and_retrieved_is_the_dump_date(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, [{"id": "a/with-sha", "sha": "0123456789abcdef0123456789abcdef01234567", "lastModified": "2024-05-01T00:00:00.000Z", "cardData": {"license": "mit"}},
                             {"id": "a/no-sha", "lastModified": "2024-05-02T10:11:12.000Z", "cardData": {"license": "mit"}}])
    taken = dt.datetime(2025, 1, 31, 12, tzinfo=dt.timezone.utc).timestamp()
    os.utime(path, (taken, taken))
    records, _ = _read(path)
    assert [(r.claims[0].origin.commit, r.claims[0].origin.retrieved) for r in records.values()] == [
        ("0123456789abcdef0123456789abcdef01234567", "2025-01-31"), ("2024-05-02T10:11:12.000Z", "2025-01-31")]


def test_a_json_array_and_json_lines_and_hub_stats_parquet_say_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    array, _ = _read(HUB_FIXTURES / "models.json")
    lines, _ = _read(_jsonl(tmp_path, MODELS))
    write_hub_stats(MODELS, tmp_path / "models.parquet")
    monkeypatch.setattr(hub_parquet, "BATCH_ROWS", 2)  # rows counted across batches, and across row groups of 3
    parquet, problems = _read(tmp_path / "models.parquet")
    assert {k: _said(r) for k, r in array.items()} == {k: _said(r) for k, r in lines.items()}
    # hub-stats has no `gated` column: the one claim the API records make that its rows cannot.
    assert {k: [c for c in _said(r) if c[0] != "gated"] for k, r in array.items()} == {k: _said(r) for k, r in parquet.items()}
    assert list(parquet) == [m["id"] for m in MODELS]
    assert parquet["tiny-lab/odd-7b"].origin.where.endswith("models.parquet:7#/id")
    assert problems == ["F:7: warning: cardData.base_model.1: '{{ ''.__class__.__mro__[1] }}' cannot be a Hub id; left out"]


def test_a_datasets_parquet_gives_datasets_and_a_models_parquet_of_another_shape_is_one_error(tmp_path: Path) -> None:
    rows = [{"id": "tiny-lab/web-text", "author": "tiny-lab", "tags": ["license:odc-by"], "cardData": json.dumps({"generated_by": "tiny-lab/chat-7b"})}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "datasets.parquet")
    records, _ = _read(tmp_path / "datasets.parquet")
    web = records["tiny-lab/web-text"]
    assert (web.kind, web.origin.url, _said(web)) == ("dataset", "https://huggingface.co/datasets/tiny-lab/web-text", [
        ("license", "ODC-By-1.0", "/tags/0"), ("generated_by", "huggingface:tiny-lab/chat-7b", None, None, "/cardData/generated_by")])
    pq.write_table(pa.table({"name": ["x"]}), tmp_path / "other.parquet")
    assert _read(tmp_path / "other.parquet")[1] == ["F:1: not a Hub dump: no 'id' column (hub-stats) nor 'modelId' and 'card' (model cards)"]


CARDS = pa.schema([("modelId", pa.string()), ("author", pa.string()), ("last_modified", pa.timestamp("us", tz="UTC")), ("downloads", pa.int64()),
                   ("likes", pa.int64()), ("library_name", pa.string()), ("tags", pa.list_(pa.string())), ("pipeline_tag", pa.string()),
                   ("createdAt", pa.timestamp("us", tz="UTC")), ("card", pa.string())])


def test_the_cards_parquet_parses_front_matter_safely_and_keeps_the_record_when_a_card_is_bad(tmp_path: Path) -> None:
    when = dt.datetime(2024, 3, 5, 12, 30, tzinfo=dt.timezone.utc)
    bomb = "---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n---\n"
    cards = {
        "tiny-lab/lora-7b": "---\nlicense: apache-2.0\nbase_model: tiny-lab/base-7b\nbase_model_relation: adapter\nlanguage: [en, zh]\n---\n# About\n" + "words " * 100_000,
        "tiny-lab/bomb": bomb,
        "tiny-lab/tagged": f"---\nlicense: !!python/object/apply:os.system ['touch {tmp_path}/pwned']\n---\n",
        "tiny-lab/plain": "# Just a README, no front matter\n",
    }
    rows = [{"modelId": k, "author": "tiny-lab", "last_modified": when, "createdAt": when, "tags": [], "card": v} for k, v in cards.items()]
    (tmp_path / "cards").mkdir()  # the dataset's files, read as one folder
    pq.write_table(pa.Table.from_pylist(rows[:2], schema=CARDS), tmp_path / "cards" / "train-00000-of-00002.parquet")
    pq.write_table(pa.Table.from_pylist(rows[2:], schema=CARDS), tmp_path / "cards" / "train-00001-of-00002.parquet")
    records, problems = _read(tmp_path / "cards")
    assert list(records) == list(cards)
    assert _said(records["tiny-lab/lora-7b"]) == [
        ("license", "Apache-2.0", "/cardData/license"), ("languages", "en", "/cardData/language/0"), ("languages", "zh", "/cardData/language/1"),
        ("uploaded", "2024-03-05", "/createdAt"),
        ("derived_from", "huggingface:tiny-lab/base-7b", "adapter", "cardData", "/cardData/base_model")]
    assert records["tiny-lab/lora-7b"].origin.commit == "2024-03-05T12:30:00.000Z"
    assert problems == [
        "F/train-00000-of-00002.parquet:2: warning: card: front matter uses YAML anchors or aliases, which are not read; the card's fields are left out",
        "F/train-00001-of-00002.parquet:1: warning: card: front matter is not valid YAML: could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'; the card's fields are left out",
        "F/train-00001-of-00002.parquet:2: warning: card: no YAML front matter (a model card starts with '---'); the card's fields are left out",
    ]
    assert not (tmp_path / "pwned").exists()


def test_untrusted_records_are_bounded_and_refused_by_row_and_the_rest_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface, "MAX_RECORD", 5_000)
    path = tmp_path / "hub.jsonl"
    path.write_text("\n".join([
        json.dumps({"id": "a/huge", "cardData": {"model-index": "x" * 6_000}}),
        json.dumps({"id": "../../etc/passwd"}),
        json.dumps({"id": "{{ cycler.__init__.__globals__.os.popen('id').read() }}"}),
        "[" * 2_000 + "]" * 2_000,
        json.dumps({"id": "a/payloads", "tags": ["license:mit\u0000"], "cardData": {
            "base_model": "hf://datasets/x/y::simplecache::filecache::zip://a.py", "datasets": ["ok/data", "a" * 400]}}),
        json.dumps({"id": "a/fine", "cardData": {"license": "mit"}}),
    ]) + "\n", encoding="utf-8")
    records, problems = _read(path)
    assert list(records) == ["a/payloads", "a/fine"]
    assert [(m.field, m.text) for m in records["a/payloads"].mentions] == [("trained_on", "huggingface:ok/data")]
    assert problems == [
        "F:1: warning: record of 6,050 characters is over the 5,000 a record may have; left out",
        "F:2: id: '../../etc/passwd' cannot be a Hub id (a Hub id is owner/name in letters, digits, '-', '_' and '.')",
        "F:3: id: '{{ cycler.__init__.__globals__.os.popen('id').read() }}' cannot be a Hub id (a Hub id is owner/name in letters, digits, '-', '_' and '.')",
        "F:4: not readable JSON (nested too deep or a number too long)",
        "F:5: warning: cardData.base_model: 'hf://datasets/x/y::simplecache::filecache::zip://a.py' cannot be a Hub id; left out",
        "F:5: warning: cardData.datasets.1: over-long or holds control characters; left out",
        "F:5: warning: tags.0: over-long or holds control characters; left out",
    ]


def test_an_oversized_card_data_in_parquet_is_dropped_before_python_and_the_row_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_parquet, "MAX_RECORD", 1_000)
    rows = [{"id": "a/big", "tags": ["license:mit"], "cardData": json.dumps({"license": "apache-2.0", "x": "y" * 2_000})},
            {"id": "a/small", "tags": [], "cardData": json.dumps({"license": "apache-2.0"})}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "models.parquet")
    records, problems = _read(tmp_path / "models.parquet")
    assert [_said(r)[0] for r in records.values()] == [("license", "MIT", "/tags/0"), ("license", "Apache-2.0", "/cardData/license")]
    assert problems == ["F:1: warning: cardData: over 1,000 characters; left out"]


def test_kg_build_shows_the_sources_warnings_on_stderr(tmp_path: Path) -> None:
    """A reader's warnings (a value set aside, the record still read) reach the user, not only the tests."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "kg", "build", "--source", f"huggingface={HUB_FIXTURES / 'models.json'}", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"{HUB_FIXTURES / 'models.json'}:7: warning: cardData.base_model.1: '{{{{ ''.__class__.__mro__[1] }}}}' cannot be a Hub id; left out"]
