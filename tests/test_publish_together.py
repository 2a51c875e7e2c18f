"""Nothing lost, nothing mixed: the exports and the store of `kg build --store`
go in place together, every message says what is on disk, Ctrl-C is quiet
from the first instant, and `kg import --write` keeps an edited draft.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import kg.publish
import kg.store
from kg.cli import main
from kg.errors import OutputError
from kg.publish import JOURNAL, TEMPORARY, swap_together, sweep_temporaries

from conftest import TINY

ROOT = Path(__file__).resolve().parents[1]


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def leftovers(*folders: Path) -> list[str]:
    return sorted(e.name for f in folders for e in f.iterdir() if TEMPORARY.match(e.name) or JOURNAL.match(e.name))


@pytest.fixture
def built(tiny: Path, capsys: pytest.CaptureFixture) -> dict[str, bytes]:
    """A first build with a store at ./store: the bytes of its exports, to compare with later."""
    assert run(capsys, "build", "--data", "data", "--out", "out", "--store", "store")[0] == 0
    entry = tiny / "models" / "alpaca-lora-7b.yaml"
    entry.write_text(entry.read_text().replace("LoRA weights on", "Low-rank weights on"))
    return {name: (Path("out") / name).read_bytes() for name in ("graph.json", "kg.nt")}


def store_size(folder: Path) -> int:
    import pyoxigraph as ox

    return len(ox.Store.read_only(str(folder)))


def test_disk_full_while_loading_the_store_leaves_exports_and_store_old(built: dict, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    before = store_size(Path("store"))

    def full(staging: Path, ntriples: Path, shown: Path) -> None:
        staging.mkdir()
        raise OutputError(f"disk full while loading the store {shown}")

    monkeypatch.setattr(kg.store, "_bulk_load", full)
    assert run(capsys, "build", "--data", "data", "--out", "out", "--store", "store") == (
        2, "", "Error: disk full while loading the store store\nHint: the previous output was left as it was\n")
    assert {name: (Path("out") / name).read_bytes() for name in built} == built
    assert store_size(Path("store")) == before and leftovers(Path("."), Path("out")) == []


def test_ctrl_c_while_loading_the_store_leaves_exports_and_store_old(built: dict, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(names: list[bytes], parents: list[list[int]]) -> Iterator[bytes]:
        yield b"<https://example.org/x> <https://w3id.org/llm-lineage/ontology#descendsFrom> <https://example.org/y> .\n"
        raise KeyboardInterrupt  # in the middle of the bulk load

    monkeypatch.setattr(kg.store, "closure_lines", interrupted)
    assert run(capsys, "build", "--data", "data", "--out", "out", "--store", "store") == (130, "", "Interrupted: nothing was written or changed\n")
    assert {name: (Path("out") / name).read_bytes() for name in built} == built
    assert leftovers(Path("."), Path("out")) == []


def test_ctrl_c_during_the_swaps_arrives_after_them_and_says_what_is_on_disk(built: dict, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    exchange = kg.publish._exchange

    def interrupted_exchange(a: Path, b: Path) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, between the checks and the swaps
        exchange(a, b)

    monkeypatch.setattr(kg.publish, "_exchange", interrupted_exchange)
    code, out, err = run(capsys, "build", "--data", "data", "--out", "out", "--store", "store")
    assert (code, err) == (130, "Interrupted: out, store had already been written in full; nothing else was changed\n")
    assert b"Low-rank weights on" in Path("out/graph.json").read_bytes()
    assert leftovers(Path("."), Path("out")) == []


def test_a_store_directly_in_the_output_folder_is_swapped_in_with_it(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    assert run(capsys, "build", "--data", "data", "--out", "out", "--store", "out/store")[0] == 0
    inode = os.stat("out").st_ino
    assert run(capsys, "build", "--data", "data", "--out", "out", "--store", "out/store")[0] == 0
    assert os.stat("out").st_ino != inode and store_size(Path("out/store")) > 0 and leftovers(Path("."), Path("out")) == []


def test_a_store_deeper_in_the_output_folder_is_refused(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    assert run(capsys, "build", "--data", "data", "--out", "out", "--store", "out/x/store") == (
        1, "", "Error: --store out/x/store is inside --out out but not directly in it\nHint: e.g. --store out/store, or a folder outside out\n")


KILLED_BETWEEN_SWAPS = """
import os, signal, sys
from pathlib import Path
import kg.publish as publish
pairs = []
for target in map(Path, sys.argv[1:]):
    staging = publish.temporary_name(target)
    staging.mkdir()
    (staging / "which").write_text("new")
    pairs.append((staging, target))
exchange, calls = publish._exchange, []
def killed_on_second(a, b):
    calls.append(a)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    exchange(a, b)
