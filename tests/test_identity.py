"""Identity: how imported records are matched to curated entities and to each other (kg.merge, docs/reference/identity.md).

Small hand-written fixtures under fixtures/merge/ test one rule each; the
labelled sample of real decisions (fixtures/merge/labelled_sample.yaml) measures
the merge's precision and recall on ../shared/data and skips when it is absent.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml

from kg.catalog import load_catalog
from kg.cli import main
from kg.merge import merge, normalise, owners_differ, read_sources
from kg.sources import Mention, Origin, Record, hub_repo, map_license, read_source

from conftest import FIXTURES, TINY

MERGE = FIXTURES / "merge"
SAMPLE = MERGE / "labelled_sample.yaml"
# ../shared/data beside the checkout, or beside the folder of worktrees a checkout may sit in.
SHARED = next((p for p in (Path(__file__).resolve().parents[n] / "shared" / "data" for n in (2, 3)) if p.is_dir()), None)
needs_shared = pytest.mark.skipif(SHARED is None, reason="../shared/data is absent")


def _origin(where: str = "test:1") -> Origin:
    return Origin("ecosystem-graphs", where, "https://example.org/assets")


def _record(name: str, kind: str = "model", owner: str | None = None, source_id: str | None = None, external: tuple = ()) -> Record:
    record = Record("ecosystem-graphs", source_id or f"{owner or 'x'}/{name}", kind, name, _origin(), external_ids=list(external))
    if owner:
        record.mentions.append(Mention("developers", owner, "organization", _origin()))
    return record


@pytest.mark.parametrize(("one", "other", "same"), [
    ("LLaMa-7B", "llama 7b", True),
    ("Llama-2-7b", "Llama 2 7B", True),
    ("LLaMA 2 7B", "LLaMA 27B", False),  # the gap between two numbers stays
    ("Command R+", "Command R", False),  # '+' is part of the name
    ("GPT-3.5-Turbo", "gpt-3.5-turbo", True),
    ("GPT-3.5", "GPT-35", False),  # a version's point stays
    ("Pythia 12B", "Pythia", False),  # a size is part of the name
])
def test_normalise_keeps_plus_versions_and_sizes(one: str, other: str, same: bool) -> None:
    assert (normalise(one) == normalise(other)) is same


@pytest.mark.parametrize(("url", "repo"), [
    ("https://huggingface.co/datasets/THUDM/AgentInstruct/viewer/default/alfworld", "THUDM/AgentInstruct"),
    ("https://huggingface.co/datasets/super_glue", "super_glue"),
    ("https://huggingface.co/datasets/laion/OIG/blob/main/unified_chip2.jsonl", "laion/OIG"),
    ("https://huggingface.co/microsoft/phi-4?library=transformers", "microsoft/phi-4"),
    ("https://huggingface.co/spaces/someone/demo", None),
    ("https://huggingface.co/blog/falcon", None),
    ("https://example.org/huggingface", None),
])
def test_hub_repo_reads_the_repo_id_of_a_link_and_nothing_from_other_pages(url: str, repo: str | None) -> None:
    assert hub_repo(url) == repo


def test_owners_differ_only_when_both_sides_name_owners_and_none_agrees() -> None:
    assert owners_differ(frozenset({"openai"}), frozenset({"together"}))
    assert not owners_differ(frozenset({"stanford"}), frozenset({"stanfordcrfm"}))
    assert not owners_differ(frozenset(), frozenset({"together"}))


def test_same_name_different_owners_stay_two_entities_and_explain_says_why() -> None:
    catalog = load_catalog(TINY)
    records = [_record("Dragonfly", owner="OpenAI"), _record("Dragonfly", owner="Together")]
    merged = merge(catalog, records, explain="Dragonfly")
    assert sorted(merged.new) == ["model/ecosystem-graphs-openai-dragonfly", "model/ecosystem-graphs-together-dragonfly"]
    assert merged.decisions[1].notes == ["name 'Dragonfly' is also model/ecosystem-graphs-openai-dragonfly's, but its owners (openai) are not the record's (together)"]


def test_two_hub_repos_of_one_name_under_different_owners_do_not_merge() -> None:
    catalog = load_catalog(TINY)
    records = [Record("huggingface", repo, "model", "llama-7b-chat", _origin(), aliases=[repo], external_ids=[f"huggingface:{repo}"])
               for repo in ("alice/llama-7b-chat", "bob/llama-7b-chat")]
    merged = merge(catalog, records)
    assert sorted(merged.new) == ["model/huggingface-alice-llama-7b-chat", "model/huggingface-bob-llama-7b-chat"]


def test_a_plus_keeps_two_models_apart_in_their_ids_too(capsys: pytest.CaptureFixture) -> None:
    merged = merge(load_catalog(TINY), read_sources([("ecosystem-graphs", MERGE / "ecosystem-graphs")]))
    assert sorted(merged.new) == ["model/ecosystem-graphs-cohere-command-r", "model/ecosystem-graphs-cohere-command-r-plus",
                                  "model/ecosystem-graphs-openai-dragonfly", "model/ecosystem-graphs-together-dragonfly"]


def test_names_merge_only_within_the_kind() -> None:
    catalog = load_catalog(TINY)
    merged = merge(catalog, [_record("Zephyr", "model", "HuggingFace"), _record("Zephyr", "dataset", "HuggingFace", source_id="h/Zephyr data")])
    assert len(merged.new) == 2


def test_a_hub_id_alias_resolves_a_base_model_case_insensitively(tmp_path: Path) -> None:
    shutil.copytree(TINY, tmp_path / "data")
    path = tmp_path / "data" / "models" / "llama-7b.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("aliases: [LLaMA-7B]", "aliases: [LLaMA-7B, someorg/LLaMA-7b-HF]", 1), encoding="utf-8")
    catalog = load_catalog(tmp_path / "data")
    child = Record("huggingface", "me/tuned", "model", "tuned", _origin(), external_ids=["huggingface:me/tuned"])
    child.mentions.append(Mention("derived_from", "huggingface:SomeOrg/llama-7b-hf", "model", _origin(), "finetune"))
    merged = merge(catalog, [child])
    assert [(r.mention.text, r.target) for r in merged.references] == [("huggingface:SomeOrg/llama-7b-hf", "model/llama-7b")]


def test_a_same_as_id_of_a_source_is_the_record_s_own_id(tmp_path: Path) -> None:
    shutil.copytree(TINY, tmp_path / "data")
    path = tmp_path / "data" / "models" / "llama-7b.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("aliases: [LLaMA-7B]", "aliases: [LLaMA-7B]\nsame_as: [ecosystem-graphs:meta/LLaMa 7B]", 1), encoding="utf-8")
    merged = merge(load_catalog(tmp_path / "data"), [_record("Something else entirely", source_id="meta/LLaMa 7B")])
    assert [(entity, how) for _, entity, how in merged.matched] == [("model/llama-7b", "own id ecosystem-graphs:meta/LLaMa 7B")]


def test_a_provider_before_a_model_name_resolves_to_that_provider_s_model() -> None:
    catalog = load_catalog(TINY)
    data = Record("dpc", "C/d", "dataset", "Some data", _origin())
    for text in ("Meta LLaMA-7B", "OpenAI LLaMA-7B"):
        data.mentions.append(Mention("generated_by", text, "model", _origin()))
    merged = merge(catalog, [data])
    assert [(r.mention.text, r.target) for r in merged.references] == [("Meta LLaMA-7B", "model/llama-7b"), ("OpenAI LLaMA-7B", None)]


def test_dpc_records_keep_their_identity_and_parts_get_an_edge_to_their_source() -> None:
    problems: list = []
    records = {r.source_id: r for r in read_source("dpc", MERGE / "dpc", problems)}
    assert problems == []
    # _template.json describes the format: no record.
    assert sorted(records) == ["Longform/longform-alpaca", "Longform/longform-c4", "Plain/plain", "SuperGLUE tasks/fc-cb", "SuperGLUE tasks/fc-record", "Tasksource/tsi-boolq", "Tasksource/tsi-cb",
                               "huggingface:someone/LongForm", "huggingface:super_glue"]
    plain = records["Plain/plain"]
    assert (plain.name, plain.aliases, plain.external_ids) == ("plain data", ["Plain", "plain"], ["huggingface:someone/plain"])
    c4 = records["Longform/longform-c4"]
    assert c4.name == "Longform: c4" and c4.external_ids == []
    assert [(m.field, m.text, m.relation) for m in c4.mentions] == [("derived_from", "huggingface:someone/LongForm", "subset"), ("derived_from", "C4", None)]
    tsi = records["Tasksource/tsi-cb"]
    assert [(m.text, m.relation) for m in tsi.mentions] == [("huggingface:super_glue", "conversion")]
    # The sources the parts point at: named by the collection that is all of it, else by the Hub id; no claims.
    longform, glue = records["huggingface:someone/LongForm"], records["huggingface:super_glue"]
    assert (longform.name, glue.name, longform.claims, glue.external_ids) == ("Longform", "super_glue", [], ["huggingface:super_glue"])


def test_dpc_parts_never_merge_into_each_other_or_into_a_curated_original() -> None:
    catalog = load_catalog(TINY)
    merged = merge(catalog, read_sources([("dpc", MERGE / "dpc")]))
    # 'Longform: Alpaca 52K' is LongForm's part, not the catalog's Alpaca 52K; CB in two collections is two reformats.
    assert merged.matched == [] and all(len(records) == 1 for records in merged.new.values())
    assert len(merged.new) == 9
    edges = {(r.entity, r.target, r.mention.relation) for r in merged.references if r.mention.text.startswith("huggingface:")}
    assert edges == {
        ("dataset/dpc-longform-longform-c4", "dataset/dpc-huggingface-someone-longform", "subset"),
        ("dataset/dpc-longform-longform-alpaca", "dataset/dpc-huggingface-someone-longform", "subset"),
        ("dataset/dpc-superglue-tasks-fc-cb", "dataset/dpc-huggingface-super-glue", "subset"),
        ("dataset/dpc-superglue-tasks-fc-record", "dataset/dpc-huggingface-super-glue", "subset"),
        ("dataset/dpc-tasksource-tsi-cb", "dataset/dpc-huggingface-super-glue", "conversion"),
    }


def test_the_hub_s_llama2_licence_tag_is_the_llama_2_community_licence() -> None:
    assert map_license("llama2") == "LicenseRef-llama-2-community"


def test_open_llms_heading_with_a_leading_space_still_says_datasets_and_a_series_row_has_no_hub_id() -> None:
    problems: list = []
    records = read_source("open-llms", MERGE / "open-llms.md", problems)
    assert problems == []
    assert [(r.name, r.kind, r.external_ids) for r in records] == [
        ("Phi-3 Mini", "model", ["huggingface:microsoft/Phi-3-mini-4k-instruct"]),
        ("Phi-3 small/medium", "model", []),
        ("RedPajama", "dataset", []),
    ]


def test_kg_import_explain_names_the_rule_and_what_was_set_aside(capsys: pytest.CaptureFixture) -> None:
    assets = MERGE / "ecosystem-graphs"
    assert main(["import", "ecosystem-graphs", str(assets), "--data", str(TINY), "--explain", "dragonfly"]) == 0
    assert capsys.readouterr().out == (
        f"ecosystem-graphs 'Dragonfly' ({assets}/openai.yaml:1)\n"
        "  id: ecosystem-graphs:openai/Dragonfly\n"
        "  -> model/ecosystem-graphs-openai-dragonfly: new entity\n"
        f"ecosystem-graphs 'Dragonfly' ({assets}/together.yaml:1)\n"
        "  id: ecosystem-graphs:together/Dragonfly\n"
        "  -> model/ecosystem-graphs-together-dragonfly: new entity\n"
        "  not: name 'Dragonfly' is also model/ecosystem-graphs-openai-dragonfly's, but its owners (openai) are not the record's (together)\n"
    )
    assert main(["import", "ecosystem-graphs", str(assets), "--data", str(TINY), "--explain", "Kestrel"]) == 0
    assert capsys.readouterr().out == "no record is named 'Kestrel' (by name, alias, source id or Hub id)\n"


def test_kg_import_explain_across_sources_shows_a_part_s_edge_to_its_source(capsys: pytest.CaptureFixture) -> None:
    dpc = MERGE / "dpc"
    assert main(["import", "dpc", str(dpc), "--with", f"ecosystem-graphs={MERGE / 'ecosystem-graphs'}", "--data", str(TINY), "--explain", "c4"]) == 0
    assert capsys.readouterr().out == (
        f"dpc 'Longform: c4' ({dpc}/Longform.json#/longform-c4)\n"
        "  id: dpc:Longform/longform-c4\n"
        "  -> dataset/dpc-longform-longform-c4: new entity\n"
        "  derived_from (subset): huggingface:someone/LongForm -> dataset/dpc-huggingface-someone-longform\n"
        "  derived_from: C4 -> unresolved\n"
    )


DOC = Path(__file__).resolve().parents[1] / "docs" / "reference" / "identity.md"


def test_the_explain_examples_in_the_identity_page_are_real_output(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    # The docs test runs examples in an empty folder; these read fixtures, so they run here, from the checkout.
    monkeypatch.chdir(DOC.parents[2])
    examples = re.findall(r"```text\n\$ kg (import [^\n]*tests/fixtures[^\n]*)\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(examples) == 2
    for command, output in examples:
        assert main(shlex.split(command)) == 0
        assert capsys.readouterr().out == output


# ---------------------------------------------------------------- the labelled sample of real decisions


def _entity_of(merged) -> dict[str, str]:  # noqa: ANN001
    """Each record's key ('source:id', DPC records also 'dpc:<dataset id>') -> the entity it joined."""
    owner = {}
    placed = [(r, e) for r, e, _ in merged.matched] + [(r, e) for e, records in merged.new.items() for r in records]
    for record, entity in placed:
        owner[f"{record.source}:{record.source_id}"] = entity
        if record.source == "dpc" and not record.source_id.startswith("huggingface:"):
            owner[f"dpc:{record.source_id.partition('/')[2]}"] = entity
    return owner


