"""The public Python API (`import kg`), on the tiny catalog."""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

import kg
from kg.catalog import default_data_dir
from kg.cli import main
from kg.graph import format_lineage

from conftest import FIXTURES, lay_over


@pytest.fixture
def lkg(tiny: Path) -> kg.KnowledgeGraph:
    return kg.load("data")


def test_load_gives_the_real_networkx_and_rdflib_graphs(lkg: kg.KnowledgeGraph) -> None:
    assert isinstance(lkg.graph, nx.MultiDiGraph)
    assert sorted(lkg.graph)[:3] == ["dataset/alpaca-52k", "method/lora", "model/alpaca-lora-7b"]
    assert isinstance(lkg.rdf, Graph)
    golden = Graph().parse(FIXTURES / "tiny.ttl", format="turtle")
    assert isomorphic(lkg.rdf, golden)
    assert repr(lkg) == "<KnowledgeGraph of data: 14 entities, 14 edges, 436 triples>"


def test_load_without_a_folder_reads_the_bundled_catalog() -> None:
    lkg = kg.load()
    assert lkg.catalog.root == default_data_dir()
    assert "model/vicuna-13b" in lkg.graph


def test_load_reports_every_problem_with_file_and_line(tiny: Path) -> None:
    lay_over(tiny, "unknown-reference")
    with pytest.raises(kg.CatalogError) as caught:
        kg.load("data")
    report = str(caught.value).splitlines()
    assert report[0] == f"{sum(p.level == 'error' for p in caught.value.problems)} error(s) in the catalog:"
    assert report[1:] == [f"  {problem}" for problem in caught.value.problems]
    assert all(re.match(r"  data/\S+\.yaml:\d+: ", line) for line in report[1:])


