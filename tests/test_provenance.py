"""Provenance per source record (issue 24): one IRI per record, a SourceRecord node in the
default graph, and the record's claims as quads in the graph named by that IRI."""

from __future__ import annotations

from kg.vocab import record_iri


def test_record_iri_keeps_unreserved_characters_and_slashes():
    assert record_iri("huggingface", "meta-llama/Llama-2-7b_hf.v1~x") == "https://w3id.org/llm-lineage/id/record/huggingface/meta-llama/Llama-2-7b_hf.v1~x"


def test_record_iri_percent_encodes_everything_else_as_utf8():
    assert record_iri("dpc", "Flan Collection/niv2:task#1") == "https://w3id.org/llm-lineage/id/record/dpc/Flan%20Collection/niv2%3Atask%231"
    assert record_iri("open-llms", "通义千问+%") == "https://w3id.org/llm-lineage/id/record/open-llms/%E9%80%9A%E4%B9%89%E5%8D%83%E9%97%AE%2B%25"
