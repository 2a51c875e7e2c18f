"""A 10,000-model Hub dump (benchmarks/hub_dump.py) built with
`kg build --source huggingface=DUMP --store DIR` and queried through `kg serve`.

What the endpoint answers is compared with what the dump says, read by the
Hugging Face reader: the models of the dump, and the models derived from the
base model with the most descendants, asked with the property path
`prov:wasDerivedFrom+` and with the closure the store adds (`lkg:descendsFrom`).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import networkx as nx
import pytest

from kg.cli import main
from kg.sources import huggingface

from test_serve import ask, start_server, stop_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from hub_dump import write_dump  # noqa: E402

MODELS = 10_000
RECORD = "https://w3id.org/llm-lineage/id/record/huggingface/"  # kg.vocab.record_iri of a Hub record
PREFIXES = """PREFIX lkg: <https://w3id.org/llm-lineage/ontology#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
"""


def derived_from(dump: Path, fields: tuple[str, ...] = ("derived_from",)) -> dict[str, set[str]]:
    """Hub id -> the Hub ids of the records that name it as their base model (or, with
    "generated_by" in `fields`, as the model that generated them), as the reader reads the dump."""
    records = huggingface.read(dump, [])
    ids = {record.source_id for record in records}
    children: dict[str, set[str]] = defaultdict(set)
    for record in records:
        for mention in record.mentions:
            base = mention.text.removeprefix("huggingface:")
            if mention.field in fields and base in ids:
                children[base].add(record.source_id)
    return children


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("hub")
    dump = write_dump(MODELS, 1, folder / "hub.jsonl")
    out = folder / "build"
    assert main(["build", "--source", f"huggingface={dump}", "--out", str(out), "--formats", "nt,nq", "--store", str(out / "store")]) == 0
    children = derived_from(dump)
    # prov:wasDerivedFrom also joins a dataset to the model that generated it.
    made = derived_from(dump, ("derived_from", "generated_by"))
    family = nx.DiGraph((parent, child) for parent, kids in made.items() for child in kids)
    biggest = max(children, key=lambda base: (len(nx.descendants(family, base)), base))
    server, url = start_server(out / "store", out / "lineage.html")
    try:
        yield url, dump, children, nx.descendants(family, biggest), biggest
    finally:
        assert stop_server(server) == (130, "stopped\n")


def test_the_endpoint_holds_every_record_of_the_dump(hub) -> None:  # noqa: ANN001
    url, dump, _, _, _ = hub
    answer = ask(url, PREFIXES + 'SELECT (COUNT(DISTINCT ?entity) AS ?n) WHERE { ?record a lkg:SourceRecord ; lkg:claimSource "huggingface" ; lkg:describes ?entity }')
    lines = sum(1 for line in dump.read_text(encoding="utf-8").splitlines() if line.strip())
    assert int(answer["results"]["bindings"][0]["n"]["value"]) == lines > MODELS


def test_the_models_derived_in_one_step_from_the_biggest_base(hub) -> None:  # noqa: ANN001
    url, _, children, _, biggest = hub
    query = PREFIXES + f"""SELECT DISTINCT ?from WHERE {{
      <{RECORD}{biggest}> lkg:describes ?base .
      GRAPH ?record {{ ?model ?relation ?base }}  # what each record claims, accepted or not
      BIND(STRAFTER(STR(?record), "{RECORD}") AS ?from)
      FILTER(?relation IN (prov:wasDerivedFrom, lkg:fineTunedFrom, lkg:adapterOf, lkg:mergedFrom, lkg:quantizedFrom))
    }}"""
    found = {row["from"]["value"].removeprefix("huggingface:") for row in ask(url, query)["results"]["bindings"]}
    assert found == children[biggest]
    assert len(found) > 10


def test_all_descendants_of_the_biggest_base(hub) -> None:  # noqa: ANN001
    url, _, _, expected, biggest = hub
    query = PREFIXES + f"""SELECT DISTINCT ?from WHERE {{
      <{RECORD}{biggest}> lkg:describes ?base .
      ?model prov:wasDerivedFrom+ ?base .
      ?record lkg:describes ?model .
      BIND(STRAFTER(STR(?record), "{RECORD}") AS ?from)
    }}"""
    found = {row["from"]["value"].removeprefix("huggingface:") for row in ask(url, query)["results"]["bindings"]}
    assert found == expected


def test_all_descendants_of_the_biggest_base_through_the_closure(hub) -> None:  # noqa: ANN001
    url, _, _, expected, biggest = hub
    query = PREFIXES + f"""SELECT ?from WHERE {{
      <{RECORD}{biggest}> lkg:describes ?base .
      ?model lkg:descendsFrom ?base .
      ?record lkg:describes ?model .
      BIND(STRAFTER(STR(?record), "{RECORD}") AS ?from)
    }}"""
    rows = [row["from"]["value"].removeprefix("huggingface:") for row in ask(url, query)["results"]["bindings"]]
    assert len(rows) == len(set(rows))  # one closure triple per pair
    assert set(rows) == expected