def test_load_reports_failed_sparql_checks_at_the_entity(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kg.query import Violation

    monkeypatch.setattr("kg.build.run_checks", lambda rdf, skip: [Violation("model-without-developer", "model/llama-7b", "no developer")])
    with pytest.raises(kg.CatalogError) as caught:
        kg.load("data")
    assert str(caught.value) == "1 error(s) in the catalog:\n  data/models/llama-7b.yaml:1: no developer [model-without-developer]"


def test_load_warns_without_stopping(tiny: Path) -> None:
    (tiny / "models" / "llama-7b-again.yaml").write_text(
        "id: model/llama-7b-again\nname: LLaMA 7B\ndescription: A second entry.\n"
        "developers: [organization/meta-ai]\nsources:\n  - url: https://example.org/\n    supports: name\n",
        encoding="utf-8",
    )
    with pytest.warns(kg.CatalogWarning) as caught:
        lkg = kg.load("data")
    assert [str(w.message) for w in caught] == ["data/models/llama-7b-again.yaml:2: warning: name: 'LLaMA 7B' is also the name of 'model/llama-7b'"]
    assert "model/llama-7b-again" in lkg.graph


def test_entities_are_found_by_id_name_chinese_name_or_alias(lkg: kg.KnowledgeGraph) -> None:
    assert lkg.find("model/stanford-alpaca-7b") == "model/stanford-alpaca-7b"
    assert lkg.find("Alpaca 7B") == "model/stanford-alpaca-7b"
    assert lkg.find("羊驼") == "model/stanford-alpaca-7b"
    assert lkg.find("LLaMA-7B") == "model/llama-7b"


def test_an_unknown_name_gets_a_did_you_mean_hint(lkg: kg.KnowledgeGraph) -> None:
    with pytest.raises(kg.RequestError) as caught:
        lkg.upstream("Alpacca 7B")
    assert str(caught.value) == "no entity is named 'Alpacca 7B' (hint: did you mean 'Alpaca 7B'?)"
    assert (caught.value.message, caught.value.hint) == ("no entity is named 'Alpacca 7B'", "did you mean 'Alpaca 7B'?")


def test_upstream_and_downstream_are_sorted_ids(lkg: kg.KnowledgeGraph) -> None:
    assert lkg.upstream("Alpaca-LoRA 7B") == ["dataset/alpaca-52k", "model/llama-7b", "model/text-davinci-003"]
    assert lkg.upstream("羊驼") == ["dataset/alpaca-52k", "model/llama-7b", "model/text-davinci-003"]
    assert lkg.downstream("LLaMA 7B") == ["model/alpaca-lora-7b", "model/stanford-alpaca-7b"]
    assert lkg.downstream("text-davinci-003") == ["dataset/alpaca-52k", "model/alpaca-lora-7b", "model/stanford-alpaca-7b"]
    assert lkg.downstream("text-davinci-003", fields=["generated_by"]) == ["dataset/alpaca-52k"]


def test_downstream_of_a_series_reaches_what_was_made_from_its_members(tiny: Path) -> None:
    (tiny / "models" / "llama.yaml").write_text(
        "id: model/llama\nname: LLaMA\ndescription: The series.\nfoundation: true\n"
        "developers: [organization/meta-ai]\nsources:\n  - url: https://arxiv.org/abs/2302.13971\n    supports: series\n",
        encoding="utf-8",
    )
    path = tiny / "models" / "llama-7b.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "family: model/llama\n", encoding="utf-8")
    lkg = kg.load("data")
    assert lkg.downstream("LLaMA") == ["model/alpaca-lora-7b", "model/llama-7b", "model/stanford-alpaca-7b"]
    assert lkg.downstream("LLaMA", fields=kg.LINEAGE_FIELDS) == []
    assert lkg.upstream("Alpaca 7B") == ["dataset/alpaca-52k", "model/llama", "model/llama-7b", "model/text-davinci-003"]


def test_format_lineage_is_the_text_of_kg_lineage(lkg: kg.KnowledgeGraph) -> None:
    assert lkg.format_lineage("Alpaca-LoRA 7B", depth=1) == format_lineage(lkg.graph, "model/alpaca-lora-7b", 1)
    assert lkg.format_lineage("Alpaca-LoRA 7B").startswith("model/alpaca-lora-7b (Alpaca-LoRA 7B, 2023-03-14)\nupstream:\n")


def test_entity_table_has_one_row_per_entity_and_missing_means_unknown(lkg: kg.KnowledgeGraph) -> None:
    table = lkg.entity_table()
    assert list(table.columns) == list(kg.explore.ENTITY_COLUMNS)
    assert table["id"].tolist() == sorted(lkg.graph)
    rows = table.set_index("id")
    alpaca = rows.loc["model/stanford-alpaca-7b"]
    assert (alpaca["kind"], alpaca["name"], alpaca["name_zh"], alpaca["released"]) == ("model", "Alpaca 7B", "羊驼", "2023-03-13")
    assert alpaca["developers"] == ["organization/stanford-crfm"]
    assert alpaca["source"] == "https://github.com/tatsu-lab/stanford_alpaca"
    assert pd.isna(alpaca["license"]) and pd.isna(alpaca["commercial_use"]) and pd.isna(alpaca["parameters"])
    pythia = rows.loc["model/pythia-12b"]
    assert (pythia["license"], pythia["commercial_use"], pythia["foundation"]) == ("Apache-2.0", True, True)
    assert rows["commercial_use"].dropna().to_dict() == {"dataset/alpaca-52k": False, "model/dolly-v2-12b": True, "model/pythia-12b": True}
    assert rows.loc["model/llama-7b", "parameters"] == 7_000_000_000
    assert str(table["parameters"].dtype) == "Int64"
    assert not (table.astype(str).isin(["", "unknown", "none", "None"])).any().any()


def test_edge_table_reads_from_the_derived_side(lkg: kg.KnowledgeGraph) -> None:
    table = lkg.edge_table()
    assert list(table.columns) == list(kg.explore.EDGE_COLUMNS)
    assert len(table) == lkg.graph.number_of_edges()
    lora = table[table["entity"] == "model/alpaca-lora-7b"].drop(columns="note")
    assert [tuple(row) for row in lora.itertuples(index=False)] == [
        ("model/alpaca-lora-7b", "trained_on", "dataset/alpaca-52k", "trained_on", "trained on", "https://github.com/tloen/alpaca-lora"),
        ("model/alpaca-lora-7b", "methods", "method/lora", "methods", "uses method", "https://github.com/tloen/alpaca-lora"),
        ("model/alpaca-lora-7b", "adapter", "model/llama-7b", "derived_from", "adapter on", "https://github.com/tloen/alpaca-lora"),
        ("model/alpaca-lora-7b", "developers", "person/eric-j-wang", "developers", "developed by", "https://github.com/tloen/alpaca-lora"),
    ]


def test_query_gives_a_dataframe_of_ids_licence_ids_and_python_values(lkg: kg.KnowledgeGraph) -> None:
    frame = lkg.query("SELECT ?entity ?license ?commercial WHERE { ?entity schema:license ?license . ?license lkg:commercialUse ?commercial } ORDER BY ?entity")
    assert isinstance(frame, pd.DataFrame)
    assert frame.to_dict("records") == [
        {"entity": "dataset/alpaca-52k", "license": "CC-BY-NC-4.0", "commercial": False},
        {"entity": "model/dolly-v2-12b", "license": "Apache-2.0", "commercial": True},
        {"entity": "model/pythia-12b", "license": "Apache-2.0", "commercial": True},
    ]


def test_query_keeps_other_iris_as_prefixed_names_and_unbound_as_missing(lkg: kg.KnowledgeGraph) -> None:
    predicates = lkg.query("SELECT ?p WHERE { model:alpaca-lora-7b ?p model:llama-7b } ORDER BY ?p")
    assert sorted(predicates["p"]) == ["fair4ml:fineTunedFrom", "lkg:adapterOf", "lkg:derivedFrom", "prov:wasDerivedFrom"]
    sizes = lkg.query("SELECT ?m ?p WHERE { ?m a lkg:BaseModel OPTIONAL { ?m lkg:parameterCount ?p } } ORDER BY ?m")
    assert sizes["m"].tolist() == ["model/llama-7b", "model/pythia-12b"]
    assert sizes["p"].iloc[0] == 7_000_000_000 and pd.isna(sizes["p"].iloc[1])
    assert str(sizes["p"].dtype) == "Int64"


def test_query_ask_and_construct(lkg: kg.KnowledgeGraph) -> None:
    assert lkg.query("ASK { model:llama-7b a fair4ml:MLModel }").to_dict("list") == {"answer": [True]}
    triples = lkg.query("CONSTRUCT { ?m rdfs:label ?n } WHERE { ?m lkg:adapterOf ?b ; rdfs:label ?n }")
    assert triples.to_dict("records") == [{"subject": "model/alpaca-lora-7b", "predicate": "rdfs:label", "object": "Alpaca-LoRA 7B"}]


@pytest.mark.parametrize("name", ["07-lora-models", "lora-models", "ontology/queries/07-lora-models.rq"])
def test_query_runs_a_shipped_query_by_name_or_path(lkg: kg.KnowledgeGraph, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    assert lkg.query(name).to_dict("records") == [{"model": "model/alpaca-lora-7b", "name": "Alpaca-LoRA 7B", "base": "model/llama-7b"}]


def test_shipped_queries_lists_each_question() -> None:
    queries = kg.shipped_queries()
    assert list(queries) == sorted(path.stem for path in kg.query.QUERIES_DIR.glob("*.rq"))
    assert queries["05-chinese-models"] == "Which models support Chinese (any Chinese language tag: zh, zh-Hans, zh-Hant...)?"


def test_query_syntax_error_names_line_and_column(lkg: kg.KnowledgeGraph) -> None:
    with pytest.raises(kg.QueryError) as caught:
        lkg.query("SELECT ?m WHERE {\n  ?m a foo:Model }")
    assert str(caught.value).startswith("query:2:17: SPARQL syntax error: unknown prefix (hint: declare it with PREFIX; these need no declaration: lkg, model,")


def test_render_html_is_the_page_kg_build_writes(lkg: kg.KnowledgeGraph, capsys: pytest.CaptureFixture) -> None:
    assert main(["build", "--data", "data", "--out", "out"]) == 0
    assert lkg.render_html() == Path("out/lineage.html").read_bytes()


def test_show_frames_the_same_page_and_writes_nothing(lkg: kg.KnowledgeGraph, tiny: Path) -> None:
    before = sorted(tiny.parent.rglob("*"))
    view = lkg.show(height=500)
    markup = view._repr_html_()
    match = re.fullmatch(r'<iframe title="LLM lineage" srcdoc="([^"]*)" sandbox="([^"]*)" style="([^"]*)"></iframe>', markup)
    assert match, markup[:200]
    assert html.unescape(match.group(1)).encode("utf-8") == lkg.render_html()
    # Scripts run, but in an origin of their own: no allow-same-origin, so the page cannot reach the notebook.
    assert match.group(2) == "allow-scripts allow-popups allow-popups-to-escape-sandbox"
    assert "height: 500px" in match.group(3)
    assert repr(view) == f"<InlinePage 'LLM lineage': {len(view.page):,} bytes, shown as a page in Jupyter>"
    assert sorted(tiny.parent.rglob("*")) == before


def test_show_focus_draws_one_neighbourhood(lkg: kg.KnowledgeGraph) -> None:
    view = lkg.show(focus="羊驼", depth=1)
    assert view.title == "LLM lineage around Alpaca 7B"
    assert view.page == lkg.render_html(focus="model/stanford-alpaca-7b", depth=1)
    assert view.page != lkg.render_html()
    assert '"id":"model/pythia-12b"' not in view.page.decode("utf-8")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"kinds": ["modle"]}, "unknown kind 'modle' (hint: did you mean 'model'?)"),
        ({"relations": ["fine-tune"]}, "unknown relation 'fine-tune' (hint: did you mean 'finetune'?)"),
        ({"depth": 2}, "a depth needs a focus (hint: name the entity to centre on, e.g. focus='LLaMA')"),
        ({"focus": "Dolly 3"}, "no entity is named 'Dolly 3' (hint: did you mean 'Dolly 2.0 12B'?)"),
    ],
)
def test_show_rejects_what_is_not_there(lkg: kg.KnowledgeGraph, arguments: dict, message: str) -> None:
    with pytest.raises(kg.RequestError) as caught:
        lkg.show(**arguments)
    assert str(caught.value) == message


