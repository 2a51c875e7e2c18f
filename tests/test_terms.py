"""Effective terms along the lineage (kg.terms): each rule of ontology/terms.yaml,
each kind of conflict, the verdict, the rules as data, and the well-known
answers of the real catalog."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest

import kg
from kg.cli import main
from kg.entities import License
from kg.errors import RequestError
from kg.terms import RULES_FILE, compute_all, compute_terms, format_terms, load_rules

# Small licences, each with only the terms a test needs.
NC = License(id="NC", name="Non-commercial", url="https://example.org/nc", commercial_use=False)
OPEN = License(id="OPEN", name="Permissive", url="https://example.org/open", commercial_use=True, attribution=True, share_alike=False, use_restrictions=False)
SA = License(id="SA", name="Share-alike", url="https://example.org/sa", commercial_use=True, share_alike=True)
SA2 = License(id="SA2", name="Other share-alike", url="https://example.org/sa2", commercial_use=True, share_alike=True)
RAIL = License(id="RAIL", name="Use-restricted", url="https://example.org/rail", commercial_use=True, use_restrictions=True)
TERMS = License(id="TERMS", name="Provider terms", url="https://example.org/terms", kind="terms-of-use", commercial_use=True, output_restrictions=True)
OUTPUTS = License(id="OUTPUTS", name="Open but restricts outputs", url="https://example.org/outputs", commercial_use=True, attribution=True, output_restrictions=True)
UNSETTLED = License(id="UNSETTLED", name="Depends on a grant", url="https://example.org/unsettled")
LICENSES = {lic.id: lic for lic in (NC, OPEN, SA, SA2, RAIL, TERMS, OUTPUTS, UNSETTLED)}


def lineage(nodes: dict[str, dict], edges: list[tuple[str, str, str]]) -> nx.MultiDiGraph:
    """A graph as kg.graph builds it: nodes by id with their fields, edges (child, parent, relation-or-field)."""
    graph = nx.MultiDiGraph()
    for node, fields in nodes.items():
        graph.add_node(node, kind=node.partition("/")[0], name=node.partition("/")[2], sources=[{"url": f"https://example.org/{node}", "supports": "x"}], **fields)
    fields_of = {"trained_on": "trained_on", "generated_by": "generated_by", "family": "family", "developers": "developers"}
    for child, parent, relation in edges:
        field = fields_of.get(relation, "derived_from")
        graph.add_edge(child, parent, key=relation, field=field, relation=relation, evidence=f"https://example.org/{child}->{parent}")
    return graph


def terms_of(graph: nx.MultiDiGraph, node: str):  # noqa: ANN201
    return compute_terms(graph, LICENSES, node)


def arrivals(result) -> set[tuple]:  # noqa: ANN001
    return {(t.term, t.kind, t.licence, t.path) for t in result.terms}


def test_the_own_licence_gives_own_terms_backed_by_its_statement() -> None:
    graph = lineage({"model/a": {"license": "OPEN", "license_statements": [{"license": "OPEN", "where": "hub-tag", "source": "https://example.org/a/tag"}]}}, [])
    result = terms_of(graph, "model/a")
    assert [(t.term, t.kind, t.path, t.sources) for t in result.terms] == [("attribution", "own", ("model/a",), ("https://example.org/a/tag",))]
    assert result.commercial_use is True


@pytest.mark.parametrize("relation", ["finetune", "adapter", "continued-pretraining", "merge", "quantized", "component"])
def test_every_weights_relation_passes_the_parents_licence_as_weights_terms(relation: str) -> None:
    graph = lineage({"model/base": {"license": "NC"}, "model/child": {"license": "OPEN"}}, [("model/child", "model/base", relation)])
    result = terms_of(graph, "model/child")
    (inherited,) = [t for t in result.terms if t.kind == "weights"]
    assert (inherited.term, inherited.licence, inherited.path) == ("no-commercial-use", "NC", ("model/child", "model/base"))
    # One source per step: the edge's evidence, then what says the parent is under NC.
    assert inherited.sources == ("https://example.org/model/child->model/base", "https://example.org/model/base")
    assert result.commercial_use is False


@pytest.mark.parametrize("relation", ["reproduction", "architecture"])
def test_a_reproduction_or_an_architecture_reuses_no_weights_and_passes_nothing(relation: str) -> None:
    graph = lineage({"model/base": {"license": "NC"}, "model/child": {"license": "OPEN"}}, [("model/child", "model/base", relation)])
    result = terms_of(graph, "model/child")
    assert {t.kind for t in result.terms} == {"own"}
    assert result.commercial_use is True


def test_series_membership_and_developers_pass_nothing() -> None:
    graph = lineage({"model/series": {"license": "NC"}, "model/member": {"license": "OPEN"}, "organization/org": {}},
                    [("model/member", "model/series", "family"), ("model/member", "organization/org", "developers")])
    assert terms_of(graph, "model/member").commercial_use is True


def test_training_data_terms_reach_the_model_as_data_terms() -> None:
    graph = lineage({"dataset/d": {"license": "NC"}, "model/m": {"license": "OPEN"}}, [("model/m", "dataset/d", "trained_on")])
    result = terms_of(graph, "model/m")
    assert ("no-commercial-use", "data", "NC", ("model/m", "dataset/d")) in arrivals(result)
    assert result.commercial_use is False


def test_data_terms_of_a_parent_model_stay_data_terms_down_the_weights() -> None:
    graph = lineage({"dataset/d": {"license": "NC"}, "model/base": {"license": "OPEN"}, "model/child": {"license": "OPEN"}},
                    [("model/base", "dataset/d", "trained_on"), ("model/child", "model/base", "finetune")])
    assert ("no-commercial-use", "data", "NC", ("model/child", "model/base", "dataset/d")) in arrivals(terms_of(graph, "model/child"))


@pytest.mark.parametrize("relation", ["translation", "subset", "regeneration", "conversion", "filtering"])
def test_derived_data_keeps_its_sources_terms_and_their_output_terms(relation: str) -> None:
    graph = lineage({"model/gen": {"output_terms": [{"license": "TERMS", "source": "https://example.org/gen/terms"}]},
                     "dataset/raw": {"license": "NC"}, "dataset/derived": {"license": "OPEN"}},
                    [("dataset/raw", "model/gen", "generated_by"), ("dataset/derived", "dataset/raw", relation)])
    found = arrivals(terms_of(graph, "dataset/derived"))
    assert ("no-commercial-use", "data", "NC", ("dataset/derived", "dataset/raw")) in found
    assert ("output-restrictions", "output", "TERMS", ("dataset/derived", "dataset/raw", "model/gen")) in found


def test_generated_data_carries_only_the_generators_terms_on_outputs() -> None:
    graph = lineage({"model/gen": {"license": "OUTPUTS"}, "dataset/made": {"license": "OPEN"}}, [("dataset/made", "model/gen", "generated_by")])
    result = terms_of(graph, "dataset/made")
    # OUTPUTS also asks for attribution, but only what it says of outputs travels to generated data.
    assert {(t.term, t.kind, t.licence) for t in result.terms if t.kind != "own"} == {("output-restrictions", "output", "OUTPUTS")}


def test_a_providers_output_terms_travel_from_generator_to_data_to_model() -> None:
    graph = lineage({"model/service": {"output_terms": [{"license": "TERMS", "source": "https://example.org/tou"}]},
                     "dataset/chats": {}, "model/m": {"license": "OPEN"}},
                    [("dataset/chats", "model/service", "generated_by"), ("model/m", "dataset/chats", "trained_on")])
    result = terms_of(graph, "model/m")
    (term,) = [t for t in result.terms if t.term == "output-restrictions"]
    assert (term.kind, term.path, term.sources[-1]) == ("data", ("model/m", "dataset/chats", "model/service"), "https://example.org/tou")
    assert result.commercial_use is True  # restricting what outputs are used for is not a ban on commercial use
    # The chats have no licence of their own: a gap; the service has output terms: none there.
    assert [g.path for g in result.unknown] == [("model/m", "dataset/chats")]


def test_a_generator_with_no_terms_recorded_is_a_gap_on_its_data() -> None:
    graph = lineage({"model/gen": {}, "dataset/made": {"license": "OPEN"}}, [("dataset/made", "model/gen", "generated_by")])
    assert [(g.entity, g.path) for g in terms_of(graph, "dataset/made").unknown] == [("model/gen", ("dataset/made", "model/gen"))]


def test_commercial_use_is_unknown_when_the_own_licence_does_not_settle_it() -> None:
    graph = lineage({"model/a": {"license": "UNSETTLED"}, "model/b": {}}, [])
    assert terms_of(graph, "model/a").commercial_use is None
    assert terms_of(graph, "model/b").commercial_use is None


def test_every_path_is_listed_when_a_term_arrives_several_ways() -> None:
    graph = lineage({"model/base": {"license": "NC"}, "model/mid1": {}, "model/mid2": {}, "model/merged": {}},
                    [("model/mid1", "model/base", "finetune"), ("model/mid2", "model/base", "finetune"),
                     ("model/merged", "model/mid1", "merge"), ("model/merged", "model/mid2", "merge")])
    paths = sorted(t.path for t in terms_of(graph, "model/merged").terms if t.licence == "NC")
    assert paths == [("model/merged", "model/mid1", "model/base"), ("model/merged", "model/mid2", "model/base")]


def test_a_path_ends_at_the_nearest_holder_of_the_licence() -> None:
    graph = lineage({"model/base": {"license": "NC"}, "model/mid": {"license": "NC"}, "model/child": {}},
                    [("model/mid", "model/base", "finetune"), ("model/child", "model/mid", "finetune")])
    assert [t.path for t in terms_of(graph, "model/child").terms] == [("model/child", "model/mid")]


def test_a_chain_of_thousands_of_steps_is_walked_without_recursion() -> None:
    nodes = {f"model/m{i}": {"license": "OPEN"} for i in range(2000)}
    nodes["model/m0"] = {"license": "NC"}
    graph = lineage(nodes, [(f"model/m{i}", f"model/m{i - 1}", "finetune") for i in range(1, 2000)])
    result = terms_of(graph, "model/m1999")
    assert result.commercial_use is False
    assert max(len(t.path) for t in result.terms) == 2000
    # OPEN's attribution comes from itself and from its parent, the nearest holder, not from every ancestor.
    assert sorted(len(t.path) for t in result.terms if t.licence == "OPEN") == [1, 2]


def test_merges_of_merges_keep_the_shortest_paths_and_count_the_rest() -> None:
    nodes = {"model/base": {"license": "NC"}}
    edges = []
    previous = ["model/base"]
    for level in range(8):  # each level merges two models made from the previous level: 2**8 paths to the base
        pair = [f"model/l{level}a", f"model/l{level}b"]
        for node in pair:
            nodes[node] = {}
            edges += [(node, parent, "merge") for parent in previous]
        previous = pair
    graph = lineage(nodes, edges)
    result = terms_of(graph, "model/l7a")
    assert len([t for t in result.terms if t.licence == "NC"]) == 32
    assert result.paths_omitted > 0


def test_a_permissive_statement_on_restricted_weights_is_a_commercial_use_conflict_with_both_paths() -> None:
    graph = lineage({"model/base": {"license": "NC"},
                     "model/child": {"license": "NC", "license_statements": [{"license": "OPEN", "where": "hub-tag", "source": "https://example.org/child/tag"}]}},
                    [("model/child", "model/base", "finetune")])
    (conflict,) = terms_of(graph, "model/child").conflicts
    assert conflict.kind == "commercial-use"
    assert conflict.message == "OPEN is stated (hub-tag) and allows commercial use, but NC along the lineage forbids it"
    assert [(p.licence, p.path, p.sources[-1]) for p in conflict.paths] == [
        ("OPEN", ("model/child",), "https://example.org/child/tag"),
        ("NC", ("model/child", "model/base"), "https://example.org/model/base"),
    ]


def test_dropping_the_use_restrictions_of_the_weights_is_a_conflict() -> None:
    graph = lineage({"model/base": {"license": "RAIL"}, "model/child": {"license": "OPEN"}}, [("model/child", "model/base", "finetune")])
    (conflict,) = terms_of(graph, "model/child").conflicts
    assert (conflict.kind, conflict.licences) == ("use-restrictions", ("OPEN", "RAIL"))
    assert conflict.message == "OPEN governs with no use restrictions, but the weights carry those of RAIL, which derived models must keep"


def test_a_share_alike_term_under_another_licence_is_a_conflict() -> None:
    graph = lineage({"dataset/d": {"license": "SA"}, "dataset/t": {"license": "OPEN"}}, [("dataset/t", "dataset/d", "translation")])
    (conflict,) = terms_of(graph, "dataset/t").conflicts
    assert (conflict.kind, conflict.licences) == ("share-alike", ("SA", "OPEN"))
    assert conflict.message == "SA along the lineage asks that adaptations carry the same licence, but OPEN governs"


def test_share_alike_training_data_does_not_bind_the_weights() -> None:
    graph = lineage({"dataset/d": {"license": "SA"}, "dataset/d2": {"license": "SA2"}, "model/base": {"license": "NC"}, "model/m": {"license": "OPEN"}},
                    [("model/m", "dataset/d", "trained_on"), ("model/m", "dataset/d2", "trained_on"), ("model/m", "model/base", "finetune")])
    result = terms_of(graph, "model/m")
    assert ("share-alike", "data", "SA", ("model/m", "dataset/d")) in arrivals(result)  # still shown, as a term of the data
    assert {c.kind for c in result.conflicts} == {"commercial-use"}


def test_share_alike_weights_bind_a_fine_tune() -> None:
    graph = lineage({"model/base": {"license": "SA"}, "model/m": {"license": "OPEN"}}, [("model/m", "model/base", "finetune")])
    assert [(c.kind, c.licences) for c in terms_of(graph, "model/m").conflicts] == [("share-alike", ("SA", "OPEN"))]


def test_share_alike_with_no_commercial_use_cannot_both_be_met() -> None:
    graph = lineage({"dataset/d": {"license": "SA"}, "dataset/nc": {"license": "NC"}, "dataset/m": {}},
                    [("dataset/m", "dataset/d", "translation"), ("dataset/m", "dataset/nc", "translation")])
    kinds = {(c.kind, c.licences) for c in terms_of(graph, "dataset/m").conflicts}
    assert kinds == {("incompatible", ("SA", "NC"))}


def test_two_share_alike_licences_cannot_both_be_met() -> None:
    graph = lineage({"dataset/d1": {"license": "SA"}, "dataset/d2": {"license": "SA2"}, "dataset/m": {"license": "SA"}},
                    [("dataset/m", "dataset/d1", "translation"), ("dataset/m", "dataset/d2", "translation")])
    conflicts = {(c.kind, c.licences) for c in terms_of(graph, "dataset/m").conflicts}
    assert conflicts == {("share-alike", ("SA2", "SA")), ("incompatible", ("SA", "SA2"))}


def test_the_rules_are_data_a_table_without_training_rules_stops_data_terms(tmp_path: Path) -> None:
    table = RULES_FILE.read_text(encoding="utf-8").replace("  - field: trained_on\n", "  - field: not_an_edge\n")
    (tmp_path / "terms.yaml").write_text(table, encoding="utf-8")
    graph = lineage({"dataset/d": {"license": "NC"}, "model/m": {"license": "OPEN"}}, [("model/m", "dataset/d", "trained_on")])
    assert compute_terms(graph, LICENSES, "model/m", load_rules(tmp_path / "terms.yaml")).commercial_use is True
    assert compute_terms(graph, LICENSES, "model/m").commercial_use is False


def test_a_broken_rules_table_names_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "terms.yaml"
    path.write_text(RULES_FILE.read_text(encoding="utf-8").replace("passes: {own: weights,", "passes: {own: wieghts,"), encoding="utf-8")
    with pytest.raises(RequestError) as caught:
        load_rules(path)
    assert caught.value.message.startswith(f"{path}: rules.0.passes.own: Input should be 'own', 'weights', 'data' or 'output'")


def test_terms_are_computed_for_models_and_datasets_only() -> None:
    graph = lineage({"organization/org": {}}, [])
    with pytest.raises(RequestError) as caught:
        terms_of(graph, "organization/org")
    assert caught.value.message == "organization/org is an organization: effective terms are computed for models and datasets"


# ---------------------------------------------------------------- the real catalog's well-known cases


@pytest.fixture(scope="module")
def real() -> dict:
    lkg = kg.load()
    return compute_all(lkg.graph, lkg.catalog.licenses)


def paths(result, term: str) -> set[tuple]:  # noqa: ANN001
    return {(t.kind, t.licence, t.path) for t in result.terms if t.term == term}


def test_vicuna_is_not_commercial_through_llama_and_carries_openais_output_terms(real) -> None:
    vicuna = real["model/vicuna-13b"]
    assert vicuna.commercial_use is False
    assert ("weights", "LicenseRef-llama-1-noncommercial", ("model/vicuna-13b", "model/llama-13b")) in paths(vicuna, "no-commercial-use")
    assert paths(vicuna, "output-restrictions") == {("data", "LicenseRef-openai-terms-of-use-2023", ("model/vicuna-13b", "dataset/sharegpt", "model/chatgpt"))}
    assert {c.kind for c in vicuna.conflicts} == {"commercial-use"}  # its Apache-2.0 tag


def test_koala_s_share_alike_data_does_not_bind_its_weights(real) -> None:
    koala = real["model/koala-13b"]
    assert koala.commercial_use is False
    assert {t.licence for t in koala.terms if t.term == "share-alike" and t.kind == "data"} == {"CC-BY-SA-4.0"}
    assert not [c for c in koala.conflicts if "CC-BY-SA-4.0" in c.licences]


def test_alpaca_is_not_commercial_by_its_weights_and_by_its_data(real) -> None:
    alpaca = real["model/stanford-alpaca-7b"]
    assert alpaca.commercial_use is False
    assert {("weights", "LicenseRef-llama-1-noncommercial", ("model/stanford-alpaca-7b", "model/llama-7b")),
            ("data", "CC-BY-NC-4.0", ("model/stanford-alpaca-7b", "dataset/alpaca-52k"))} <= paths(alpaca, "no-commercial-use")
    assert ("data", "LicenseRef-openai-terms-of-use-2023", ("model/stanford-alpaca-7b", "dataset/alpaca-52k", "model/text-davinci-003")) in paths(alpaca, "output-restrictions")


def test_alpaca_lora_s_mit_tag_conflicts_with_llama_weights_and_cc_by_nc_data(real) -> None:
    lora = real["model/alpaca-lora-7b"]
    assert lora.commercial_use is False
    conflict = next(c for c in lora.conflicts if c.kind == "commercial-use")
    assert conflict.licences == ("MIT", "CC-BY-NC-4.0", "LicenseRef-llama-1-noncommercial")
    assert {p.path for p in conflict.paths} == {("model/alpaca-lora-7b",), ("model/alpaca-lora-7b", "model/llama-7b"), ("model/alpaca-lora-7b", "dataset/alpaca-52k")}


def test_dolly_v1_is_not_commercial_and_dolly_v2_is_with_share_alike_data_and_no_conflict(real) -> None:
    assert real["model/dolly-v1-6b"].commercial_use is False
    dolly = real["model/dolly-v2-12b"]
    assert dolly.commercial_use is True
    assert paths(dolly, "share-alike") == {("data", "CC-BY-SA-3.0", ("model/dolly-v2-12b", "dataset/databricks-dolly-15k"))}
    assert dolly.conflicts == ()  # training data under CC BY-SA does not make the weights an adaptation of it


def test_belle_s_apache_tag_conflicts_with_its_research_only_restriction_and_bloom_s_rail(real) -> None:
    belle = real["model/belle-7b-2m"]
    assert belle.commercial_use is False
    assert {(c.kind, c.licences[0]) for c in belle.conflicts} == {("commercial-use", "Apache-2.0"), ("use-restrictions", "Apache-2.0")}
    assert ("weights", "LicenseRef-bigscience-bloom-rail-1.0", ("model/belle-7b-2m", "model/bloomz-7b1-mt")) in paths(belle, "use-restrictions")


def test_chatglm_6b_commercial_use_is_not_known_as_it_depends_on_a_grant(real) -> None:
    assert real["model/chatglm-6b"].commercial_use is None


def test_openchatkit_s_model_is_commercially_usable(real) -> None:
    chat = real["model/gpt-neoxt-chat-base-20b"]
    assert chat.commercial_use is True
    assert not chat.conflicts


def test_every_path_of_the_real_catalog_traces_to_evidence(real) -> None:
    for result in real.values():
        for term in result.terms:
            assert len(term.sources) == len(term.path) and all(url.startswith("http") for url in term.sources), term


def test_kg_terms_prints_json_with_the_documented_keys(capsys) -> None:
    assert main(["terms", "model/alpaca-lora-7b", "--format", "json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert list(answer) == ["entity", "declared", "commercial_use", "verdict", "conditions", "terms", "conflicts", "unknown", "paths_omitted"]
    assert answer["entity"] == "model/alpaca-lora-7b" and answer["commercial_use"] is False and answer["verdict"] == "not allowed"
    assert set(answer["terms"][0]) == {"term", "kind", "licence", "path", "sources"}
    assert set(answer["conflicts"][0]) == {"kind", "message", "licences", "paths"}


def test_kg_terms_on_software_points_to_the_models_it_supports(capsys) -> None:
    assert main(["terms", "OpenChatKit"]) == 1
    assert capsys.readouterr().err == (
        "Error: software/openchatkit is software: effective terms are computed for models and datasets\n"
        "Hint: it supports model/gpt-jt-moderation-6b, model/gpt-neoxt-chat-base-20b: ask for one of those\n"
    )


def test_kg_terms_needs_an_entity_or_conflicts(capsys) -> None:
    assert main(["terms"]) == 1
    assert capsys.readouterr().err == "Error: give an entity, or --conflicts for the whole catalog\nHint: e.g. kg terms Vicuna-13B\n"


def test_the_docs_table_of_rules_is_the_rules_file(documentation: str) -> None:
    page = documentation
    for rule in load_rules().rules:
        relations = ", ".join(rule.relations or ())
        passes = ", ".join(f"{parent} → {child}" for parent, child in rule.passes.items())
        reach = "yes" if rule.output_reach else "no"
        row = f"| `{rule.field}` | {relations} | {passes} | {', '.join(rule.terms) if rule.terms else 'all'} | {reach} |"
        assert row.replace("|  |", "| |") in page, row


def test_imported_entities_get_terms_from_their_accepted_licence_claim() -> None:
    lkg = kg.load(sources=[("huggingface", Path(__file__).parent / "fixtures" / "sources" / "huggingface" / "hub-datasets.jsonl")])
    writer = lkg.find("model/huggingface-acme-writer-7b")
    result = lkg.terms(writer)
    assert result.commercial_use is True
    assert {(t.term, t.kind, t.licence, t.path) for t in result.terms} == {
        ("attribution", "own", "Apache-2.0", (writer,)),
        ("attribution", "weights", "MIT", (writer, "model/huggingface-acme-base-7b")),
    }
    # A dataset generated by it carries nothing of the writer's: neither licence restricts outputs.
    stories = lkg.terms("dataset/huggingface-acme-stories")
    assert {t.kind for t in stories.terms} == {"own"}


def test_a_licence_that_changed_says_as_of_when_and_what_held_before(real) -> None:
    chatglm = real["model/chatglm-6b"]
    assert (chatglm.as_of, chatglm.earlier) == ("2023-07-08", (("2023-03-14", "LicenseRef-chatglm-6b-2023-03", False),))
    lkg = kg.load()
    text = format_terms(chatglm, lkg.graph, lkg.catalog.licenses).splitlines()
    assert text[1:3] == ["commercial use: not known (as of 2023-07-08)",
                         "  before 2023-07-08: LicenseRef-chatglm-6b-2023-03 from 2023-03-14, commercial use not allowed by that licence alone"]
    assert "also stated: Apache-2.0 (license-file) for the code only" in text
    # A licence that never changed keeps the JSON it had.
    assert "as_of" not in real["model/vicuna-13b"].to_dict()


# Licences with conditions, each with only what a test needs.
LLAMA31 = License(id="L31", name="Llama-like, naming on outputs", url="https://example.org/l31", commercial_use=True, use_restrictions=True,
                  user_threshold=700_000_000, notice_text="Built with Llama", name_prefix="Llama", derivatives_keep_licence=True,
                  output_reach=["name-prefix"])
LLAMA3 = License(id="L3", name="Llama-like, no use of outputs", url="https://example.org/l3", commercial_use=True, output_restrictions=True,
                 name_prefix="Llama 3")
DERIVED = License(id="DER", name="Distilled students are derivatives", url="https://example.org/der", commercial_use=True,
                  use_restrictions=True, output_reach="all")
REGISTER = License(id="REG", name="Commercial use after registration", url="https://example.org/reg", commercial_use=True,
                   commercial_registration=True)
RESEARCH = License(id="RES", name="Research only", url="https://example.org/res", commercial_use=False, research_only=True)
MIT_LIKE = License(id="PERM", name="Permissive, no restrictions", url="https://example.org/perm", commercial_use=True, use_restrictions=False)
WITH_CONDITIONS = {lic.id: lic for lic in (LLAMA31, LLAMA3, DERIVED, REGISTER, RESEARCH, MIT_LIKE, OPEN)}


def test_a_user_threshold_and_naming_duties_make_the_verdict_allowed_with_conditions() -> None:
    graph = lineage({"model/base": {"license": "L31"}, "model/tuned": {"license": "L31"}}, [("model/tuned", "model/base", "finetune")])
    result = compute_terms(graph, WITH_CONDITIONS, "model/tuned")
    assert (result.commercial_use, result.verdict) == (True, "allowed, with conditions")
    assert [(c.term, c.licence, c.says) for c in result.conditions] == [
        ("user-threshold", "L31", "a licensee whose services have over 700,000,000 monthly active users needs a separate grant from the licensor"),
        ("notice", "L31", 'show "Built with Llama" where it or a product with it is made available'),
        ("name-prefix", "L31", 'a model made with it and distributed must begin its name with "Llama"'),
    ]
    # From its own licence, and from its base's (the nearest holder along the weights).
    assert {p.path for c in result.conditions for p in c.paths} == {("model/tuned",), ("model/tuned", "model/base")}


def test_registration_is_a_condition_and_research_only_is_not_allowed() -> None:
    graph = lineage({"model/r": {"license": "REG"}, "model/s": {"license": "RES"}}, [])
    assert compute_terms(graph, WITH_CONDITIONS, "model/r").verdict == "allowed, with conditions"
    research = compute_terms(graph, WITH_CONDITIONS, "model/s")
    assert (research.verdict, research.conditions) == ("not allowed", ())
    assert {t.term for t in research.terms} == {"no-commercial-use", "research-only"}


def test_kg_terms_lists_the_conditions_with_the_paths_that_bring_them() -> None:
    graph = lineage({"model/base": {"license": "REG"}, "model/tuned": {"license": "OPEN"}}, [("model/tuned", "model/base", "finetune")])
    text = format_terms(compute_terms(graph, WITH_CONDITIONS, "model/tuned"), graph, WITH_CONDITIONS)
    assert text == (
        "model/tuned (tuned)\n"
        "commercial use: allowed, with conditions\n"
        "governing licence: OPEN\n"
        "conditions:\n"
        "└── commercial-registration: commercial use needs registering with the licensor first (REG)\n"
        "    └── weights: model/tuned -> fine-tuned from model/base  <https://example.org/model/base>\n"
        "terms:\n"
        "└── attribution: OPEN (Permissive)\n"
        "    └── own: model/tuned  <https://example.org/model/tuned>"
    )


def test_a_student_gets_the_teachers_output_terms_not_its_weights_licence() -> None:
    graph = lineage({"model/teacher": {"license": "L3"}, "model/base": {"license": "PERM"}, "model/student": {"license": "PERM"}},
                    [("model/student", "model/base", "finetune"), ("model/student", "model/teacher", "distillation")])
    found = {(t.term, t.kind, t.licence, t.path) for t in compute_terms(graph, WITH_CONDITIONS, "model/student").terms}
    assert ("output-restrictions", "output", "L3", ("model/student", "model/teacher")) in found
    # The teacher's name prefix binds models made with its weights, not with its outputs (Llama 3's text).
    assert not any(licence == "L3" and term != "output-restrictions" for term, _, licence, _ in found)


def test_a_licence_whose_naming_reaches_outputs_names_the_student_too() -> None:
    graph = lineage({"model/teacher": {"license": "L31"}, "model/student": {"license": "PERM"}}, [("model/student", "model/teacher", "distillation")])
    result = compute_terms(graph, WITH_CONDITIONS, "model/student")
    assert {(t.term, t.kind, t.licence) for t in result.terms if t.licence == "L31"} == {("name-prefix", "output", "L31")}
    assert result.verdict == "allowed, with conditions"


def test_a_licence_counting_distilled_models_as_derivatives_passes_all_its_terms() -> None:
    graph = lineage({"model/teacher": {"license": "DER"}, "model/student": {"license": "PERM"}}, [("model/student", "model/teacher", "distillation")])
    assert {(t.term, t.kind) for t in compute_terms(graph, WITH_CONDITIONS, "model/student").terms if t.licence == "DER"} == {("use-restrictions", "output")}


def test_a_permissive_licence_on_weights_that_keep_theirs_is_a_keeps_licence_conflict() -> None:
    # DeepSeek-R1-Distill-Llama-70B: MIT by its makers, on Llama 3.3 weights, distilled from R1.
    graph = lineage({"model/llama": {"license": "L31"}, "model/teacher": {"license": "PERM"}, "model/student": {"license": "PERM"}},
                    [("model/student", "model/llama", "finetune"), ("model/student", "model/teacher", "distillation")])
    conflicts = {c.kind: c for c in compute_terms(graph, WITH_CONDITIONS, "model/student").conflicts}
    assert conflicts["keeps-licence"].message == "L31 stays with models made from its weights, but PERM governs"
    assert [p.path for p in conflicts["keeps-licence"].paths] == [("model/student", "model/llama")]
    assert conflicts["use-restrictions"].licences == ("PERM", "L31")


def test_a_chain_of_five_thousand_unrecorded_steps_keeps_one_step_per_node_and_finds_every_gap() -> None:
    # Correctness, not speed (benchmarks/terms_chain.py measures time and memory).
    n = 5000
    nodes = {f"model/m{i}": {} for i in range(n)}
    nodes["model/m0"] = {"license": "NC"}
    graph = lineage(nodes, [(f"model/m{i}", f"model/m{i - 1}", "finetune") for i in range(1, n)])
    results = compute_all(graph, LICENSES)
    last = results[f"model/m{n - 1}"]
    (term,) = last.terms
    assert (term.term, term.kind, len(term.path), term.path[-1]) == ("no-commercial-use", "weights", n, "model/m0")
    # Each node adds one step to its parent's: the paths share their tails.
    assert term.arrival.next is results[f"model/m{n - 2}"].terms[0].arrival
    assert [g.entity for g in last.unknown] == [f"model/m{i}" for i in range(n - 1, 0, -1)]
    assert results["model/m1"].gap_parents == () and results["model/m2"].gap_parents == ("model/m1",)


def test_a_catalog_of_one_five_thousand_step_chain_validates(tmp_path: Path, capsys) -> None:
    # The effective-terms export once grew as the cube of the depth (killed at 24 GB on this chain);
    # now it is linear. Correctness only: benchmarks/terms_chain.py measures time and memory.
    steps = 5000
    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)
    (data / "organizations").mkdir()
    (data / "licenses.yaml").write_text("licenses:\n  - {id: CC-BY-NC-4.0, name: CC BY-NC 4.0, url: 'https://spdx.org/licenses/CC-BY-NC-4.0.html', commercial_use: false}\n")
    (data / "organizations" / "lab.yaml").write_text("id: organization/lab\nname: Lab\ndescription: A lab.\nsources:\n  - {url: 'https://example.org/lab', supports: x}\n")
    for i in range(steps):
        parent = "license: CC-BY-NC-4.0" if i == 0 else f"derived_from:\n  - {{id: model/m{i - 1}, relation: finetune}}"
        (data / "models" / f"m{i}.yaml").write_text(
            f"id: model/m{i}\nname: M{i}\ndescription: Step {i}.\ndevelopers: [organization/lab]\n{parent}\n"
            f"sources:\n  - {{url: 'https://example.org/m{i}', supports: x}}\n")
    assert main(["validate", "--data", str(data)]) == 0
    assert capsys.readouterr().out == f"ok: {steps + 1} entities, 1 licences, 0 warning(s)\n"


def test_the_text_of_a_long_chain_says_each_unrecorded_step_once() -> None:
    # Each path to an unrecorded ancestor goes on from the one above: printed whole, the text grew as the square of the depth.
    n = 2000
    nodes = {f"model/m{i}": {} for i in range(n)}
    nodes["model/m0"] = {"license": "NC"}
    graph = lineage(nodes, [(f"model/m{i}", f"model/m{i - 1}", "finetune") for i in range(1, n)])
    text = format_terms(compute_terms(graph, LICENSES, f"model/m{n - 1}"), graph, LICENSES)
    unknown = text.split("not recorded (terms unknown):\n")[1].splitlines()
    assert unknown[:3] == [f"  model/m{n - 1}", f"  model/m{n - 1} -> fine-tuned from model/m{n - 2}", f"  … model/m{n - 2} -> fine-tuned from model/m{n - 3}"]
    assert len(unknown) == n - 1 and unknown[-1] == "  … model/m2 -> fine-tuned from model/m1"
    assert len(text) < 200 * n  # the one path of the inherited term is printed whole, once
