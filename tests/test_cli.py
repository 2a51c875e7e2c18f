"""The `kg` command line: help, exit codes, exact error texts, outputs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kg import publish
from kg.cli import main

from conftest import lay_over

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ["validate", "build", "lineage", "terms", "stats", "query", "html", "import", "serve", "conflicts", "fetch", "bom"]
OUTPUTS = ["graph.json", "kg.jsonld", "kg.nt", "kg.ttl", "lineage.html"]


def _read_outputs(folder: str) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(Path(folder).iterdir())}


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    assert f"usage: kg {command}" in capsys.readouterr().out


def test_every_command_is_a_command_of_the_parser() -> None:
    from kg.cli import _parser

    assert sorted(_parser()[1]) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_shows_examples_that_use_it(command: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    examples = capsys.readouterr().out.partition("\nexamples:\n")[2].splitlines()
    assert examples and all(re.match(rf"  kg (build .*&& kg )?{command}\b", line) for line in examples), examples


def test_bare_kg_prints_the_help_and_succeeds(capsys: pytest.CaptureFixture) -> None:
    code, out, err = run(capsys)
    assert (code, err) == (0, "")
    assert out.startswith("usage: kg [-h] [--version] COMMAND ...") and "  build " in out


def test_version_is_the_installed_distribution(capsys: pytest.CaptureFixture) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert (exited.value.code, capsys.readouterr().out) == (0, f"kg {version('llm-lineage')}\n")


def test_python_dash_m_kg_is_the_command(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "kg", "stats", "--data", str(ROOT / "tests" / "fixtures" / "tiny")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert (done.returncode, done.stdout.splitlines()[0]) == (0, "kind          count")


def test_misspelt_command_is_a_usage_error_with_the_closest_command(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["biuld"])
    assert exited.value.code == 64
    assert capsys.readouterr().err == "usage: kg [-h] [--version] COMMAND ...\nError: no command 'biuld'\nHint: did you mean 'build'?\n"


def test_misspelt_option_shows_the_command_usage_and_the_closest_option(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["lineage", "LLaMA", "--dpeth", "1"])
    assert exited.value.code == 64
    err = capsys.readouterr().err
    assert err.startswith("usage: kg lineage ")
    assert err.splitlines()[-2:] == ["Error: unrecognized argument(s): --dpeth 1", "Hint: did you mean '--depth'?"]


def test_a_commands_option_given_before_the_command_is_told_to_move(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["-v", "build", "--out", "out"])
    assert exited.value.code == 64
    assert capsys.readouterr().err.splitlines()[-2:] == [
        "Error: unrecognized argument(s): -v", "Hint: -v is an option of kg build: put it after the command, kg build -v"]


def test_query_reads_a_query_file_of_any_name(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    Path("count.sparql").write_text("SELECT (COUNT(*) AS ?n) WHERE { ?m a lkg:Model }", encoding="utf-8")
    Path("count.txt").write_text("SELECT (COUNT(*) AS ?n) WHERE { ?m a lkg:Model }", encoding="utf-8")
    assert run(capsys, "query", "--data", "data", "count.sparql")[1] == run(capsys, "query", "--data", "data", "count.txt")[1]
    assert run(capsys, "query", "--data", "data", "count.txt")[1].startswith("n\n")


def test_graph_option_means_what_kg_build_wrote_for_every_command(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    run(capsys, "build", "--data", "data", "--out", "out")
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    assert run(capsys, "query", "--graph", "out", count)[1] == run(capsys, "query", "--graph", "out/kg.nt", count)[1] == "n\n436\n(1 row)\n"
    assert run(capsys, "lineage", "--graph", "out", "model/llama-7b")[1] == run(capsys, "lineage", "--graph", "out/graph.json", "model/llama-7b")[1]
    assert run(capsys, "query", "--graph", "out/graph.json", count) == (
        1, "", "Error: out/graph.json is the lineage graph, not RDF\nHint: did you mean --graph out/kg.nt? (or the folder: --graph out)\n")
    assert run(capsys, "lineage", "--graph", "out/kg.nt", "model/llama-7b") == (
        1, "", "Error: out/kg.nt is RDF, not the lineage graph\nHint: did you mean --graph out/graph.json? (or the folder: --graph out)\n")


def test_store_hint_on_a_build_folder_names_a_store_folder(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    run(capsys, "build", "--data", "data", "--out", "out")
    assert run(capsys, "lineage", "--store", "out", "model/llama-7b") == (1, "", (
        "Error: out is not an Oxigraph store\n"
        "Hint: this is what `kg build` wrote; a store is a folder of its own: `kg build --store out/store`, then --store out/store\n"))


def test_quiet_and_verbose_govern_the_stage_lines_on_stderr(tiny: Path) -> None:
    def build(*flags: str) -> str:
        return subprocess.run([sys.executable, "-m", "kg", "build", "--data", "data", "--out", "out", *flags],
                              capture_output=True, text=True).stderr

    assert build() == ""  # not a terminal: no stage lines
    verbose = build("-v").splitlines()
    assert verbose[0] == "reading the catalog..." and verbose[1].startswith("reading the catalog: done in ")
    assert build("-q") == ""


def test_stage_lines_show_on_a_terminal(tiny: Path) -> None:
    import pty

    leader, follower = pty.openpty()
    with os.fdopen(leader, "rb", buffering=0) as terminal:
        done = subprocess.run([sys.executable, "-m", "kg", "build", "--data", "data", "--out", "out"], stdout=subprocess.DEVNULL, stderr=follower)
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = terminal.read(4096)
            except OSError:  # the terminal is closed once everything was read
                break
            if not chunk:
                break
            shown += chunk
    assert done.returncode == 0
    lines = shown.decode().splitlines()
    assert "reading the catalog..." in lines and "writing the lineage page and graph.json..." in lines


def test_every_command_is_in_the_docs_with_an_example(documentation: str) -> None:
    for command in COMMANDS:
        assert re.search(rf"^\$ kg {command}\b", documentation, re.M), command


def test_validate_ok(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    assert run(capsys, "validate", "--data", "data") == (0, "ok: 14 entities, 2 licences, 0 warning(s)\n", "")


def test_validate_reports_errors_and_exits_1(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    lay_over(tiny, "unknown-reference")
    code, out, err = run(capsys, "validate", "--data", "data")
    assert (code, out) == (1, "")
    assert err == (
        "data/models/lora-child.yaml:5: derived_from[0]: unknown id 'model/llama-7' (did you mean 'model/llama-7b'?)\n"
        "Error: 1 error(s), 0 warning(s) in the catalog\n"
    )


def test_warnings_pass_unless_strict(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    (tiny / "organizations/lonely.yaml").write_text(
        "id: organization/lonely\nname: Lonely\ndescription: Nobody cites it.\nsources:\n  - {url: 'https://example.org/', supports: name}\n",
        encoding="utf-8",
    )
    warning = "data/organizations/lonely.yaml:1: warning: no entity references it\n"
    assert run(capsys, "validate", "--data", "data") == (0, "ok: 15 entities, 2 licences, 1 warning(s)\n", warning)
    assert run(capsys, "validate", "--data", "data", "--strict") == (1, "ok: 15 entities, 2 licences, 1 warning(s)\n", warning)


def test_lineage_by_chinese_name(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(capsys, "lineage", "--data", "data", "羊驼")
    assert code == 0
    assert out.splitlines()[:3] == [
        "model/stanford-alpaca-7b (Alpaca 7B, 2023-03-13)",
        "upstream:",
        "├── trained on dataset/alpaca-52k (Alpaca 52K, 2023-03-13)",
    ]


def test_lineage_unknown_entity(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    assert run(capsys, "lineage", "--data", "data", "model/alpaca-lora") == (
        1,
        "",
        "Error: no entity is named 'model/alpaca-lora'\nHint: did you mean 'model/alpaca-lora-7b'?\n",
    )


def test_stats(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(capsys, "stats", "--data", "data")
    assert code == 0
    assert "model             6\n" in out and "total            14\n" in out


def test_build_writes_graph_json(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(capsys, "build", "--data", "data", "--out", "out")
    assert (code, out) == (0, "wrote out/graph.json: 14 nodes, 14 edges\nwrote out/kg.ttl, kg.nt, kg.jsonld: 436 triples\nwrote out/lineage.html\n")
    data = json.loads(Path("out/graph.json").read_text(encoding="utf-8"))
    assert len(data["nodes"]) == 14 and len(data["edges"]) == 14
    assert {"source": "model/alpaca-lora-7b", "target": "model/llama-7b", "key": "adapter"}.items() <= next(
        e for e in data["edges"] if e["key"] == "adapter"
    ).items()


def test_build_is_byte_identical(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    run(capsys, "build", "--data", "data", "--out", "a")
    run(capsys, "build", "--data", "data", "--out", "b")
    for name in OUTPUTS:
        assert Path("a", name).read_bytes() == Path("b", name).read_bytes()


def test_bad_catalog_leaves_previous_output(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    run(capsys, "build", "--data", "data", "--out", "out")
    before = _read_outputs("out")
    lay_over(tiny, "derivation-cycle")
    assert run(capsys, "build", "--data", "data", "--out", "out")[0] == 1
    assert _read_outputs("out") == before


def test_failed_write_leaves_previous_output_and_no_temporaries(
    tiny: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "build", "--data", "data", "--out", "out")
    before = Path("out/graph.json").read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(publish.os, "fsync", disk_full)
    assert run(capsys, "build", "--data", "data", "--out", "out") == (
        2,
        "",
        "Error: disk full while writing out/graph.json\nHint: the previous output was left as it was\n",
    )
    assert Path("out/graph.json").read_bytes() == before
    assert sorted(p.name for p in Path("out").iterdir()) == OUTPUTS
    assert not [p for p in Path(".").iterdir() if ".kg-" in p.name]  # the half-made folder is gone


def test_unwritable_output_folder(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    Path("out").write_text("a file where a folder should be", encoding="utf-8")
    code, out, err = run(capsys, "build", "--data", "data", "--out", "out")
    assert code == 2
    assert err.startswith("Error: cannot write to out: ")


def test_only_the_builders_own_dead_temporaries_are_swept(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    run(capsys, "build", "--data", "data", "--out", "out")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    Path(f".out.kg-new-{dead}-0badf00d").mkdir()  # a killed build's half-made folder
    Path(f".out.kg-new-{dead}-0badf00d/kg.ttl").write_bytes(b"half")
    Path(f".lineage.html.kg-new-{dead}-12345678").write_bytes(b"half")
    Path(f".out.kg-new-{os.getpid()}-cafecafe").mkdir()  # a concurrent build is writing this
    Path("out/.tmp-draft.txt").write_text("a user's own notes", encoding="utf-8")
    Path(".tmp-draft.txt").write_text("a user's own notes", encoding="utf-8")
    run(capsys, "build", "--data", "data", "--out", "out")
    assert sorted(p.name for p in Path(".").iterdir() if p.name.startswith(".")) == [f".out.kg-new-{os.getpid()}-cafecafe", ".tmp-draft.txt"]
    assert sorted(p.name for p in Path("out").iterdir()) == [".tmp-draft.txt", *OUTPUTS]
    assert Path("out/.tmp-draft.txt").read_text(encoding="utf-8") == "a user's own notes"


def test_a_folder_in_the_way_of_an_output_is_an_error(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    Path("out/kg.ttl").mkdir(parents=True)
    assert run(capsys, "build", "--data", "data", "--out", "out") == (
        2,
        "",
        "Error: cannot write out/kg.ttl: a folder of that name is in the way\nHint: the previous output was left as it was\n",
    )
    assert [p.name for p in Path("out").iterdir()] == ["kg.ttl"]


def test_module_runs_as_a_script_with_the_same_errors_under_python_O(tiny: Path) -> None:
    lay_over(tiny, "typo-field")
    done = subprocess.run(
        [sys.executable, "-O", "-m", "kg.cli", "validate", "--data", "data"], capture_output=True, text=True, encoding="utf-8"
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == "data/models/typo.yaml:4: licence: unknown field 'licence' (did you mean 'license'?)"



def test_ci_runs_the_readme_test_command() -> None:
    command = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert f"\n{command}\n" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_build_is_the_same_whatever_the_hash_seed_and_locale(tiny: Path) -> None:
    outputs = []
    for i, env in enumerate([{"PYTHONHASHSEED": "1"}, {"PYTHONHASHSEED": "2", "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}]):
        done = subprocess.run(
            [sys.executable, "-m", "kg.cli", "build", "--data", "data", "--out", f"out{i}"],
            capture_output=True,
            env={"PATH": "/usr/bin:/bin", **env},
        )
        assert done.returncode == 0, done.stderr
        outputs.append(_read_outputs(f"out{i}"))
    assert outputs[0] == outputs[1]


def test_chinese_text_on_an_ascii_terminal_does_not_crash(tiny: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kg.cli", "lineage", "--data", "data", "羊驼X"],
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "ascii"},
    )
    assert done.returncode == 1
    assert done.stderr.decode("ascii").startswith("Error: no entity is named '\\udce7")  # escaped, not a traceback


def test_concurrent_builds_leave_one_whole_output(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    run(capsys, "build", "--data", "data", "--out", "expected")
    builds = [
        subprocess.Popen([sys.executable, "-m", "kg.cli", "build", "--data", "data", "--out", "out"], stdout=subprocess.DEVNULL)
        for _ in range(4)
    ]
    assert [b.wait() for b in builds] == [0, 0, 0, 0]
    assert _read_outputs("out") == _read_outputs("expected")


# A build whose files take a random moment each to write, so that builds running at once overtake each other.
SLOW_WRITES = """
import random, sys, time
from kg import cli, publish
write = publish._write_file
publish._write_file = lambda path, data, shown: (time.sleep(random.random() * 0.2), write(path, data, shown))
sys.exit(cli.main(sys.argv[1:]))
"""


def test_concurrent_builds_of_different_catalogs_never_mix_their_outputs(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    shutil.copytree(tiny, "edited")
    path = Path("edited/models/llama-7b.yaml")
    path.write_text(path.read_text(encoding="utf-8").replace("description: ", "description: Edited. "), encoding="utf-8")
    run(capsys, "build", "--data", "data", "--out", "expected-data")
    run(capsys, "build", "--data", "edited", "--out", "expected-edited")
    expected = [_read_outputs("expected-data"), _read_outputs("expected-edited")]
    builds = [
        subprocess.Popen([sys.executable, "-c", SLOW_WRITES, "build", "--data", data, "--out", "out"], stdout=subprocess.DEVNULL)
        for data in ["data", "edited"] * 2
    ]
    assert [b.wait() for b in builds] == [0] * 4
    assert _read_outputs("out") in expected  # every file from the same build, whichever came last


def test_build_formats_writes_only_those_and_drops_the_old_file_of_a_format_left_out(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    run(capsys, "build", "--data", "data", "--out", "out")
    Path("out/notes.txt").write_text("mine\n", encoding="utf-8")
    code, out, _ = run(capsys, "build", "--data", "data", "--out", "out", "--formats", "nt,ttl")
    assert (code, out.splitlines()[1]) == (0, "wrote out/kg.ttl, kg.nt: 436 triples")
    assert sorted(p.name for p in Path("out").iterdir()) == ["graph.json", "kg.nt", "kg.ttl", "lineage.html", "notes.txt"]


def test_build_formats_names_a_misspelt_format_and_the_right_ones(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["build", "--data", "data", "--formats", "nt,tll,rdfxml"])
    assert exited.value.code == 64
    assert capsys.readouterr().err.splitlines()[-2:] == [
        "Error: argument --formats: 'tll' (did you mean 'ttl'?), 'rdfxml' (not a format): the formats are nt, ttl, nq, jsonld",
        "Hint: see `kg build --help`"]


def test_build_store_without_ntriples_is_refused_before_anything_is_written(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, err = run(capsys, "build", "--data", "data", "--out", "out", "--formats", "ttl", "--store", "store")
    assert (code, out, err) == (1, "", "Error: --store loads the store from kg.nq or kg.nt, which --formats leaves out\nHint: add nt: --formats nt,ttl\n")
    assert not Path("out").exists() and not Path("store").exists()


def test_without_fcntl_the_command_says_it_needs_linux(tmp_path: Path) -> None:
    """Windows has no fcntl: a plain message and exit 1 instead of a traceback at import."""
    script = "import sys; sys.modules['fcntl'] = None; sys.argv = ['kg', '--version']; from kg.__main__ import run; run()"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"Error: kg needs Linux: it locks its output folders with fcntl, which {sys.platform} lacks\nHint: run it on Linux, or in WSL on Windows\n"
