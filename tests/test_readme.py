"""The README shows real commands with their real output; this keeps it so.

Every fenced block that starts with `$ kg ...` is run and its output compared.
After changing the catalog, refresh the README with:

    .venv/bin/python tests/test_readme.py --update

The Python session in ```pycon blocks is run as a doctest (`...` matches
anything); refresh those outputs by hand.
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
FIXTURES = ROOT / "tests" / "fixtures"
BLOCK = re.compile(r"```\n(\$ kg [^\n]*)\n(.*?)```", re.S)
PYCON = re.compile(r"```pycon\n(.*?)```", re.S)
# The README's example of a broken catalog: the tiny fixture with these bad cases laid over it.
BROKEN_DEMO = ("typo-field", "unknown-reference", "invalid-date")


def run_example(command: str, workdir: Path) -> str:
    """Run one README command (a line starting with `$ kg`) the way a user would."""
    args = shlex.split(command)[2:]
    (workdir / "ontology").symlink_to(ROOT / "ontology")  # for `kg query ontology/queries/...`
    if "--data" in args:  # the broken-catalog demo
        shutil.copytree(FIXTURES / "tiny", workdir / "data", dirs_exist_ok=True)
        for case in BROKEN_DEMO:
            shutil.copytree(FIXTURES / "bad" / case, workdir / "data", dirs_exist_ok=True)
    if args[0] != "build" and "--store" in args:  # an example that reads the store of the bundled catalog: build it first
        _run([*"build --store build/store".split()], workdir)
    done = _run(args, workdir)
    return done.stdout + done.stderr


def _run(args: list[str], workdir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kg.cli", *args], capture_output=True, text=True, encoding="utf-8", cwd=workdir,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def examples() -> list[tuple[str, str]]:
    return BLOCK.findall(README.read_text(encoding="utf-8"))


def counts_table() -> str:
    from kg.catalog import load_catalog
    from kg.graph import build_graph, count_by_kind_and_relation

    kinds, _ = count_by_kind_and_relation(build_graph(load_catalog(ROOT / "data")))
    return "".join(f"| {kind} | {count} |\n" for kind, count in sorted(kinds.items()))


@pytest.mark.parametrize(("command", "output"), examples(), ids=[c for c, _ in examples()])
def test_readme_example_output_is_real(command: str, output: str, tmp_path: Path) -> None:
    assert run_example(command, tmp_path) == output


def test_readme_has_examples() -> None:
    assert len(examples()) >= 5
    assert PYCON.findall(README.read_text(encoding="utf-8"))


def test_readme_python_session_is_real() -> None:
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for index, block in enumerate(PYCON.findall(README.read_text(encoding="utf-8"))):
        runner.run(doctest.DocTestParser().get_doctest(block, {}, f"README.md pycon block {index + 1}", "README.md", 0), out=report.append)
    assert runner.failures == 0, "".join(report)


def update() -> None:
    text = README.read_text(encoding="utf-8")

    def refresh(match: re.Match) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            return f"```\n{match.group(1)}\n{run_example(match.group(1), Path(tmp))}```"

    text = BLOCK.sub(refresh, text)
    text = re.sub(r"(\| kind \| count \|\n\| --- \| --- \|\n)(\| \w+ \| \d+ \|\n)+", lambda m: m.group(1) + counts_table(), text)
    README.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        update()
    else:
        sys.exit(__doc__)
