"""`kg serve`: Oxigraph's server on a store built by `kg build --store`, queried over
HTTP by the SPARQL 1.1 protocol. The server runs on a free loopback port and is
stopped with Ctrl-C (SIGINT) at the end of the module."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import kg
from kg.cli import main
from kg.query import QUERIES_DIR, format_result, run_query, to_store

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(QUERIES_DIR.glob("*.rq"))
TIMEOUT = 2  # seconds, for the server under test
CROSS_JOIN = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(store: Path, page: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """Run `kg serve` on a free port; return the process and the base URL once it says it is ready."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "kg.cli", "serve", "--store", str(store), "--page", str(page), "--port", str(port), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    first = server.stdout.readline()
    assert first == f"SPARQL endpoint (read-only): http://127.0.0.1:{port}/query\n", first + server.stderr.read()
    assert server.stdout.readline() == f"lineage page: http://127.0.0.1:{port}/\n"
    assert server.stdout.readline().endswith("; Ctrl-C stops\n")
    return server, f"http://127.0.0.1:{port}"


def stop_server(server: subprocess.Popen) -> tuple[int, str]:
    server.send_signal(signal.SIGINT)
    _, err = server.communicate(timeout=30)
    return server.returncode, err


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("served") / "build"
    assert main(["build", "--out", str(out), "--store", str(out / "store")]) == 0
    server, url = start_server(out / "store", out / "lineage.html", "--timeout", str(TIMEOUT))
    try:
        yield url, out
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def ask(url: str, query: str, method: str = "POST") -> dict:
    if method == "GET":
        request = urllib.request.Request(f"{url}/query?{urllib.parse.urlencode({'query': query})}")
    else:
        request = urllib.request.Request(f"{url}/query", data=urllib.parse.urlencode({"query": query}).encode(), method="POST")
    request.add_header("Accept", "application/sparql-results+json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def refused(request: urllib.request.Request) -> tuple[int, str]:
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=60)
    return error.value.code, error.value.read().decode("utf-8")


def rows(answer: dict) -> list[str]:
    """The bindings, each as canonical JSON, sorted (ties in ORDER BY may come in either order)."""
    return sorted(json.dumps(binding, sort_keys=True) for binding in answer["results"]["bindings"])


@pytest.fixture(scope="module")
def local_store():
    return to_store(kg.load().rdf)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_each_shipped_query_gives_the_rows_of_kg_query(endpoint, local_store, path: Path) -> None:  # noqa: ANN001
    url, _ = endpoint
    text = path.read_text(encoding="utf-8")
    expected = json.loads(format_result(run_query(local_store, text, str(path)), "json"))
    answer = ask(url, text)
    assert answer["head"]["vars"] == expected["head"]["vars"]
    assert expected["results"]["bindings"]  # every shipped question has an answer on the bundled catalog
    assert rows(answer) == rows(expected)


def test_a_query_by_get_gives_the_same_answer(endpoint) -> None:  # noqa: ANN001
    url, _ = endpoint
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    assert ask(url, count, "GET") == ask(url, count)


def test_the_page_is_served_at_the_root(endpoint) -> None:  # noqa: ANN001
    url, out = endpoint
    with urllib.request.urlopen(f"{url}/", timeout=60) as response:
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert response.read() == (out / "lineage.html").read_bytes()


def test_writes_are_refused_and_change_nothing(endpoint) -> None:  # noqa: ANN001
    url, _ = endpoint
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    before = ask(url, count)
    update = "INSERT DATA { <https://example.org/a> <https://example.org/b> <https://example.org/c> }"
    read_only = "this endpoint is read-only: it takes no updates\n"
    form = urllib.parse.urlencode({"update": update}).encode()
    assert refused(urllib.request.Request(f"{url}/update", data=form, method="POST")) == (403, read_only)
    as_query = urllib.request.Request(f"{url}/query", data=update.encode(), method="POST", headers={"Content-Type": "application/sparql-update"})
    assert refused(as_query)[0] == 415
    triples = b"<https://example.org/a> <https://example.org/b> <https://example.org/c> .\n"
    put = urllib.request.Request(f"{url}/store?default", data=triples, method="PUT", headers={"Content-Type": "application/n-triples"})
    assert refused(put) == (403, read_only)
    with pytest.raises(urllib.error.HTTPError) as error:
        ask(url, update)
    assert error.value.code == 400  # Oxigraph's parser: an update is no query
    assert ask(url, count) == before


