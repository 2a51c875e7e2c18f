"""The wheel is a real package: installed outside a checkout, it finds its own
catalog, ontology, shapes and queries, and builds from an empty folder."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding only the wheel built from this checkout.

    Its dependencies come from the test run's own environment through a .pth
    file, so no index is needed, while `kg` itself is the installed wheel.
    """
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(work), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = work.glob("llm_lineage-*.whl")
    env = work / "venv"
    venv.create(env, with_pip=False)
    site = next((env / "lib").glob("python3*/site-packages"))
    (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(env / "bin" / "python"), "install", "--quiet", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    return env


def run_installed(env: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(env / "bin" / args[0]), *args[1:]], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_installed_kg_is_the_wheel_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    done = run_installed(installed, "python", "-c", "import kg, kg.catalog; print(kg.__file__); print(kg.catalog.default_data_dir())", cwd=tmp_path)
    module, data = done.stdout.splitlines()
    assert not module.startswith(str(ROOT)) and "site-packages" in module
    assert Path(data) == Path(module).parent / "data"


def test_the_wheel_validates_builds_and_queries_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    checkout = run_installed(installed, "python", "-c", "import sys; sys.path.insert(0, sys.argv[1]); import kg; print(len(kg.load().catalog.entities))", str(ROOT), cwd=tmp_path)
    validate = run_installed(installed, "kg", "validate", cwd=tmp_path)
    assert validate.returncode == 0, validate.stderr
    assert validate.stdout.startswith(f"ok: {checkout.stdout.strip()} entities")
    build = run_installed(installed, "kg", "build", cwd=tmp_path)
    assert build.returncode == 0, build.stderr
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == ["graph.json", "kg.jsonld", "kg.nt", "kg.ttl", "lineage.html"]
    query = run_installed(installed, "kg", "query", "llama-descendants", "--format", "csv", cwd=tmp_path)
    assert query.returncode == 0, query.stderr
    assert "model/stanford-alpaca-7b" in query.stdout or "stanford-alpaca-7b" in query.stdout
    api = run_installed(installed, "python", "-c", "import kg; print(kg.load().find('Vicuna'))", cwd=tmp_path)
    assert api.stdout.strip() == "model/vicuna"
