"""`kg fetch huggingface`: records of the Hugging Face Hub, into a dump `kg build` reads.

The one module that reaches the network, and only when a user runs `kg fetch`. It asks
the Hub's listing (`/api/models` or `/api/datasets`, page after page as the `Link` headers
lead) for the fields the reader uses and, for each model whose listing shows a base model,
that model's own record (`/api/models/{id}?expand=baseModels`) for the lineage the Hub
resolved, which the listing does not carry. Every request goes through huggingface_hub's
`http_backoff`: 429 and 5xx answers are retried with growing waits, as long as
`Retry-After` says where the server says it. `HF_ENDPOINT` chooses the server; `HF_TOKEN`
(or a saved login) is sent the way the client sends it, and is never written to the dump,
the state file or a message.

The dump is JSON Lines, one API record a line, appended and flushed page by page. Beside
it, DUMP.fetch.json keeps the query, the next page to ask for and whether the run
finished: a run stopped by a failure or Ctrl-C goes on from that page when started again,
and a record already in the dump (same id and lastModified) is not asked for again.
`--update DUMP` lists the same query newest first (by lastModified) and stops at what is
older than the start of the last finished run; what changed is appended, and the reader
takes the last line of an id.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import fcntl
import json
import os
import sys
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator
from urllib.parse import quote, urlencode, urlsplit

from kg.errors import RequestError
from kg.publish import write_atomically
from kg.sources.huggingface import is_hub_id, timestamp

DEFAULT_ENDPOINT = "https://huggingface.co"
TIMEOUT = 60.0  # seconds for one answer; the client's own default is to wait for ever
# The listing's fields the reader uses (`expand` makes the Hub send only these, with the id).
EXPAND = {
    "models": ("author", "cardData", "createdAt", "downloads", "gated", "lastModified", "library_name", "likes", "pipeline_tag", "safetensors", "sha", "tags"),
    "datasets": ("author", "cardData", "createdAt", "downloads", "gated", "lastModified", "likes", "sha", "tags"),
}


@dataclass(frozen=True)
class Query:
    """What to list: models or datasets, of an author, matching a search, deriving from a base; none of these is the whole Hub."""

    kind: str = "models"
    author: str | None = None
    search: str | None = None
    base: str | None = None

    def first_page(self) -> str:
        pairs = [(key, value) for key, value in (("author", self.author), ("search", self.search)) if value]
        if self.base:
            pairs.append(("filter", f"base_model:{self.base}"))
        return f"/api/{self.kind}?" + urlencode(pairs + [("expand", field) for field in EXPAND[self.kind]])

    def options(self) -> str:
        """The query as a user types it."""
        words = [f"--{key} {value}" for key, value in (("author", self.author), ("search", self.search), ("base", self.base)) if value]
        return " ".join((["--datasets"] if self.kind == "datasets" else []) + (words or ["--all"]))


@dataclass
class Progress:
    written: int = 0
    pages: int = 0
    lookups: int = 0


def state_path(dump: Path) -> Path:
    return dump.with_name(dump.name + ".fetch.json")


def fetch(dump: Path, query: Query | None, *, lookups: bool = True, say: Callable[[str], None] | None = None, progress: Progress | None = None) -> Progress:
    """Fetch `query` into `dump`, or (query None) what changed of the dump's own query; go on from where a stopped run was."""
    say = say or (lambda text: print(text, file=sys.stderr, flush=True))
    progress = progress if progress is not None else Progress()
    endpoint = endpoint_of(os.environ)
    state = _plan(dump, query)
    query = Query(**state["query"])
    headers = _headers()
    with _locked(dump) as out:
        seen = _seen(out)
        if state.get("resumed"):
            say(f"going on with {query.options()} into {dump} ({len(seen):,} records already there)")
        since = state.get("since")
        while state["next"]:
            response = _get(endpoint, state["next"], headers)
            state.setdefault("started", _server_time(response))
            page = _json(response, state["next"])
            if not isinstance(page, list):
                raise RequestError(f"the Hub's answer to {state['next']} is not a list of records", "check HF_ENDPOINT")
            older = False
            for item in page:
                if not isinstance(item, dict) or not is_hub_id(item.get("id")):
                    say("skipped a listed record without a usable id")
                    continue
                changed = timestamp(item.get("lastModified"))
                if since and changed and changed < since:
                    older = True  # listed newest first: the rest is what the last run saw
                    break
                if (item["id"], changed) in seen:
                    continue
                _complete(item, query, endpoint, headers, lookups, progress, say)
                out.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
                seen.add((item["id"], changed))
                progress.written += 1
            out.flush()
            os.fsync(out.fileno())
            progress.pages += 1
            state["next"] = None if older else _next_page(response)
            _save(dump, state)
            say(f"page {progress.pages}: {progress.written:,} new records in {dump}, {progress.lookups:,} looked up for baseModels")
        state.update(complete=True, finished=_now())
        _save(dump, state)
    return progress


def _headers() -> dict[str, str]:
    """The client's token (HF_TOKEN, else a saved login) and our name; built here rather than by
    `build_hf_headers`, whose telemetry asks the Hub for a list of coding agents on first use."""
    from huggingface_hub import get_token

    token = get_token()
    return {"user-agent": "llm-lineage (kg fetch)", **({"authorization": f"Bearer {token}"} if token else {})}


