"""What a hostile or careless user can throw at queries and the command line:
each gets a clear error or a quiet exit, never a hang, a traceback or a request
to another machine."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kg.catalog import load_catalog
from kg.errors import CatalogError
from kg.build import build
from kg.graph import build_graph, format_lineage
from kg.query import QueryError, run_query, to_store

from conftest import TINY

# Four unconstrained triple patterns: 261^4 rows to count, far past any timeout.
ENDLESS = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


@pytest.fixture(scope="module")
def store():
    return to_store(build(TINY, ()).rdf)


def kg(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kg.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.mark.parametrize(
    "text, column",
    [
        ("SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }", 18),
        ("SELECT * WHERE {\n  ?s ?p ?o .\n  service silent <http://127.0.0.1:9/> { ?s ?p ?o } }", 3),
    ],
)
def test_service_is_refused_before_anything_runs(store, text: str, column: int) -> None:
    with pytest.raises(QueryError) as caught:
        run_query(store, text)
    line = text.count("\n", 0, text.lower().index("service")) + 1
    assert caught.value.message == f"query:{line}:{column}: SERVICE is refused: queries here never reach another machine"


def test_service_inside_strings_iris_and_comments_is_only_text(store) -> None:
    text = 'SELECT ?s WHERE { ?s ?p "SERVICE" . FILTER(?s != <http://example.org/SERVICE>) } # SERVICE <x>'
    assert run_query(store, text).rows == []


def test_a_query_that_never_ends_is_stopped_by_the_timeout(store) -> None:
    started = time.monotonic()
    with pytest.raises(QueryError) as caught:
        run_query(store, ENDLESS, "endless.rq", timeout=1)
    assert caught.value.message == "endless.rq: stopped after 1 s without an answer"
    assert time.monotonic() - started < 20  # stopped, not run to its end


def test_an_answer_past_the_row_cap_stops_with_a_message(store) -> None:
    with pytest.raises(QueryError) as caught:
        run_query(store, "SELECT * WHERE { ?s ?p ?o }", max_rows=10)
    assert caught.value.message == "query: the answer has more than 10 rows"
    assert len(run_query(store, "SELECT * WHERE { ?s ?p ?o } LIMIT 10", max_rows=10).rows) == 10


def test_ctrl_c_stops_a_query_at_once_with_exit_130() -> None:
    process = kg("query", ENDLESS, "--data", str(TINY), "--timeout", "120")
    time.sleep(4)  # loaded and running
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert (process.returncode, out, err) == (130, "", "Interrupted: nothing was written or changed\n")


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalog of 1,000 models, each fine-tuned from the one before."""
    root = tmp_path_factory.mktemp("chain")
    (root / "models").mkdir()
    (root / "licenses.yaml").write_bytes((TINY / "licenses.yaml").read_bytes())
    for i in range(1000):
        parent = f"derived_from: [{{id: model/m{i - 1}, relation: finetune}}]\n" if i else ""
        (root / "models" / f"m{i}.yaml").write_text(
            f"id: model/m{i}\nname: M{i}\ndescription: Step {i}.\n{parent}"
            f'sources: [{{url: "https://example.org/{i}", supports: it}}]\n'
        )
    return root


def test_kg_lineage_walks_a_thousand_step_chain(chain: Path) -> None:
    lines = format_lineage(build_graph(load_catalog(chain)), "model/m999").splitlines()
    assert lines[0] == "model/m999 (M999)" and len(lines) == 1003
    assert lines[-3].endswith("└── fine-tuned from model/m0 (M0)")


def test_a_closed_pipe_ends_kg_lineage_quietly(chain: Path) -> None:
    # The tree is megabytes long, so `head` closes the pipe while kg still writes.
    done = subprocess.run(
        f"'{sys.executable}' -m kg.cli lineage model/m999 --data '{chain}' | head -1",
        shell=True, capture_output=True, text=True, timeout=120,
    )
    assert (done.stdout, done.stderr) == ("model/m999 (M999)\n", "")


def test_an_unreadable_kind_folder_is_reported_and_the_rest_checked(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The tests run as root, whom chmod does not stop: refuse the folder where it is listed instead.
    real_iterdir = Path.iterdir

    def iterdir(self: Path):
        if self.name == "datasets":
            raise PermissionError(13, "Permission denied")
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    with pytest.raises(CatalogError) as caught:
        load_catalog("data")
    problems = [str(p) for p in caught.value.problems]
    assert problems[0] == "data/datasets:1: cannot read folder: Permission denied"
    assert any("unknown id 'dataset/" in p for p in problems[1:])  # the models were still read and checked


def test_a_failing_page_render_is_an_internal_error_with_nothing_written(tiny: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    from kg import cli

    assert cli.main(["build", "--data", "data", "--out", "out"]) == 0
    before = {p.name: p.read_bytes() for p in Path("out").iterdir()}
    capsys.readouterr()

    def broken(*args, **kwargs):
        raise ValueError("a node without a position")

    monkeypatch.setattr("kg.build.render_html", broken)
    assert cli.main(["build", "--data", "data", "--out", "out"]) == 3
    assert capsys.readouterr().err == (
        "Error: internal error: ValueError: a node without a position\n"
        "Hint: nothing was written; run again with KG_TRACEBACK=1 to see where, and report it\n"
    )
    assert {p.name: p.read_bytes() for p in Path("out").iterdir()} == before


def test_ctrl_c_during_a_build_leaves_the_old_outputs_whole(tiny: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    from kg import cli, publish

    assert cli.main(["build", "--data", "data", "--out", "out"]) == 0
    before = {p.name: p.read_bytes() for p in Path("out").iterdir()}
    capsys.readouterr()
    written = []

    def interrupted(path, data, shown):  # noqa: ANN001
        if len(written) == 2:  # two new files are down when Ctrl-C comes
            raise KeyboardInterrupt
        written.append(path)
        real_write(path, data, shown)

    real_write = publish._write_file
    monkeypatch.setattr(publish, "_write_file", interrupted)
    assert cli.main(["build", "--data", "data", "--out", "out"]) == 130
    assert capsys.readouterr().err == "Interrupted: nothing was written or changed\n"
    assert {p.name: p.read_bytes() for p in Path("out").iterdir()} == before
    assert not [p for p in Path(".").iterdir() if ".kg-" in p.name]


@pytest.mark.parametrize("command", ["validate", "build", "stats", "query llama-descendants"])
def test_a_missing_catalog_folder_is_one_line_per_problem(command: str, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "kg.cli", *command.split(), "--data", "missing"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "missing:1: catalog folder not found\nError: 1 error(s), 0 warning(s) in the catalog\n")
    assert list(tmp_path.iterdir()) == []
