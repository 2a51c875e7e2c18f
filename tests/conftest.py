"""Shared fixtures: the tiny hand-written catalog, and bad cases laid over it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
# The user documentation: the README and the pages of the docs site (mkdocs.yml).
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
TINY = FIXTURES / "tiny"
BAD = FIXTURES / "bad"


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the tiny catalog at ./data, with the working directory at its parent.

    Messages show paths relative to the working directory, so the tests can
    assert them exactly as a contributor would see them.
    """
    shutil.copytree(TINY, tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def lay_over(catalog: Path, case: str) -> None:
    """Copy the files of bad case `case` over the catalog (adding or replacing)."""
    shutil.copytree(BAD / case, catalog, dirs_exist_ok=True)


@pytest.fixture(scope="session")
def documentation() -> str:
    """The README and every page of the docs site, as one text: what a user can read."""
    return "\n".join(path.read_text(encoding="utf-8") for path in DOCUMENTS)
