"""Cross-entity checks on the tiny catalog: warnings, partial dates, kinds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kg.catalog import date_bounds, load_catalog
from kg.errors import CatalogError


def write(catalog: Path, relative: str, text: str) -> None:
    path = catalog / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


ENTRY = """id: model/{slug}
name: {name}
description: A test entry.
{extra}
sources:
  - url: https://example.org/
    supports: name
"""


def add_model(catalog: Path, slug: str, extra: str = "", name: str | None = None) -> None:
    write(catalog, f"models/{slug}.yaml", ENTRY.format(slug=slug, name=name or slug.title(), extra=extra))


def errors_of(catalog: Path) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        load_catalog(catalog)
    return [str(p) for p in caught.value.problems]


def test_tiny_catalog_is_clean(tiny: Path) -> None:
    catalog = load_catalog("data")
    assert len(catalog.entities) == 14
    assert catalog.warnings == []


def test_epoch_integer_is_not_a_date(tiny: Path) -> None:
    add_model(tiny, "epoch", "released: 0")
    assert errors_of(tiny) == ["data/models/epoch.yaml:4: released: expected text, got integer 0 (quote it)"]


def test_future_release_is_a_warning(tiny: Path) -> None:
    add_model(tiny, "future", 'released: "2099-01-01"')
    catalog = load_catalog("data", today=dt.date(2026, 1, 1))
    assert [str(w) for w in catalog.warnings] == ["data/models/future.yaml:4: warning: released: 2099-01-01 is in the future"]


def test_duplicate_edge_is_a_warning(tiny: Path) -> None:
    add_model(tiny, "twice", "trained_on: [dataset/alpaca-52k, dataset/alpaca-52k]")
    catalog = load_catalog("data")
    assert [str(w) for w in catalog.warnings] == [
        "data/models/twice.yaml:4: warning: trained_on[1]: 'dataset/alpaca-52k' is listed twice (first at line 4)"
    ]


def test_duplicate_english_name_is_a_warning(tiny: Path) -> None:
    add_model(tiny, "llama-7b-again", name="LLaMA 7B")
    catalog = load_catalog("data")
    assert [str(w) for w in catalog.warnings] == [
        "data/models/llama-7b-again.yaml:2: warning: name: 'LLaMA 7B' is also the name of 'model/llama-7b'"
    ]


def test_duplicate_chinese_name_is_a_warning(tiny: Path) -> None:
    add_model(tiny, "second-alpaca", "name_zh: 羊驼")
    catalog = load_catalog("data")
    assert [str(w) for w in catalog.warnings] == [
        "data/models/stanford-alpaca-7b.yaml:3: warning: name_zh: '羊驼' is also the name_zh of 'model/second-alpaca'"
    ]


def test_published_weights_without_a_licence_are_a_warning(tiny: Path) -> None:
    add_model(tiny, "unlicensed", "open_weights: true")
    add_model(tiny, "closed", "open_weights: false")
    catalog = load_catalog("data")
    assert [str(w) for w in catalog.warnings] == [
        "data/models/unlicensed.yaml:1: warning: license: missing: no licence is recorded for it "
        "(add the licence a source states, with license_statements; see licenses.yaml)"
    ]


def test_unreferenced_organization_is_a_warning(tiny: Path) -> None:
    write(tiny, "organizations/lonely.yaml", ENTRY.replace("model/", "organization/").format(slug="lonely", name="Lonely", extra=""))
    catalog = load_catalog("data")
    assert [str(w) for w in catalog.warnings] == ["data/organizations/lonely.yaml:1: warning: no entity references it"]


def test_case_variant_ids_collide(tiny: Path) -> None:
    write(tiny, "models/ｌｌａｍａ-7b.yaml", (tiny / "models/llama-7b.yaml").read_text(encoding="utf-8").replace("model/llama-7b", "model/ｌｌａｍａ-7b"))
    assert "id: 'model/ｌｌａｍａ-7b' is not an id" in errors_of(tiny)[0]


def test_partial_dates_are_compared_only_when_unambiguous(tiny: Path) -> None:
    # LLaMA 7B is dated 2023-02-24: a child dated "2023-02" may be later in that month.
    add_model(tiny, "same-month", 'released: "2023-02"\nderived_from: [{id: model/llama-7b, relation: finetune}]')
    add_model(tiny, "year-before", 'released: "2022"\nderived_from: [{id: model/llama-7b, relation: finetune}]')
    assert errors_of(tiny) == [
        "data/models/year-before.yaml:5: derived_from[0]: released 2022, before 'model/llama-7b' (2023-02-24)"
    ]


def test_data_generated_before_its_model_is_an_error(tiny: Path) -> None:
    text = (tiny / "datasets/alpaca-52k.yaml").read_text(encoding="utf-8").replace('"2023-03-13"', '"2022-01-01"')
    write(tiny, "datasets/alpaca-52k.yaml", text)
    assert errors_of(tiny) == [
        "data/datasets/alpaca-52k.yaml:7: generated_by[0]: released 2022-01-01, before 'model/text-davinci-003' (2022-11-28)",
    ]


def test_a_date_waiver_with_its_reason_lets_a_child_predate_its_source(tiny: Path) -> None:
    waived = "{id: model/llama-7b, relation: finetune, date_waiver: the family entry dates from its first member}"
    add_model(tiny, "waived", f'released: "2022"\nderived_from: [{waived}]')
    assert load_catalog("data").warnings == []
    add_model(tiny, "blank-waiver", 'released: "2022"\nderived_from: [{id: model/llama-7b, relation: finetune, date_waiver: ""}]')
    assert errors_of(tiny) == ["data/models/blank-waiver.yaml:5: derived_from[0].date_waiver: must not be empty or blank"]


def test_reference_to_missing_kind_suggests_the_right_kind(tiny: Path) -> None:
    add_model(tiny, "mixed", "trained_on: [model/alpaca-52k]")
    assert errors_of(tiny) == ["data/models/mixed.yaml:4: trained_on[0]: unknown id 'model/alpaca-52k' (did you mean 'dataset/alpaca-52k'?)"]


def test_empty_catalog_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "licenses.yaml").write_text("licenses:\n  - {id: MIT, name: MIT, url: 'https://spdx.org/licenses/MIT.html'}\n")
    assert errors_of(tmp_path / "data") == ["data:1: no entries found (expected files such as models/<slug>.yaml)"]


def test_missing_catalog_folder_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert errors_of(tmp_path / "nowhere") == ["nowhere:1: catalog folder not found"]


@pytest.mark.parametrize(
    ("value", "bounds"),
    [
        ("2023-02-24", (dt.date(2023, 2, 24), dt.date(2023, 2, 24))),
        ("2023-02", (dt.date(2023, 2, 1), dt.date(2023, 2, 28))),
        ("2023-12", (dt.date(2023, 12, 1), dt.date(2023, 12, 31))),
        ("2023", (dt.date(2023, 1, 1), dt.date(2023, 12, 31))),
    ],
)
def test_date_bounds(value: str, bounds: tuple) -> None:
    assert date_bounds(value) == bounds


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("parameters: .nan", "parameters: expected a whole number, got number .nan"),
        ("parameters: 7.0e9", "parameters: expected a whole number, got number 7.0e9"),
        ('parameters: "7B"', "parameters: expected a whole number, got text 7B"),
        ("released: 2023", "released: expected text, got integer 2023 (quote it)"),
        ("foundation: yes", "foundation: expected true or false, got text 'yes' (use true/false)"),
        ("languages: zh", "languages: expected a list, got text"),
        ('name_zh: " 羊驼"', "name_zh: has leading or trailing spaces"),
        ("aliases: [Alpaca, alpaca]", "aliases: 'alpaca' repeats an earlier item (case is ignored)"),
    ],
)
def test_field_value_errors(tiny: Path, line: str, message: str) -> None:
    add_model(tiny, "odd", line)
    assert errors_of(tiny) == [f"data/models/odd.yaml:4: {message}"]


def test_non_string_id(tiny: Path) -> None:
    write(tiny, "models/2024.yaml", ENTRY.format(slug="x", name="X", extra="").replace("id: model/x", "id: 2024"))
    assert errors_of(tiny) == ["data/models/2024.yaml:1: id: expected text, got integer 2024 (quote it)"]
