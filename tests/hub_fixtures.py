"""The Hub, as the tests see it: a Hub-like HTTP server on a free 127.0.0.1 port for the
tests of `kg fetch`, and Parquet files in hub-stats' schema made with pyarrow.

It answers `/api/models`, `/api/datasets` and `/api/models/{owner}/{name}` from the
hand-written records in fixtures/hub/ the way the Hub does: listings filtered by `author`,
`search` and `filter=base_model:<id>`, `expand` keeping only the fields asked for (with
`_id` and `id`), `sort=lastModified` newest first, pages of `page` records linked by a
`Link: <...>; rel="next"` header. `fail_once` makes the next matching request answer an
error status once (a 429 with `Retry-After`, a 500, a 403); `hold` makes matching requests
wait until `release`. Every request is logged with its Authorization header.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

HUB_FIXTURES = Path(__file__).parent / "fixtures" / "hub"


class HubServer:
    def __init__(self, page: int = 2) -> None:
        self.models = json.loads((HUB_FIXTURES / "models.json").read_text(encoding="utf-8"))
        self.datasets = json.loads((HUB_FIXTURES / "datasets.json").read_text(encoding="utf-8"))
        self.page = page
        self.requests: list[str] = []
        self.authorizations: list[str | None] = []
        self.faults: list[list] = []  # [text in the request, status, headers, answered]
        self.held: tuple[str, threading.Event] | None = None
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def fail_once(self, text: str, status: int, **headers: str) -> None:
        self.faults.append([text, status, headers, False])

    def hold(self, text: str) -> None:
        self.held = (text, threading.Event())

    def release(self) -> None:
        if self.held:
            self.held[1].set()

    def count(self, text: str) -> int:
        return sum(text in r for r in self.requests)

    def answer(self, target: str) -> tuple[int, dict[str, str], object]:
        with self.lock:
            for fault in self.faults:
                if fault[0] in target and not fault[3]:
                    fault[3] = True
                    return fault[1], fault[2], {"error": "as the test asked"}
        if self.held and self.held[0] in target:
            self.held[1].wait(30)
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        if parts.path in ("/api/models", "/api/datasets"):
            return self._listing(parts.path, query)
        if parts.path.startswith("/api/models/"):
            found = [m for m in self.models if m["id"] == parts.path[len("/api/models/"):]]
            return (200, {}, _expanded(found[0], query)) if found else (404, {}, {"error": "Repository not found"})
        return 404, {}, {"error": "not an API page"}

    def _listing(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, str], object]:
        records = self.models if path == "/api/models" else self.datasets
        if "author" in query:
            records = [r for r in records if r["author"] == query["author"][0]]
        if "search" in query:
            records = [r for r in records if query["search"][0].casefold() in r["id"].casefold()]
        for tag in query.get("filter", []):
            records = [r for r in records if tag in r.get("tags", [])]
        if query.get("sort") == ["lastModified"]:
            records = sorted(records, key=lambda r: r["lastModified"], reverse=True)
        start = int(query.get("cursor", ["0"])[0])
        headers = {}
        if start + self.page < len(records):
            following = {**query, "cursor": [str(start + self.page)]}
            headers["Link"] = f'<{self.url}{path}?{urlencode(following, doseq=True)}>; rel="next"'
        return 200, headers, [_expanded(r, query) for r in records[start:start + self.page]]


def _expanded(record: dict, query: dict[str, list[str]]) -> dict:
    """The record as `expand` asks for it: `_id`, `id` and the fields named (baseModels only when named)."""
    asked = query.get("expand")
    if asked is None:
        return {k: v for k, v in record.items() if k != "baseModels"}
    return {k: v for k, v in record.items() if k in ("_id", "id", *asked)}


def _handler(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            with hub.lock:
                hub.requests.append(self.path)
                hub.authorizations.append(self.headers.get("Authorization"))
            status, headers, body = hub.answer(self.path)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass  # the test asserts what it needs from hub.requests

    return Handler


HUB_STATS = pa.schema([
    ("id", pa.string()), ("author", pa.string()),
    ("createdAt", pa.timestamp("ms", tz="UTC")), ("lastModified", pa.timestamp("ms", tz="UTC")),
    ("downloads", pa.int64()), ("likes", pa.int64()),
    ("pipeline_tag", pa.string()), ("library_name", pa.string()), ("tags", pa.list_(pa.string())),
    ("baseModels", pa.struct([("relation", pa.string()), ("models", pa.list_(pa.struct([("id", pa.string())])))])),
    ("cardData", pa.string()),
    ("safetensors", pa.struct([("parameters", pa.map_(pa.string(), pa.int64())), ("total", pa.int64())])),
    ("config", pa.string()),
])


def write_hub_stats(records: list[dict], path: Path) -> None:
    """The records as hub-stats writes its models.parquet (no sha: versions are times), times as timestamps, cardData as JSON text, baseModels a struct."""
    def row(r: dict) -> dict:
        return {
            **{k: r.get(k) for k in ("id", "author", "downloads", "likes", "pipeline_tag", "library_name", "tags", "baseModels")},
            "createdAt": _time(r["createdAt"]), "lastModified": _time(r["lastModified"]),
            "cardData": json.dumps(r["cardData"]) if "cardData" in r else None,
            "safetensors": {"parameters": list(r["safetensors"]["parameters"].items()), "total": r["safetensors"]["total"]} if "safetensors" in r else None,
            "config": json.dumps({"model_type": "llama"}),
        }

    pq.write_table(pa.Table.from_pylist([row(r) for r in records], schema=HUB_STATS), path, row_group_size=3)


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
