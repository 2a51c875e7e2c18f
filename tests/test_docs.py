"""The README and the docs site show real commands with their real output; this keeps them so.

Every fenced block (bare or ```console) that starts with `$ kg ...` is run and
its output compared. After changing the catalog, refresh them all with:

    .venv/bin/python tests/test_docs.py --update

The Python sessions in ```pycon blocks are run as doctests (`...` matches
anything); refresh those outputs by hand. The site itself must build with
`mkdocs build --strict` (warnings are errors).
"""

from __future__ import annotations

import doctest
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").rglob("*.md"))]
FIXTURES = ROOT / "tests" / "fixtures"
BLOCK = re.compile(r"```(console)?\n(\$ kg [^\n]*)\n(.*?)```", re.S)
PYCON = re.compile(r"```pycon\n(.*?)```", re.S)
# The README's example of a broken catalog: the tiny fixture with these bad cases laid over it.
BROKEN_DEMO = ("typo-field", "unknown-reference", "invalid-date")


def run_example(command: str, workdir: Path) -> str:
    """Run one README command (a line starting with `$ kg`) the way a user would."""
    args = shlex.split(command)[2:]
    if "--data" in args:  # the broken-catalog demo
        shutil.copytree(FIXTURES / "tiny", workdir / "data", dirs_exist_ok=True)
        for case in BROKEN_DEMO:
            shutil.copytree(FIXTURES / "bad" / case, workdir / "data", dirs_exist_ok=True)
    for arg in args:  # a file of the test fixtures the example reads (the command runs in a scratch folder)
        if arg.startswith("tests/fixtures/") and (ROOT / arg).is_file():
            (workdir / arg).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / arg, workdir / arg)
    if args[0] != "build" and "--store" in args:  # an example that reads the store of the bundled catalog: build it first
        _run([*"build --store build/store".split()], workdir)
    done = _run(args, workdir)
    return done.stdout + done.stderr


def _run(args: list[str], workdir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kg", *args], capture_output=True, text=True, encoding="utf-8", cwd=workdir,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def examples() -> list[tuple[str, str, str]]:
    """(document, command, printed output) of every example in the documentation."""
    found = []
    for path in DOCUMENTS:
        for _, command, output in BLOCK.findall(path.read_text(encoding="utf-8")):
            found.append((str(path.relative_to(ROOT)), command, output))
    return found


def counts_table() -> str:
    from kg.catalog import load_catalog
    from kg.graph import build_graph, count_by_kind_and_relation

    kinds, _ = count_by_kind_and_relation(build_graph(load_catalog(ROOT / "data")))
    return "".join(f"| {kind} | {count} |\n" for kind, count in sorted(kinds.items()))


@pytest.mark.parametrize(("document", "command", "output"), examples(), ids=[f"{d}: {c}" for d, c, _ in examples()])
def test_documented_example_output_is_real(document: str, command: str, output: str, tmp_path: Path) -> None:
    assert run_example(command, tmp_path) == output


def test_docs_have_examples() -> None:
    assert len(examples()) >= 30
    assert all(PYCON.findall(path.read_text(encoding="utf-8")) for path in (README, ROOT / "docs" / "how-to" / "notebooks.md"))


@pytest.mark.parametrize("path", [p for p in DOCUMENTS if "```pycon" in p.read_text(encoding="utf-8")], ids=lambda p: str(p.relative_to(ROOT)))
def test_documented_python_session_is_real(path: Path) -> None:
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for index, block in enumerate(PYCON.findall(path.read_text(encoding="utf-8"))):
        runner.run(doctest.DocTestParser().get_doctest(block, {}, f"{path.name} pycon block {index + 1}", str(path), 0), out=report.append)
    assert runner.failures == 0, "".join(report)


def test_docs_site_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    """The site of docs/ (mkdocs.yml, strict): every page in the navigation, every link and anchor found."""
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "reference" / "cli" / "index.html").read_text(encoding="utf-8").count("usage: kg ") >= 11


def update() -> None:
    for path in DOCUMENTS:
        text = path.read_text(encoding="utf-8")

        def refresh(match: re.Match) -> str:
            with tempfile.TemporaryDirectory() as tmp:
                return f"```{match.group(1) or ''}\n{match.group(2)}\n{run_example(match.group(2), Path(tmp))}```"

        text = BLOCK.sub(refresh, text)
        text = re.sub(r"(\| kind \| count \|\n\| --- \| --- \|\n)(\| \w+ \| \d+ \|\n)+", lambda m: m.group(1) + counts_table(), text)
        path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        update()
    else:
        sys.exit(__doc__)