def test_service_is_refused_before_oxigraph_sees_it(endpoint) -> None:  # noqa: ANN001
    url, _ = endpoint
    query = "SELECT * WHERE {\n  SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o }\n}"
    request = urllib.request.Request(f"{url}/query", data=urllib.parse.urlencode({"query": query}).encode(), method="POST")
    assert refused(request) == (
        400,
        "query:2:3: SERVICE is refused: queries here never reach another machine "
        "(hint: query the local graph only; to federate, load build/kg.nt into an endpoint of your own)\n",
    )


def test_a_query_past_the_timeout_is_stopped_with_503(endpoint) -> None:  # noqa: ANN001
    url, _ = endpoint
    started = time.monotonic()
    request = urllib.request.Request(f"{url}/query", data=urllib.parse.urlencode({"query": CROSS_JOIN}).encode(), method="POST")
    code, message = refused(request)
    assert (code, message) == (503, f"stopped after {TIMEOUT} s without a whole answer, or the answer passed 256 MiB: narrow the query\n")
    assert time.monotonic() - started < TIMEOUT + 5
    assert ask(url, "ASK { ?s ?p ?o }") == {"head": {}, "boolean": True}  # and the server goes on answering


def test_ctrl_c_stops_both_servers_with_exit_130(tmp_path: Path) -> None:
    assert main(["build", "--data", str(ROOT / "tests" / "fixtures" / "tiny"), "--out", str(tmp_path), "--store", str(tmp_path / "store")]) == 0
    server, url = start_server(tmp_path / "store", tmp_path / "lineage.html")
    assert ask(url, "ASK { ?s ?p ?o }")["boolean"] is True
    assert stop_server(server) == (130, "stopped\n")
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/", timeout=5)
    assert main(["build", "--data", str(ROOT / "tests" / "fixtures" / "tiny"), "--out", str(tmp_path), "--store", str(tmp_path / "store")]) == 0


def test_a_non_loopback_address_needs_allow_remote(capsys: pytest.CaptureFixture) -> None:
    assert main(["serve", "--bind", "0.0.0.0"]) == 1
    assert capsys.readouterr().err == (
        "Error: refusing to listen on 0.0.0.0: it is not a loopback address, so other machines could query the endpoint\n"
        "Hint: add --allow-remote if that is what you want (the endpoint stays read-only)\n"
    )
    assert main(["serve", "--bind", "example.org"]) == 1
    assert capsys.readouterr().err == "Error: --bind 'example.org' is not an IPv4 address\nHint: e.g. --bind 127.0.0.1 (the default)\n"


def test_a_port_in_use_is_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["build", "--data", str(ROOT / "tests" / "fixtures" / "tiny"), "--out", str(tmp_path), "--store", str(tmp_path / "store")]) == 0
    capsys.readouterr()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--store", str(tmp_path / "store"), "--port", str(port)]) == 1
    assert capsys.readouterr().err == f"Error: cannot listen on 127.0.0.1 port {port}: Address already in use\nHint: choose another with --port\n"


def test_a_query_of_more_than_a_mebibyte_is_refused_unread(endpoint) -> None:  # noqa: ANN001
    url, _ = endpoint
    huge = "SELECT * WHERE { ?s ?p ?o } #" + "x" * 2**20
    request = urllib.request.Request(f"{url}/query", data=huge.encode(), method="POST", headers={"Content-Type": "application/sparql-query"})
    assert refused(request) == (413, "a query of more than 1024 KiB is refused\n")
