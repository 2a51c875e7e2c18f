"""The contributor templates in data/_templates/ form a valid catalog by themselves.

So a contributor who copies one starts from something the validator accepts,
and a field added to the schema without a template shows up here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from kg.catalog import load_catalog
from kg.entities import FOLDERS, SCHEMAS

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "data" / "_templates"


def test_templates_validate_as_a_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    catalog_dir = tmp_path / "data"
    catalog_dir.mkdir()
    shutil.copy(ROOT / "data" / "licenses.yaml", catalog_dir)
    for template in TEMPLATES.glob("*.yaml"):
        kind, _, slug = yaml.safe_load(template.read_text(encoding="utf-8"))["id"].partition("/")
        (catalog_dir / FOLDERS[kind]).mkdir(exist_ok=True)
        shutil.copy(template, catalog_dir / FOLDERS[kind] / f"{slug}.yaml")
    catalog = load_catalog(catalog_dir)
    assert catalog.warnings == []
    assert {entity.kind for entity in catalog.entities.values()} == set(SCHEMAS)


def test_every_field_of_every_kind_appears_in_a_template() -> None:
    used: dict[str, set[str]] = {kind: set() for kind in SCHEMAS}
    for template in TEMPLATES.glob("*.yaml"):
        entry = yaml.safe_load(template.read_text(encoding="utf-8"))
        used[entry["id"].partition("/")[0]] |= set(entry)
    for kind, schema in SCHEMAS.items():
        assert set(schema.model_fields) <= used[kind] | {"corrections", "name_zh", "aliases", "description_zh", "links"}, kind
