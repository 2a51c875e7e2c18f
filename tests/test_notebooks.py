"""The notebooks in notebooks/: committed clean, using only the public API, and run top to bottom in a real kernel.

Each notebook is copied into an empty folder and executed there with
nbclient and the venv's ipykernel, so the test also sees that running it
writes nothing beside it. A cell that raises fails the test with the cell's
source and traceback. The findings a notebook prints are then checked
against the same facts computed here another way.
"""

from __future__ import annotations

import ast
import re
import shutil
import tomllib
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import kg
from kg.graph import upstream

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ["01-explore-lineage", "02-sparql-cookbook", "03-ecosystem-analysis"]


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def code_of(notebook: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[nbformat.NotebookNode, list[str]]]:
    """Each notebook after a run from its own empty folder, with what that folder held afterwards."""
    runs = {}
    for name in NAMES:
        folder = tmp_path_factory.mktemp(name)
        shutil.copy(NOTEBOOKS / f"{name}.ipynb", folder)
        notebook = nbformat.read(folder / f"{name}.ipynb", as_version=4)
        NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
        runs[name] = (notebook, sorted(path.name for path in folder.iterdir()))
    return runs


def outputs(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]


def printed(notebook: nbformat.NotebookNode) -> str:
    return "".join(output.text for output in outputs(notebook) if output.output_type == "stream" and output.name == "stdout")


def test_the_notebooks_are_the_three_the_docs_name(documentation: str) -> None:
    assert sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb")) == NAMES
    assert all(f"notebooks/{name}.ipynb" in documentation for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebooks_have_no_outputs(name: str) -> None:
    notebook = read(name)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert (cell.outputs, cell.execution_count) == ([], None), cell.source[:60]
        assert "execution" not in cell.metadata, cell.source[:60]  # run timings
    assert set(notebook.metadata) <= {"kernelspec", "language_info"}


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_use_only_the_public_api(name: str) -> None:
    for source in code_of(read(name)):
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("kg"), f"{name}: from {node.module} import ..."
            if isinstance(node, ast.Import):
                assert all(alias.name == "kg" or not alias.name.startswith("kg.") for alias in node.names), source[:60]
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "kg":
                assert node.attr in kg.__all__, f"{name}: kg.{node.attr} is not public"


def _distributions(requirements: list[str]) -> set[str]:
    """The package names of requirement strings such as 'pandas>=2.2'."""
    return {re.split(r"[<>=\[ ]", requirement)[0].lower() for requirement in requirements}


def test_what_the_notebooks_import_comes_with_the_notebooks_extra() -> None:
    """A newcomer installs `.[notebooks]`, not `.[test]`: every import must come with it or with kg itself."""
    project = tomllib.loads((NOTEBOOKS.parent / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extra = _distributions(project["optional-dependencies"]["notebooks"])
    assert {"jupyterlab", "ipykernel"} <= extra
    imported = set()
    for name in NAMES:
        for source in code_of(read(name)):
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Import):
                    imported |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom):
                    imported.add(node.module.split(".")[0])
    assert imported - {"kg"} <= extra | _distributions(project["dependencies"]), imported


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom_and_writes_nothing_beside_it(executed, name: str) -> None:
    notebook, folder = executed[name]
    assert folder == [f"{name}.ipynb"]
    assert not [output for output in outputs(notebook) if output.output_type == "error"]
    assert printed(notebook), "a notebook states its findings"


def test_explore_shows_the_lineage_page_inline(executed) -> None:
    notebook, _ = executed["01-explore-lineage"]
    frames = [output.data["text/html"] for output in outputs(notebook) if "text/html" in output.get("data", {}) and output.data["text/html"].startswith("<iframe")]
    assert [re.match(r'<iframe title="([^"]*)"', frame).group(1) for frame in frames] == ["LLM lineage around LLaMA", "LLM lineage"]
    assert all("srcdoc=" in frame and "window.lineageReady" in frame for frame in frames)


def test_explore_findings_match_the_graph(executed) -> None:
    text = printed(executed["01-explore-lineage"][0])
    lkg = kg.load()
    sizes = [node for node in lkg.graph if any(key == "family" and v == "model/llama" for _, v, key in lkg.graph.out_edges(node, keys=True))]
    models = [node for node in lkg.downstream("model/llama") if node.startswith("model/") and node not in sizes]
    assert f"{len(models)} models descend from the {len(sizes)} LLaMA sizes" in text
    koala_data = [v for _, v, key in lkg.graph.out_edges("model/koala-13b", keys=True) if key == "trained_on"]
    assert f"and was trained on {len(koala_data)} datasets." in text


def test_cookbook_runs_every_shipped_query(executed) -> None:
    notebook, _ = executed["02-sparql-cookbook"]
    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for name in kg.shipped_queries():
        cell = next((cell for cell in cells if f'lkg.query("{name}")' in cell.source), None)
        assert cell is not None, f"the cookbook does not run {name}"
        kinds = [output.output_type for output in cell.outputs]
        assert "stream" in kinds and "execute_result" in kinds, f"{name}: a finding and a table"
        assert "text/html" in cell.outputs[-1].data


def test_cookbook_findings_match_the_queries(executed) -> None:
    text = printed(executed["02-sparql-cookbook"][0])
    lkg = kg.load()
    descendants = lkg.query("llama-descendants")
    assert f"{len(descendants)} models descend from LLaMA;" in text
    chinese = lkg.query("chinese-models")
    assert f"{chinese['model'].nunique()} models support Chinese;" in text


def test_analysis_draws_five_plots(executed) -> None:
    notebook, _ = executed["03-ecosystem-analysis"]
    assert sum("image/png" in output.get("data", {}) for output in outputs(notebook)) == 5


def test_analysis_share_of_openai_data_matches_networkx(executed) -> None:
    """The notebook's count comes from SPARQL; here the same question is walked in networkx."""
    text = printed(executed["03-ecosystem-analysis"][0])
    graph = kg.load().graph
    family = {v for _, v, key in graph.edges(keys=True) if key == "family"}
    models = [node for node, kind in graph.nodes(data="kind") if kind == "model" and node not in family]
    openai = {u for u, v, key in graph.edges(keys=True) if key == "developers" and v == "organization/openai"}

    def written_by_openai(dataset: str) -> bool:
        sources = upstream(graph, dataset, ("derived_from", "generated_by"))
        return bool(sources & openai)

    trained = {m: [v for _, v, key in graph.out_edges(m, keys=True) if key == "trained_on"] for m in models}
    on_openai = [m for m, datasets in trained.items() if any(written_by_openai(d) for d in datasets)]
    with_data = [m for m, datasets in trained.items() if datasets]
    assert f"{len(on_openai)} of {len(models)} models ({len(on_openai) / len(models):.0%}) were trained on data generated by OpenAI models." in text
    assert f"Among the {len(with_data)} models whose training data is recorded, that is {len(on_openai) / len(with_data):.0%}." in text
    assert "SPARQL and networkx agree on every count." in text
