"""The bundled catalog: clean, counted as the README says, and complete for the seed article."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kg.catalog import load_catalog
from kg.graph import build_graph, count_by_kind_and_relation, downstream, find_node, upstream

ROOT = Path(__file__).resolve().parent.parent

# Every `###` entry of the seed article, every corpus of its section 三, and the
# base model its section 二 is built around -> the entities that model it.
SEED_ENTRIES = {
    "ChatYuan": ["model/chatyuan-large-v1", "model/chatyuan-large-v2"],
    "Colossal AI": ["software/colossalai", "software/colossalchat", "model/coati-7b"],
    "ChatGLM": ["model/chatglm-6b", "model/glm-130b"],
    "PaLM-rlhf-pytorch": ["software/palm-rlhf-pytorch"],
    "GPTrillion": ["model/gptrillion"],
    "OpenFlamingo": ["model/openflamingo-9b", "software/open-flamingo"],
    "LLaMA": ["model/llama", "model/llama-7b"],
    "ChatLLaMA": ["software/chatllama"],
    "stanford_alpaca": ["model/stanford-alpaca-7b", "software/stanford-alpaca"],
    "OpenChatKit": ["software/openchatkit", "model/gpt-neoxt-chat-base-20b", "model/gpt-jt-moderation-6b"],
    "BELLE": ["model/belle-7b-2m", "model/belle-llama-7b-2m"],
    "alpaca-lora": ["model/alpaca-lora-7b", "software/alpaca-lora"],
    "Luotuo": ["model/luotuo-lora-7b-0.1", "model/luotuo-lora-7b-0.3"],
    "Dolly": ["model/dolly-v1-6b"],
    "Vicuna": ["model/vicuna-13b", "model/vicuna-7b"],
    "Chinese-Vicuna": ["model/chinese-vicuna-7b"],
    "LMFlow": ["software/lmflow"],
    "Baize": ["model/baize-7b", "model/baize-13b", "model/baize-30b", "model/baize-healthcare-7b"],
    "Koala": ["model/koala-13b"],
    "StackLLaMA": ["model/stackllama-7b"],
    "Dolly 2.0": ["model/dolly-v2-12b"],
    "DeepSpeed-Chat": ["software/deepspeed-chat"],
    "Wombat": ["model/wombat-7b"],
    "Stanford-Alpaca data (52K)": ["dataset/alpaca-52k"],
    "Chinese Stanford-Alpaca data (alpaca_data_zh_51k)": ["dataset/alpaca-data-zh-51k"],
    "pCLUE": ["dataset/pclue"],
    "BELLE data 2M / 1M / 0.5M": ["dataset/belle-train-2m-cn", "dataset/belle-train-1m-cn", "dataset/belle-train-0.5m-cn"],
    "BELLE data 0.25M math, 0.8M multi-turn": ["dataset/belle-school-math-0.25m", "dataset/belle-multiturn-chat-0.8m"],
    "GPT-4-LLM zh / en": ["dataset/alpaca-gpt4-zh", "dataset/alpaca-gpt4-en"],
    "ShareChat": ["dataset/sharechat"],
    "awesome-chatgpt-prompts en / zh / zh-TW": [
        "dataset/awesome-chatgpt-prompts",
        "dataset/awesome-chatgpt-prompts-zh",
        "dataset/awesome-chatgpt-prompts-zh-tw",
    ],
}
# Entries with nothing to train: GPTrillion was an April Fools' announcement.
NOT_TRAINED = {"model/gptrillion"}
# What the primary sources do not disclose, so the catalog rightly leaves it out.
UNDISCLOSED = {
    ("model/chatglm-6b", "trained_on"): "the ~1T-token bilingual corpus was never published",
    ("model/chatyuan-large-v1", "trained_on"): "the dialogue data it was trained on was not released",
    ("model/chatyuan-large-v2", "trained_on"): "the dialogue data it was trained on was not released",
    ("model/openflamingo-9b", "methods"): "trained from frozen LLaMA and CLIP; no named tuning method",
    ("dataset/sharechat", "developers"): "an anonymous volunteer translation project",
}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(ROOT / "data")


@pytest.fixture(scope="module")
def graph(catalog):
    return build_graph(catalog)


def test_real_catalog_has_no_errors_and_no_warnings(catalog) -> None:
    assert [str(w) for w in catalog.warnings] == []


def test_counts_per_kind_are_those_in_the_docs(graph) -> None:
    text = (ROOT / "docs" / "reference" / "data-format.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| (model|dataset|organization|person|method|software) \| (\d+) \|$", text, re.M))
    kinds, _ = count_by_kind_and_relation(graph)
    assert {kind: int(count) for kind, count in table.items()} == dict(kinds)


@pytest.mark.parametrize("entry", sorted(SEED_ENTRIES))
def test_seed_entry_is_in_the_catalog_with_developer_base_data_and_method(entry: str, catalog) -> None:
    for entity_id in SEED_ENTRIES[entry]:
        entity = catalog.entities[entity_id]
        family = catalog.entities[entity.family.id] if getattr(entity, "family", None) else None

        def has(field: str) -> bool:
            found = bool(getattr(entity, field, None)) or bool(family and getattr(family, field, None))
            return found != ((entity_id, field) in UNDISCLOSED)  # an undisclosed fact that appears is stale

        assert has("developers"), f"{entity_id}: no developer"
        if entity.kind == "model" and not entity.foundation and entity_id not in NOT_TRAINED:
            assert has("derived_from"), f"{entity_id}: no base model"
            assert has("trained_on"), f"{entity_id}: no training data"
            assert has("methods"), f"{entity_id}: no method"


def test_llama_family_tree(graph) -> None:
    descendants = downstream(graph, "model/llama-7b") | downstream(graph, "model/llama-13b")
    assert {"model/stanford-alpaca-7b", "model/alpaca-lora-7b", "model/vicuna-13b", "model/koala-13b"} <= descendants
    assert "model/dolly-v2-12b" not in descendants
    assert "model/pythia-12b" in upstream(graph, "model/dolly-v2-12b")


def test_alpaca_data_traces_to_text_davinci_003(graph) -> None:
    assert "model/text-davinci-003" in upstream(graph, "model/stanford-alpaca-7b")
    assert graph.has_edge("dataset/alpaca-52k", "model/text-davinci-003", key="generated_by")


def test_every_entity_and_edge_has_a_source(graph) -> None:
    assert all(data["sources"] for _, data in graph.nodes(data=True))
    assert all(data["evidence"].startswith(("https://", "http://")) for _, _, data in graph.edges(data=True))


# How the seed article (and its readers) write the names -> the entity found.
SEED_NAMES = {
    "ChatYuan": "model/chatyuan",
    "元语AI": "model/chatyuan",
    "Colossal AI": "software/colossalai",
    "ChatGLM": "model/chatglm-6b",
    "PaLM-rlhf-pytorch": "software/palm-rlhf-pytorch",
    "GPTrillion": "model/gptrillion",
    "OpenFlamingo": "software/open-flamingo",
    "LLaMA": "model/llama",
    "ChatLLaMA": "software/chatllama",
    "stanford_alpaca": "software/stanford-alpaca",
    "Stanford Alpaca": "model/stanford-alpaca-7b",
    "羊驼": "model/stanford-alpaca-7b",
    "OpenChatKit": "software/openchatkit",
    "BELLE": "model/belle",
    "alpaca-lora": "software/alpaca-lora",
    "骆驼": "model/luotuo",
    "Dolly": "model/dolly-v1-6b",
    "小羊驼": "model/vicuna",
    "Chinese-Vicuna": "model/chinese-vicuna-7b",
    "LMFLOW": "software/lmflow",
    "白泽": "model/baize",
    "考拉": "model/koala-13b",
    "StackLLaMA": "model/stackllama-7b",
    "Dolly2.0": "model/dolly-v2",
    "Deep Speed Chat": "software/deepspeed-chat",
    "Wombat": "model/wombat-7b",
    "RRHF": "method/rrhf",
    "pCLUE": "dataset/pclue",
    "ShareChat": "dataset/sharechat",
    "alpaca_data_zh_51k": "dataset/alpaca-data-zh-51k",
    "alpaca_gpt4_data_zh": "dataset/alpaca-gpt4-zh",
    "train_2M_CN": "dataset/belle-train-2m-cn",
    "text-davinci-003": "model/text-davinci-003",
    "GPT-NoX-20B": "model/gpt-neox-20b",
}


@pytest.mark.parametrize(("text", "entity_id"), sorted(SEED_NAMES.items()))
def test_seed_names_find_their_entity(graph, text: str, entity_id: str) -> None:
    assert find_node(graph, text) == entity_id


def test_the_audit_has_a_row_for_every_entity_and_one_per_entity_in_each_part() -> None:
    """Every entity is audited; a later part re-audits what changed since, with a row of its own."""
    parts = re.split(r"^## ", (ROOT / "data" / "AUDIT.md").read_text(encoding="utf-8"), flags=re.MULTILINE)
    rows = [re.findall(r"^\| ([a-z]+/[a-z0-9.-]+) \|", part, re.MULTILINE) for part in parts]
    assert all(len(found) == len(set(found)) for found in rows)
    assert sorted({row for found in rows for row in found}) == sorted(load_catalog().entities)


def test_no_governing_licence_allows_commercial_use_that_a_current_statement_forbids() -> None:
    """A publisher's restrictive word wins over a permissive tag, unless it is an older, dated
    version of a text that has since changed (ChatGLM-6B's first model licence)."""
    catalog = load_catalog()
    overruled = []
    for entity_id, entity in sorted(catalog.entities.items()):
        statements = getattr(entity, "license_statements", [])
        if not statements or catalog.licenses[entity.license].commercial_use is False:
            continue
        governing = [s for s in statements if s.license == entity.license]
        for statement in statements:
            superseded = statement.as_of is not None and all(g.as_of is None or g.as_of > statement.as_of for g in governing)
            if catalog.licenses[statement.license].commercial_use is False and not superseded:
                overruled.append((entity_id, statement.license))
    assert overruled == []


@pytest.mark.parametrize(
    "entity, license",
    [
        ("dataset/belle-train-0.5m-cn", "LicenseRef-belle-research-only"),
        ("dataset/belle-train-2m-cn", "LicenseRef-belle-research-only"),
        ("model/belle-7b-2m", "LicenseRef-belle-research-only"),
        ("dataset/alpaca-data-zh-51k", "LicenseRef-chinese-llama-alpaca-research-only"),
        ("model/stanford-alpaca-7b", "LicenseRef-llama-1-noncommercial"),
        ("model/vicuna-7b-v1.5", "LicenseRef-llama-2-community"),
        ("model/dolly-v2-12b", "MIT"),
    ],
)
def test_the_licences_the_audit_settled(entity: str, license: str) -> None:
    assert load_catalog().entities[entity].license == license


def test_the_versions_users_look_for_are_in_their_lineage() -> None:
    graph = build_graph(load_catalog())
    assert "model/llama-2-7b" in upstream(graph, "model/vicuna-7b-v1.5")
    assert "model/llama-7b" not in upstream(graph, "model/vicuna-7b-v1.5")
    assert {"model/vicuna-7b-v1.1", "model/vicuna-13b-v1.3", "model/vicuna-33b-v1.3"} <= downstream(graph, "model/llama", fields=("derived_from", "family"))
    assert "dataset/belle-train-2m-cn" in upstream(graph, "model/belle-7b-2m")
    assert {"model/baize-v2-7b", "model/chinese-alpaca-7b", "model/pythia-chat-base-7b"} <= set(graph)
