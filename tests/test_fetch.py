"""`kg fetch huggingface` against a Hub-like server on 127.0.0.1 (tests/hub_fixtures.py); no test reaches the network.

The server answers from the hand-written records in fixtures/hub/, pages by `Link`
headers and fails on request (a 429 with Retry-After, a 500, a 403). The last tests build
the graph from the fetched dump and from a hub-stats-shaped Parquet file of the same
records, and compare them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyoxigraph import RdfFormat, parse

from kg.cli import main
from kg.sources import read_source

from conftest import TINY
from hub_fixtures import HubServer, write_hub_stats

TOKEN = "hf_secret_for_the_test_only"
AUTHOR = ("--author", "tiny-lab")
TINY_LAB = ["tiny-lab/base-7b", "tiny-lab/chat-7b", "tiny-lab/chat-7b-GGUF", "tiny-lab/lora-7b", "tiny-lab/merge-7b", "tiny-lab/gated-13b", "tiny-lab/odd-7b"]


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    with HubServer(page=2) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.chdir(tmp_path)
        yield server


def _fetch(*options: str) -> int:
    return main(["fetch", "huggingface", *options])


def _lines(path: str) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def test_an_author_is_fetched_page_by_page_through_a_429_and_a_500_with_the_base_models_of_derived_models(hub: HubServer, capsys: pytest.CaptureFixture) -> None:
    hub.fail_once("cursor=2", 429, Retry_After="0")
    hub.fail_once("/api/models/tiny-lab/chat-7b?", 500)
    assert _fetch(*AUTHOR, "--out", "hub.jsonl") == 0
    records = _lines("hub.jsonl")
    assert [r["id"] for r in records] == TINY_LAB
    chat = records[1]
    assert chat["baseModels"] == {"relation": "finetune", "models": [{"id": "tiny-lab/base-7b"}]}
    assert set(chat) == {"_id", "id", "author", "sha", "createdAt", "lastModified", "gated", "library_name", "pipeline_tag", "downloads", "likes", "tags", "cardData", "safetensors", "baseModels"}
    assert records[5]["gated"] == "manual" and "baseModels" not in records[5]  # no base model shown: not looked up
    assert hub.count("cursor=2") == 2 and hub.count("/api/models/tiny-lab/chat-7b?") == 2  # each failure asked again once
    assert hub.count("/api/models/tiny-lab/base-7b") == 0 and hub.count("/api/models/tiny-lab/gated-13b") == 0
    assert hub.count("/api/") == 4 + 2 + 5  # pages, the two retries, the five derived models
    out, err = capsys.readouterr()
    assert out == "wrote hub.jsonl: 7 new records; read it with kg build --source huggingface=hub.jsonl\n"
    assert "page 4: 7 new records in hub.jsonl, 5 looked up for baseModels" in err
    assert "Rate limited. Waiting 1.0s before retry" in err  # Retry-After: 0, plus the client's one second


def test_the_token_is_sent_and_never_written(hub: HubServer, capsys: pytest.CaptureFixture) -> None:
    assert _fetch(*AUTHOR, "--out", "hub.jsonl") == 0
    assert set(hub.authorizations) == {f"Bearer {TOKEN}"}
    written = Path("hub.jsonl").read_text() + Path("hub.jsonl.fetch.json").read_text() + "".join(capsys.readouterr())
    assert TOKEN not in written


def test_a_stopped_fetch_goes_on_from_its_page_and_asks_for_nothing_twice(hub: HubServer, capsys: pytest.CaptureFixture) -> None:
    hub.fail_once("cursor=4", 403)
    assert _fetch(*AUTHOR, "--out", "hub.jsonl") == 1
    err = capsys.readouterr().err
    assert "Error: the Hub answered 403 to /api/models?author=tiny-lab&expand=author" in err
    assert "Hint: set HF_TOKEN to a token that may read it" in err
    assert len(_lines("hub.jsonl")) == 4
    assert json.loads(Path("hub.jsonl.fetch.json").read_text())["next"].endswith("&cursor=4")
    with open("hub.jsonl", "a") as dump:
        dump.write('{"_id": "65f0a1b2c3d4e5f601020305", "id": "tiny-lab/mer')  # what a kill in the middle of a write leaves
    assert _fetch(*AUTHOR, "--out", "hub.jsonl") == 0
    assert [r["id"] for r in _lines("hub.jsonl")] == TINY_LAB
    assert "going on with --author tiny-lab into hub.jsonl (4 records already there)" in capsys.readouterr().err
    assert [hub.count(f"cursor={n}") for n in (2, 4, 6)] == [1, 2, 1]
    assert all(hub.count(f"/api/models/{name}?") == 1 for name in TINY_LAB[1:5] + TINY_LAB[6:])
    assert _fetch(*AUTHOR, "--out", "hub.jsonl") == 1
    assert capsys.readouterr().err == ("Error: hub.jsonl is a finished fetch of `--author tiny-lab`\n"
                                       "Hint: kg fetch huggingface --update hub.jsonl fetches what changed since\n")


def test_ctrl_c_keeps_what_was_written_and_the_next_run_goes_on(hub: HubServer, tmp_path: Path) -> None:
    hub.hold("cursor=4")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    run = subprocess.Popen([sys.executable, "-m", "kg.cli", "fetch", "huggingface", *AUTHOR, "--out", "hub.jsonl"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not hub.count("cursor=4") and time.monotonic() < deadline:
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=30)
    hub.release()
    assert run.returncode == 130
    assert err.endswith("Interrupted: hub.jsonl keeps every record written so far; run the same command again to go on\n")
    assert [r["id"] for r in _lines("hub.jsonl")] == TINY_LAB[:4]
    assert main(["fetch", "huggingface", *AUTHOR, "--out", "hub.jsonl"]) == 0
    assert [r["id"] for r in _lines("hub.jsonl")] == TINY_LAB
    assert hub.count("cursor=2") == 1 and hub.count("/api/models/tiny-lab/lora-7b?") == 1


def test_an_update_fetches_only_what_changed_and_the_reader_takes_the_newest_line(hub: HubServer) -> None:
    assert _fetch(*AUTHOR, "--out", "hub.jsonl") == 0
    before = len(hub.requests)
    time.sleep(1.1)  # the server's clock says when the first run began, to the second
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    chat = next(m for m in hub.models if m["id"] == "tiny-lab/chat-7b")
    chat.update(lastModified=now, sha="f" * 40)
    hub.models.append({**chat, "_id": "65f0a1b2c3d4e5f6010203ff", "id": "tiny-lab/chat-7b-v2", "sha": "e" * 40})
    assert _fetch("--update", "hub.jsonl") == 0
    asked = hub.requests[before:]
    assert all("sort=lastModified" in r for r in asked if r.startswith("/api/models?"))
    assert [r for r in asked if not r.startswith("/api/models?")] == ["/api/models/tiny-lab/chat-7b?expand=baseModels", "/api/models/tiny-lab/chat-7b-v2?expand=baseModels"]
    assert len(asked) == 2 + 2  # one page of the two changed models, a second page whose first model is older: stop
    assert [r["id"] for r in _lines("hub.jsonl")] == [*TINY_LAB, "tiny-lab/chat-7b", "tiny-lab/chat-7b-v2"]
    problems: list = []
    records = {r.source_id: r for r in read_source("huggingface", Path("hub.jsonl"), problems)}
    assert len(records) == 8 and records["tiny-lab/chat-7b"].origin.commit == "f" * 40


def test_datasets_and_the_descendants_of_a_base(hub: HubServer, capsys: pytest.CaptureFixture) -> None:
    assert _fetch("--datasets", *AUTHOR, "--out", "datasets.jsonl", "-q") == 0
    assert capsys.readouterr().err == ""  # -q: no progress
    assert [(r["id"], r["repoType"]) for r in _lines("datasets.jsonl")] == [("tiny-lab/web-text", "dataset"), ("tiny-lab/chat-answers", "dataset")]
    assert _fetch("--base", "tiny-lab/base-7b", "--no-base-models", "--out", "children.jsonl") == 0
    assert [r["id"] for r in _lines("children.jsonl")] == ["tiny-lab/chat-7b", "tiny-lab/lora-7b", "tiny-lab/odd-7b", "other-org/math-7b"]
    assert hub.count("filter=base_model%3Atiny-lab%2Fbase-7b") == 2 and hub.count("expand=baseModels") == 0


@pytest.mark.parametrize(("options", "message"), [
    (("--out", "x.jsonl"), "Error: say what to fetch: --author, --search or --base, or --all for the whole Hub\n"
                           "Hint: e.g. kg fetch huggingface --author meta-llama --out hub.jsonl\n"),
    (("--update", "x.jsonl", "--author", "a"), "Error: --update takes its query from the dump\nHint: kg fetch huggingface --update x.jsonl\n"),
    (("--update", "x.jsonl"), "Error: x.jsonl was not written by kg fetch (there is no x.jsonl.fetch.json beside it)\n"
                              "Hint: fetch it first, e.g. kg fetch huggingface --author NAME --out x.jsonl\n"),
])
def test_fetch_requests_that_cannot_run_say_what_to_write(hub: HubServer, capsys: pytest.CaptureFixture, options: tuple, message: str) -> None:
    assert _fetch(*options) == 1
    assert capsys.readouterr().err == message
    assert hub.requests == []


def test_a_dump_of_another_query_or_not_from_kg_fetch_is_left_alone(hub: HubServer, capsys: pytest.CaptureFixture) -> None:
    Path("mine.jsonl").write_text('{"id": "a/b"}\n')
    assert _fetch(*AUTHOR, "--out", "mine.jsonl") == 1
    assert "Error: mine.jsonl holds records kg fetch did not write (there is no mine.jsonl.fetch.json beside it)" in capsys.readouterr().err
    assert Path("mine.jsonl").read_text() == '{"id": "a/b"}\n'
    hub.fail_once("cursor=2", 403)
    assert _fetch(*AUTHOR, "--out", "hub.jsonl") == 1
    assert _fetch("--search", "chat", "--out", "hub.jsonl") == 1
    assert capsys.readouterr().err.endswith("Error: hub.jsonl holds a fetch of `--author tiny-lab`, not `--search chat`\n"
                                            "Hint: give another --out, or `--author tiny-lab` to go on with it\n")


def test_an_unreachable_hub_is_a_clear_error_and_the_run_can_go_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    assert _fetch(*AUTHOR, "--out", "hub.jsonl") == 1
    assert capsys.readouterr().err == ("Error: cannot reach http://127.0.0.1:9: OfflineModeIsEnabled\n"
                                       "Hint: check the network, HF_ENDPOINT and HF_HUB_OFFLINE, then run the same command again to go on from here\n")
    assert Path("hub.jsonl").read_text() == "" and not Path("hub.jsonl.fetch.json").exists()


def test_only_kg_fetch_loads_the_network_client() -> None:
    code = ("import sys, kg.cli, kg.merge, kg.sources.huggingface, kg.sources.hub_parquet, kg.query, kg.store\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'huggingface_hub', 'httpx2', 'httpx', 'requests', 'urllib3'}))")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1]).stdout
    assert shown == "[]\n"


# --- the same graph from the fetched dump and from hub-stats' Parquet ---------------------

def _graph(folder: str) -> tuple[dict, list]:
    data = json.loads(Path(folder, "graph.json").read_text(encoding="utf-8"))
    nodes = {n["id"]: n for n in data["nodes"]}
    edges = sorted(json.dumps(e, sort_keys=True) for e in data.get("links", data.get("edges", [])))
    return nodes, edges


# Where a value sits in its file and which version of the record said it differ by construction: a line vs a row, a sha vs a time.
PLACE = ("claimLocation", "sourceCommit", "retrieved")


def _triples(folder: str) -> set[str]:
    return {str(t) for t in parse(path=str(Path(folder, "kg.nt")), format=RdfFormat.N_TRIPLES) if not t.predicate.value.endswith(PLACE)}


def test_fetch_then_build_gives_the_graph_hub_stats_parquet_gives_with_relations_from_base_models(hub: HubServer, capsys: pytest.CaptureFixture) -> None:
    assert _fetch(*AUTHOR, "--out", "hub.jsonl") == 0
    write_hub_stats([m for m in hub.models if m["author"] == "tiny-lab"], Path("models.parquet"))
    assert main(["build", "--data", str(TINY), "--out", "from-api", "--source", "huggingface=hub.jsonl"]) == 0
    assert main(["build", "--data", str(TINY), "--out", "from-parquet", "--source", "huggingface=models.parquet"]) == 0
    nodes, edges = _graph("from-api")
    assert (nodes, edges) == _graph("from-parquet")
    assert _triples("from-api") == _triples("from-parquet")
    lineage = sorted((e["source"], e["key"], e["target"]) for e in map(json.loads, edges) if e["source"].startswith("model/huggingface-tiny-lab"))
    assert lineage == [
        ("model/huggingface-tiny-lab-chat-7b", "finetune", "model/huggingface-tiny-lab-base-7b"),
        ("model/huggingface-tiny-lab-chat-7b-gguf", "quantized", "model/huggingface-tiny-lab-chat-7b"),
        ("model/huggingface-tiny-lab-lora-7b", "adapter", "model/huggingface-tiny-lab-base-7b"),
        ("model/huggingface-tiny-lab-merge-7b", "merge", "model/huggingface-tiny-lab-chat-7b"),
        ("model/huggingface-tiny-lab-odd-7b", "finetune", "model/huggingface-tiny-lab-base-7b"),
        ("model/huggingface-tiny-lab-odd-7b", "quantized", "model/huggingface-tiny-lab-base-7b"),
    ]