def test_dataframes_say_how_to_get_pandas_when_it_is_missing(lkg: kg.KnowledgeGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError) as caught:
        lkg.entity_table()
    assert str(caught.value) == "pandas is needed here: install the notebooks extra, pip install -e '.[notebooks]'"
    assert lkg.upstream("Alpaca 7B")  # the rest of the API needs no pandas


def test_public_names_are_documented() -> None:
    for name in kg.__all__:
        value = getattr(kg, name)
        if callable(value):
            assert value.__doc__, name
    for name, member in vars(kg.KnowledgeGraph).items():
        if callable(member) and not name.startswith("_"):
            assert member.__doc__, name


def test_show_keeps_hostile_text_inside_its_frame() -> None:
    """Markup in catalog text must not close the iframe or its srcdoc attribute and land in the notebook."""
    from html.parser import HTMLParser

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[str] = []

        def handle_starttag(self, tag: str, attrs: list) -> None:
            self.tags.append(tag)

        def handle_endtag(self, tag: str) -> None:
            self.tags.append(f"/{tag}")

    lkg = kg.load(FIXTURES / "hostile")
    for view in (lkg.show(), lkg.show(focus=sorted(lkg.graph)[0])):
        parser = Tags()
        parser.feed(view._repr_html_())
        assert parser.tags == ["iframe", "/iframe"]