def endpoint_of(environ: os._Environ | dict) -> str:
    endpoint = (environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
    if urlsplit(endpoint).scheme not in ("http", "https") or not urlsplit(endpoint).netloc:
        raise RequestError(f"HF_ENDPOINT '{endpoint}' is not an http(s) address", f"e.g. {DEFAULT_ENDPOINT}")
    return endpoint


def _plan(dump: Path, query: Query | None) -> dict[str, Any]:
    """The run's state: a new fetch, the one a stopped run left, or a new update of a finished one."""
    path = state_path(dump)
    state = _load_state(path)
    if state is None:
        if query is None:
            raise RequestError(f"{dump} was not written by kg fetch (there is no {path.name} beside it)", f"fetch it first, e.g. kg fetch huggingface --author NAME --out {dump}")
        if dump.exists() and dump.stat().st_size:
            raise RequestError(f"{dump} holds records kg fetch did not write (there is no {path.name} beside it)", "give another --out, or remove the file")
        return {"query": asdict(query), "next": query.first_page(), "complete": False}
    held = Query(**state["query"])
    if query is not None and query != held:
        raise RequestError(f"{dump} holds a fetch of `{held.options()}`, not `{query.options()}`", f"give another --out, or `{held.options()}` to go on with it")
    if not state.get("complete"):
        return {**state, "resumed": True}
    if query is not None:
        raise RequestError(f"{dump} is a finished fetch of `{held.options()}`", f"kg fetch huggingface --update {dump} fetches what changed since")
    # Everything changed after the last run began: a record changed while it ran may have been listed before it changed.
    since = state.get("started") or state.get("finished")
    return {"query": state["query"], "next": held.first_page() + "&sort=lastModified&direction=-1", "complete": False, "since": since}


def _load_state(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        Query(**state["query"])
        return state
    except (ValueError, KeyError, TypeError) as exc:
        raise RequestError(f"{path} is not a state kg fetch wrote ({exc})", "remove it and the dump beside it to fetch again") from exc


def _save(dump: Path, state: dict[str, Any]) -> None:
    kept = {key: value for key, value in state.items() if key != "resumed"}
    write_atomically(state_path(dump), (json.dumps(kept, indent=1) + "\n").encode())


@contextmanager
def _locked(dump: Path) -> Iterator[BinaryIO]:
    """The dump open for appending, held by this run alone."""
    dump.parent.mkdir(parents=True, exist_ok=True)
    with open(dump, "a+b") as out:
        try:
            fcntl.flock(out.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RequestError(f"another kg fetch is writing {dump}", "wait for it to finish") from None
        yield out


def _seen(out: BinaryIO) -> set[tuple[str, str | None]]:
    """(id, lastModified) of the records in the dump, after cutting a last line a stopped run left unfinished."""
    out.seek(0)
    seen, kept = set(), 0
    for line in out:
        if not line.endswith(b"\n"):
            break
        kept += len(line)
        try:
            item = json.loads(line)
            seen.add((item["id"], timestamp(item.get("lastModified"))))
        except (ValueError, KeyError, TypeError):
            pass  # the reader reports it
    out.truncate(kept)
    return seen


def _complete(item: dict, query: Query, endpoint: str, headers: dict, lookups: bool, progress: Progress, say: Callable[[str], None]) -> None:
    """Add what the listing leaves out: a dataset's kind, a derived model's baseModels."""
    if query.kind == "datasets":
        item["repoType"] = "dataset"
        return
    card = item.get("cardData") if isinstance(item.get("cardData"), dict) else {}
    tags = item.get("tags") if isinstance(item.get("tags"), list) else []
    if not lookups or not (card.get("base_model") or any(isinstance(t, str) and t.startswith("base_model:") for t in tags)):
        return
    progress.lookups += 1
    try:
        response = _get(endpoint, f"/api/models/{quote(item['id'], safe='/')}?expand=baseModels", headers)
    except RequestError as exc:
        say(f"{item['id']}: no baseModels ({exc.message}); its lineage comes from its tags and card")
        return
    answer = _json(response, item["id"])
    if isinstance(answer, dict) and isinstance(answer.get("baseModels"), (dict, list)):
        item["baseModels"] = answer["baseModels"]


def _get(endpoint: str, path: str, headers: dict) -> Any:
    """GET endpoint+path with the client's retries; a refusal or an unreachable Hub is a RequestError."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.utils import hf_raise_for_status, http_backoff

    try:
        response = http_backoff("GET", endpoint + path, headers=headers, timeout=TIMEOUT)
        hf_raise_for_status(response)
        return response
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "an error"
        hint = "set HF_TOKEN to a token that may read it" if status in (401, 403) else "run the same command again to go on from here"
        raise RequestError(f"the Hub answered {status} to {path}", hint) from None
    except (httpx2.HTTPError, ConnectionError) as exc:  # ConnectionError: the client's own refusal when HF_HUB_OFFLINE is set
        raise RequestError(f"cannot reach {endpoint}: {type(exc).__name__}", "check the network, HF_ENDPOINT and HF_HUB_OFFLINE, then run the same command again to go on from here") from None


def _json(response: Any, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise RequestError(f"the Hub's answer to {what} is not JSON", "check HF_ENDPOINT") from None


def _next_page(response: Any) -> str | None:
    """The path and query of the `Link: <...>; rel="next"` page, asked of our own endpoint only."""
    url = response.links.get("next", {}).get("url")
    if not url:
        return None
    parts = urlsplit(url)
    if not parts.path.startswith("/api/"):
        raise RequestError(f"the Hub's next page '{url}' is not an API page", "check HF_ENDPOINT")
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _server_time(response: Any) -> str:
    """When the server says it answered (its clock, not ours), as the API writes times."""
    try:
        return timestamp(email.utils.parsedate_to_datetime(response.headers["Date"])) or _now()
    except (KeyError, TypeError, ValueError):
        return _now()


def _now() -> str:
    return timestamp(dt.datetime.now(dt.timezone.utc)) or ""