@needs_shared
def test_the_labelled_sample_has_at_least_80_decisions_each_with_why() -> None:
    sample = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    assert len(sample) >= 80
    assert all(set(item) == {"a", "b", "same", "why"} and len(item["why"]) > 10 for item in sample)


@needs_shared
def test_merge_precision_on_the_labelled_sample_is_at_least_97_percent(capsys: pytest.CaptureFixture) -> None:
    records = read_sources([("dpc", SHARED / "data-provenance-collection" / "data_summaries"), ("ecosystem-graphs", SHARED / "ecosystem-graphs" / "assets"),
                            ("open-llms", SHARED / "open-llms" / "README.md")])
    catalog = load_catalog()
    merged = merge(catalog, records)
    owner = _entity_of(merged)
    sample = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    unknown = [key for item in sample for key in (item["a"], item["b"]) if key not in owner and key not in catalog.entities]
    assert unknown == []
    outcome = {"tp": [], "fp": [], "fn": [], "tn": []}
    for item in sample:
        merged_together = owner[item["a"]] == owner.get(item["b"], item["b"])
        outcome[("t" if merged_together == item["same"] else "f") + ("p" if merged_together else "n")].append(item)
    tp, fp, fn = len(outcome["tp"]), len(outcome["fp"]), len(outcome["fn"])
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    with capsys.disabled():
        print(f"\nlabelled sample: {len(sample)} decisions, precision {precision:.3f} ({tp}/{tp + fp}), recall {recall:.3f} ({tp}/{tp + fn})")
        for item in outcome["fp"] + outcome["fn"]:
            print(f"  wrong: {item['a']} ~ {item['b']} (labelled same={item['same']})")
    assert precision >= 0.97


@needs_shared
def test_on_the_real_dpc_no_entity_mixes_two_collections_and_no_template_is_read() -> None:
    records = read_sources([("dpc", SHARED / "data-provenance-collection" / "data_summaries")])
    assert not any(r.source_id.startswith("string:") or "_template" in r.origin.where for r in records)
    merged = merge(load_catalog(), records)
    mixed = {e for e, rs in merged.new.items() if len({r.source_id.partition("/")[0] for r in rs}) > 1}  # the collection of each
    assert mixed == set()
    symbol_tuning = [r for r in records if r.source_id.startswith("Tasksource Symbol-Tuning/")]
    assert len(symbol_tuning) == 229 and len({e for e, rs in merged.new.items() for r in rs if r in symbol_tuning}) == 229
    aya = {e for e, rs in merged.new.items() for r in rs if r.source_id.startswith("Aya Dataset/")}
    assert len(aya) == 71
