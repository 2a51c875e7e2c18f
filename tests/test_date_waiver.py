"""A `date_waiver` on a derived_from or generated_by edge, as the catalog's
reference documents it: the entity may then be dated before its source, and
neither the catalog check nor the check on the RDF refuses it."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Literal

from kg.cli import main
from kg.build import build
from kg.vocab import LKG

ADAPTER = "models/alpaca-lora-7b.yaml"  # derived from model/llama-7b, released 2023-02-24
WAIVER = "the adapter's series is dated by its first preview"


def date_before_llama(catalog: Path, waiver: bool) -> None:
    entry = catalog / ADAPTER
    text = entry.read_text().replace('released: "2023-03-14"', 'released: "2023-01-14"')
    if waiver:
        text = text.replace("    relation: adapter\n", f"    relation: adapter\n    date_waiver: {WAIVER}\n")
    entry.write_text(text)


def test_a_waived_edge_validates_and_its_reason_is_in_the_rdf(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    date_before_llama(tiny, waiver=True)
    assert main(["validate", "--data", "data"]) == 0
    assert capsys.readouterr().err == ""
    rdf = build(tiny, ()).rdf
    assert list(rdf.objects(None, LKG.dateWaiver)) == [Literal(WAIVER, lang="en")]


def test_without_the_waiver_the_date_is_refused_once(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    date_before_llama(tiny, waiver=False)
    assert main(["validate", "--data", "data"]) == 1
    assert capsys.readouterr().err == (
        "data/models/alpaca-lora-7b.yaml:7: derived_from[0]: released 2023-01-14, before 'model/llama-7b' (2023-02-24)\n"
        "Error: 1 error(s), 0 warning(s) in the catalog\n")