def test_terms_tell_what_a_model_may_be_used_for_with_the_paths() -> None:
    lkg = kg.load()
    vicuna = lkg.terms("Vicuna-13B")
    assert vicuna.entity == "model/vicuna-13b" and vicuna.commercial_use is False
    assert vicuna.to_dict()["commercial_use"] is False
    assert lkg.format_terms("Vicuna-13B").splitlines()[:2] == ["model/vicuna-13b (Vicuna-13B)", "commercial use: not allowed"]
    table = lkg.terms_table()
    assert list(table.columns) == ["entity", "term", "kind", "licence", "path", "steps", "evidence", "condition"]
    row = table[(table.entity == "model/vicuna-13b") & (table.term == "output-restrictions")].iloc[0]
    assert (row.kind, row.path, row.steps) == ("data", "model/vicuna-13b < dataset/sharegpt < model/chatgpt", 2)
    entities = lkg.entity_table().set_index("id")
    # ShareGPT has no licence of its own, but what generated it says something of its use.
    assert pd.isna(entities.loc["dataset/sharegpt", "commercial_use"])
    assert bool(entities.loc["model/dolly-v2-12b", "effective_commercial_use"]) is True
    assert bool(entities.loc["model/dolly-v1-6b", "effective_commercial_use"]) is False
    assert pd.isna(entities.loc["organization/openai", "effective_commercial_use"])


def test_terms_give_a_distilled_model_its_verdict_and_conditions() -> None:
    lkg = kg.load(Path(__file__).parent / "fixtures" / "families")
    student = lkg.terms("DeepSeek-R1-Distill-Llama-70B")
    assert (student.commercial_use, student.verdict) == (True, "allowed, with conditions")
    assert [(c.term, c.licence) for c in student.conditions] == [
        ("user-threshold", "LicenseRef-llama-3.3-community"), ("notice", "LicenseRef-llama-3.3-community"), ("name-prefix", "LicenseRef-llama-3.3-community")]
    # The teacher (DeepSeek-R1, MIT) passes nothing; the base's licence arrives through the weights.
    assert {p.path for c in student.conditions for p in c.paths} == {("model/deepseek-r1-distill-llama-70b", "model/llama-3.3-70b-instruct")}
    table = lkg.terms_table()
    assert set(table[table.entity == "model/deepseek-r1-distill-llama-70b"].query("condition").term) == {"user-threshold", "notice", "name-prefix"}