publish._exchange = killed_on_second
publish.swap_together(pairs)
"""


def test_a_kill_between_two_swaps_is_finished_by_the_next_sweep(tmp_path: Path) -> None:
    for side in ("exports", "store"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "which").write_text("old")
    done = subprocess.run([sys.executable, "-c", KILLED_BETWEEN_SWAPS, str(tmp_path / "exports"), str(tmp_path / "store")], cwd=ROOT)
    assert done.returncode == -signal.SIGKILL
    assert [(tmp_path / side / "which").read_text() for side in ("exports", "store")] == ["new", "old"]  # mixed, for now
    sweep_temporaries(tmp_path)
    assert [(tmp_path / side / "which").read_text() for side in ("exports", "store")] == ["new", "new"]
    assert leftovers(tmp_path) == []


def test_a_failed_second_swap_swaps_the_first_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = []
    for side in ("exports", "store"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "which").write_text("old")
        staging = kg.publish.temporary_name(tmp_path / side)
        staging.mkdir()
        (staging / "which").write_text("new")
        pairs.append((staging, tmp_path / side))
    exchange, calls = kg.publish._exchange, []

    def failing_second(a: Path, b: Path) -> None:
        calls.append(a)
        if len(calls) == 2:
            raise OutputError("cannot replace store in one step")
        exchange(a, b)

    monkeypatch.setattr(kg.publish, "_exchange", failing_second)
    with pytest.raises(OutputError):
        swap_together(pairs)
    assert [(tmp_path / side / "which").read_text() for side in ("exports", "store")] == ["old", "old"]
    assert not [p for p in tmp_path.iterdir() if JOURNAL.match(p.name)]


@pytest.mark.parametrize("module", ["kg", "kg.cli"])
def test_ctrl_c_is_quiet_from_the_first_instant(module: str, tmp_path: Path) -> None:
    """From the interpreter's first line of kg on: the interpreter's own start-up (its site
    module and runpy, some 50 ms, a second on a loaded machine) comes before and is not ours
    to quiet; a signal that lands there (a traceback through no file of kg) is not counted. The signals
    are spread over the time a run takes uninterrupted here (0.5 s on a quiet machine), so that they land in it."""
    command = [sys.executable, "-m", module, "validate", "--data", str(TINY)]
    started = time.perf_counter()
    subprocess.run(command, cwd=tmp_path, capture_output=True, check=True)
    whole = time.perf_counter() - started
    quiet = 0
    for delay in (whole * share for share in (0.15, 0.3, 0.45, 0.6, 0.75, 0.85, 0.95)):
        process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        if "Traceback" in err and f"{os.sep}kg{os.sep}" not in err:
            continue  # stopped before kg's first line
        assert "Traceback" not in err, (delay, err)
        assert process.returncode in (0, 130), (delay, process.returncode, err)
        if process.returncode == 130:
            assert err.endswith("Interrupted: nothing was written or changed\n"), (delay, err)
            quiet += 1
    assert quiet >= 3  # most runs were stopped inside kg, quietly


def test_import_write_keeps_a_draft_its_reviewer_edited(tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(TINY, tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    Path("dpc.json").write_text('{"new-set": {"Dataset Name": "New Set", "Licenses": [{"License": "MIT"}]}}')
    assert run(capsys, "import", "dpc", "dpc.json", "--data", "data", "--write")[0] == 0
    draft = Path("data/_drafts/datasets/dpc-dpc-new-set.yaml")
    edited = draft.read_text() + "description: written by the reviewer\n"
    draft.write_text(edited)
    code, out, _ = run(capsys, "import", "dpc", "dpc.json", "--data", "data", "--write")
    beside = Path("data/_drafts/datasets/dpc-dpc-new-set.new.yaml")
    assert code == 0 and f"wrote {beside} beside {draft}, which differs from this import and is kept as it is\n" in out
    assert draft.read_text() == edited and "written by the reviewer" not in beside.read_text()
    draft.write_text(beside.read_text())
    beside.unlink()
    code, out, _ = run(capsys, "import", "dpc", "dpc.json", "--data", "data", "--write")
    assert code == 0 and "wrote" not in out and not beside.exists()  # the same draft again: nothing to write


# Started as `kg` (the console script) or as `python -m kg`, this process sends itself SIGINT
# as it is about to import its Nth module counted from kg's own: a Ctrl-C at that instant.
TRIPWIRE = """
import os, runpy, signal, sys
how, after = sys.argv[1], int(sys.argv[2])
seen = []

class Tripwire:
    def find_spec(self, name, path=None, target=None):
        if name == "kg":  # counted from the last time kg is looked for (runpy looks twice; the second runs it)
            seen[:] = [name]
        elif seen:
            seen.append(name)
            if len(seen) == after + 1:
                os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, Tripwire())
if how == "console":
    sys.argv = [os.path.join(os.path.dirname(sys.executable), "kg"), "--version"]
    from kg.__main__ import run
    run()
else:
    sys.argv = ["-m", "--version"]
    runpy._run_module_as_main("kg")
"""


@pytest.mark.parametrize("how", ["console", "-m"])
def test_ctrl_c_at_each_import_from_kgs_first_line_is_quiet(how: str) -> None:
    """Deterministic: the signal lands as the 1st, 2nd, 3rd... module after kg's own is looked for
    (the handler was once set only after kg.interrupts was imported: a traceback there)."""
    for after in (1, 2, 3, 5, 8, 13, 21, 34):
        done = subprocess.run([sys.executable, "-c", TRIPWIRE, how, str(after)], capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert (done.returncode, done.stderr) == (130, "Interrupted: nothing was written or changed\n"), (after, done.stderr[-600:])
