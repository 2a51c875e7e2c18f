"""One fixture folder per bad input; each asserts the exact report a contributor sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.catalog import load_catalog
from kg.errors import CatalogError

from conftest import BAD, lay_over

EXPECTED = {
    "malformed-yaml": [
        "data/models/broken.yaml:4: invalid YAML at column 12: did not find expected ',' or ']' while parsing a flow sequence",
    ],
    "tab-indentation": [
        "data/models/tabbed.yaml:5: tabs are not allowed for indentation (indent with spaces)",
    ],
    "duplicate-key": [
        "data/models/twice.yaml:4: name: duplicate key (first given at line 2)",
    ],
    "norway-boolean": [
        "data/models/norway.yaml:4: open_weights: expected true or false, got text 'no' (use true/false)",
    ],
    "number-like-string": [
        "data/models/numeric.yaml:2: name: expected text, got number 1.10 (quote it)",
    ],
    "typo-field": [
        "data/models/typo.yaml:4: licence: unknown field 'licence' (did you mean 'license'?)",
    ],
    "bad-id": [
        "data/models/bad-id.yaml:1: id: 'model/Qwen 2.5' is not an id of the form <kind>/<slug> "
        "(kind one of model, dataset, organization, person, method, software; "
        "slug of lowercase a-z, 0-9, '-' and inner '.')",
    ],
    "id-path-mismatch": [
        "data/models/qwen2.yaml:1: id: 'model/qwen2.5' does not match the file's path (expected 'model/qwen2')",
    ],
    "duplicate-id": [
        "data/models/llama-7b-copy.yaml:1: id: 'model/llama-7b' does not match the file's path (expected 'model/llama-7b-copy')",
        "data/models/llama-7b-copy.yaml:1: id: duplicate id 'model/llama-7b' (also in data/models/llama-7b.yaml)",
        "data/models/llama-7b.yaml:1: id: duplicate id 'model/llama-7b' (also in data/models/llama-7b-copy.yaml)",
    ],
    "unknown-reference": [
        "data/models/lora-child.yaml:5: derived_from[0]: unknown id 'model/llama-7' (did you mean 'model/llama-7b'?)",
    ],
    "wrong-kind-reference": [
        "data/models/from-data.yaml:5: derived_from[0]: derived_from must reference a model, got dataset 'dataset/alpaca-52k'",
    ],
    "derivation-cycle": [
        "data/models/cycle-a.yaml:4: derived_from: derivation cycle: model/cycle-a -> model/cycle-b -> model/cycle-c -> model/cycle-a",
    ],
    "self-derivation": [
        "data/models/ouroboros.yaml:4: derived_from: derivation cycle: model/ouroboros -> model/ouroboros",
    ],
    "child-before-parent": [
        "data/models/early-child.yaml:6: derived_from[0]: released 2023-01-05, before 'model/llama-7b' (2023-02-24)",
    ],
    "invalid-date": [
        "data/models/leap.yaml:4: released: '2024-02-30' is not a calendar date",
    ],
    "loose-date": [
        "data/models/loose.yaml:4: released: '2024-9-19' is not a date: write YYYY-MM-DD, YYYY-MM or YYYY",
    ],
    "non-utf8": [
        "data/models/gbk.yaml:3: file is not UTF-8 (bad byte 0xd2) (looks like GBK/GB18030; save it as UTF-8)",
    ],
    "empty-file": [
        "data/models/empty.yaml:1: empty entry file",
    ],
    "multiple-documents": [
        "data/models/two-docs.yaml:7: one entry per file: found a second YAML document",
    ],
    "anchor-alias": [
        "data/models/aliased.yaml:2: anchors are not allowed (write the value out in full)",
    ],
    "unsafe-tag": [
        "data/models/unsafe.yaml:2: tags are not allowed (found 'tag:yaml.org,2002:python/object/apply:os.system')",
    ],
    "wrong-relation": [
        "data/models/bad-relation.yaml:5: derived_from[0].relation: 'fintune' is not one of: finetune, adapter, "
        "continued-pretraining, merge, quantized, reproduction, component, architecture, distillation (did you mean 'finetune'?)",
    ],
    "unknown-license": [
        "data/models/apache.yaml:4: license: unknown licence 'apache-2.0' (did you mean 'Apache-2.0'?)",
    ],
    "bad-url": [
        "data/models/bad-url.yaml:5: links.repository: 'javascript:alert(1)' is not an absolute http(s) URL",
        "data/models/bad-url.yaml:6: links.huggingface: 'hf.co/x' is not an absolute http(s) URL",
        "data/models/bad-url.yaml:8: sources[0].url: URL must not carry a user name or password",
    ],
    "invalid-iri": [
        "data/models/invalid-iri.yaml:5: links.paper: 'https://example.org/%zz' is not a valid IRI: Invalid IRI percent encoding '%zz'",
        "data/models/invalid-iri.yaml:6: links.demo: 'https://example.org/a#b#c' is not a valid IRI: Invalid IRI code point '#'",
        "data/models/invalid-iri.yaml:8: sources[0].url: URL contains a space, quote or other character not allowed in an IRI",
    ],
    "bad-language": [
        "data/models/bad-language.yaml:4: languages[0]: 'zh_CN' is not a BCP 47 language tag (did you mean 'zh-CN'?)",
    ],
    "control-character": [
        "data/models/zero-width.yaml:2: name: contains the invisible or control character U+200B",
    ],
    "not-a-mapping": [
        "data/models/a-list.yaml:1: expected a mapping of fields, got a list",
    ],
    "missing-fields": [
        "data/models/bare.yaml:1: description: required field is missing",
        "data/models/bare.yaml:1: sources: required field is missing",
    ],
    "unknown-folder": [
        "data/modles:1: unknown folder 'modles' (did you mean 'models'?)",
    ],
    "placeholder-word": [
        "data/models/placeholder-word.yaml:4: license: 'unknown' is a placeholder (leave the field out when it is unknown)",
    ],
    "nested-typo": [
        "data/models/nested-typo.yaml:4: parameters: must be greater than 0, got -7",
        "data/models/nested-typo.yaml:6: sources[0].supports: required field is missing",
        "data/models/nested-typo.yaml:7: sources[0].suports: unknown field 'suports' (did you mean 'supports'?)",
    ],
    "year-zero": [
        "data/models/year-zero.yaml:4: released: '0000-06-01' has no year 0: the calendar starts at year 1",
    ],
    "fullwidth-digits": [
        "data/models/fullwidth.yaml:4: released: '２０２３-03-14' is not a date: write YYYY-MM-DD, YYYY-MM or YYYY",
    ],
    "raw-control-character": [
        "data/models/raw-control.yaml:3: raw control character U+0007 in the file "
        "(write it as an escape in a double-quoted string if it is really meant, or remove it)",
    ],
    "huge-integer": [
        "data/models/huge-number.yaml:4: parameters: a number of 4,500 digits is too long to read",
    ],
    "statements-disagree": [
        "data/models/two-tags.yaml:5: license_basis: missing: the statements disagree (Apache-2.0, CC-BY-NC-4.0); say which governs and why",
    ],
    "governing-not-stated": [
        "data/models/elsewhere.yaml:4: license: 'CC-BY-NC-4.0' is not among the licences its statements name (one of Apache-2.0)",
    ],
    "placeholder-value": [
        "data/models/placeholder.yaml:4: license: must not be empty or blank",
    ],
}


def test_every_bad_fixture_has_an_expectation() -> None:
    assert sorted(p.name for p in BAD.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_bad_input_is_reported_exactly(case: str, tiny: Path) -> None:
    lay_over(tiny, case)
    with pytest.raises(CatalogError) as caught:
        load_catalog("data")
    assert [str(p) for p in caught.value.problems] == EXPECTED[case]


def test_all_problems_are_reported_at_once(tiny: Path) -> None:
    for case in ("typo-field", "unknown-reference", "invalid-date", "empty-file", "raw-control-character"):
        lay_over(tiny, case)
    with pytest.raises(CatalogError) as caught:
        load_catalog("data")
    reported = [str(p) for p in caught.value.problems]
    expected = EXPECTED["empty-file"] + EXPECTED["invalid-date"] + EXPECTED["unknown-reference"] + EXPECTED["typo-field"]
    expected += EXPECTED["raw-control-character"]
    assert reported == sorted(expected)
