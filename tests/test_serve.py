"""`kg serve`: a store built by `kg build --store`, queried over HTTP by the SPARQL 1.1
protocol, by hand and by real clients (SPARQLWrapper, rdflib's SPARQLStore). The
servers run on free loopback ports and are stopped with Ctrl-C (SIGINT).

Also here: no query path reaches the network (a listener the test starts on
loopback is never contacted), and the server holds a load of heavy queries
and slow clients while it answers small queries.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from xml.etree import ElementTree

import pyoxigraph as ox
import pytest
from rdflib import Graph, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import JSON, XML, SPARQLWrapper

import kg
from kg.cli import main
from kg.query import QUERIES_DIR, QueryError, format_result, run_query, to_store

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "fixtures" / "tiny"
SHIPPED = sorted(QUERIES_DIR.glob("*.rq"))
TIMEOUT = 2  # seconds, for the server under test
CLIENT_TIMEOUT = 1  # seconds a client has to send a request
ALLOWED = "https://allowed.example"
# Pure work for the engine, no output: three unconstrained patterns to count.
CROSS_JOIN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
SPARQL_XML = "{http://www.w3.org/2005/sparql-results#}"


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
    assert server.stdout.readline() == f"query page: http://127.0.0.1:{port}/sparql\n"
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
    server, url = start_server(
        out / "store", out / "lineage.html", "--timeout", str(TIMEOUT), "--client-timeout", str(CLIENT_TIMEOUT), "--cors-origin", ALLOWED,
    )
    try:
        yield url, out, server
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def tiny_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "build"
    assert main(["build", "--data", str(TINY), "--out", str(out), "--store", str(out / "store")]) == 0
    return out


def ask(url: str, query: str, method: str = "POST") -> dict:
    if method == "GET":
        request = urllib.request.Request(f"{url}/query?{urllib.parse.urlencode({'query': query})}")
    else:
        request = urllib.request.Request(f"{url}/query", data=urllib.parse.urlencode({"query": query}).encode(), method="POST")
    request.add_header("Accept", "application/sparql-results+json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def post(url: str, query: str, accept: str | None = None, origin: str | None = None) -> urllib.request.Request:
    request = urllib.request.Request(f"{url}/query", data=urllib.parse.urlencode({"query": query}).encode(), method="POST")
    for name, value in (("Accept", accept), ("Origin", origin)):
        if value is not None:
            request.add_header(name, value)
    return request


def refused(request: urllib.request.Request) -> tuple[int, str]:
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=60)
    return error.value.code, error.value.read().decode("utf-8")


def rows(answer: dict) -> list[str]:
    """The bindings, each as canonical JSON, sorted (ties in ORDER BY may come in either order)."""
    return sorted(json.dumps(binding, sort_keys=True) for binding in answer["results"]["bindings"])


def raw(url: str, data: bytes, wait: float = 10) -> bytes:
    """Send `data` as it is on a new connection and return all the server sends back before closing or going quiet."""
    host, port = urllib.parse.urlsplit(url).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as connection:
        connection.sendall(data)
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return received


def descendants(pid: int) -> list[int]:
    """The processes started by `pid`, and theirs, from /proc."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            todo += children
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def local_store():
    return to_store(kg.load().rdf)


NAMED_GRAPHS = {"21-claims-and-their-sources"}


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_each_shipped_query_gives_the_rows_of_kg_query(endpoint, local_store, path: Path) -> None:  # noqa: ANN001
    url, _, _ = endpoint
    text = path.read_text(encoding="utf-8")
    expected = json.loads(format_result(run_query(local_store, text, str(path)), "json"))
    answer = ask(url, text)
    assert answer["head"]["vars"] == expected["head"]["vars"]
    if path.stem not in NAMED_GRAPHS:  # a question about source records' named graphs: none without sources (tests/test_query.py)
        assert expected["results"]["bindings"]  # every other shipped question has an answer on the bundled catalog
    assert rows(answer) == rows(expected)


def test_a_query_by_get_gives_the_same_answer(endpoint) -> None:  # noqa: ANN001
    url, _, _ = endpoint
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    assert ask(url, count, "GET") == ask(url, count)


def test_the_page_is_served_at_the_root(endpoint) -> None:  # noqa: ANN001
    url, out, _ = endpoint
    with urllib.request.urlopen(f"{url}/", timeout=60) as response:
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert response.read() == (out / "lineage.html").read_bytes()


def test_the_query_page_has_an_editor_and_every_shipped_query_and_needs_no_network(endpoint) -> None:  # noqa: ANN001
    url, _, _ = endpoint
    with urllib.request.urlopen(f"{url}/sparql", timeout=60) as response:
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        page = response.read().decode("utf-8")
    assert "<textarea" in page and 'fetch("query"' in page
    for path in SHIPPED:
        assert json.dumps(path.stem) in page
    assert json.dumps(SHIPPED[0].read_text(encoding="utf-8")).replace("</", "<\\/") in page
    assert "<script src" not in page and "<link" not in page and "@import" not in page  # all inline: works offline


def test_writes_are_refused_and_change_nothing(endpoint) -> None:  # noqa: ANN001
    url, _, _ = endpoint
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    before = ask(url, count)
    update = "INSERT DATA { <https://example.org/a> <https://example.org/b> <https://example.org/c> }"
    read_only = "this endpoint is read-only: it takes no updates\n"
    form = urllib.parse.urlencode({"update": update}).encode()
    assert refused(urllib.request.Request(f"{url}/update", data=form, method="POST")) == (403, read_only)
    assert refused(urllib.request.Request(f"{url}/query", data=form, method="POST")) == (403, read_only)
    as_query = urllib.request.Request(f"{url}/query", data=update.encode(), method="POST", headers={"Content-Type": "application/sparql-update"})
    assert refused(as_query)[0] == 415
    triples = b"<https://example.org/a> <https://example.org/b> <https://example.org/c> .\n"
    put = urllib.request.Request(f"{url}/store?default", data=triples, method="PUT", headers={"Content-Type": "application/n-triples"})
    assert refused(put) == (403, read_only)
    code, message = refused(post(url, update))
    assert code == 400 and message.startswith("query:1:10: SPARQL syntax error: ")  # an update is no query
    assert ask(url, count) == before


def test_service_is_refused_with_its_line_and_column(endpoint) -> None:  # noqa: ANN001
    url, _, _ = endpoint
    query = "SELECT * WHERE {\n  SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o }\n}"
    assert refused(post(url, query)) == (
        400,
        "query:2:3: SERVICE is refused: queries here never reach another machine "
        "(hint: query the local graph only; to federate, load build/kg.nt into an endpoint of your own)\n",
    )


@pytest.fixture
def listener():
    """A TCP listener on loopback that records every connection made to it."""
    hits = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        server.settimeout(0.2)
        stop = threading.Event()

        def accept() -> None:
            while not stop.is_set():
                try:
                    connection, _ = server.accept()
                except (TimeoutError, OSError):
                    continue
                hits.append(connection.recv(256))
                connection.close()

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.getsockname()[1]}/sparql", hits
        stop.set()
        thread.join()


def service_variants(url: str) -> dict[str, str]:
    """Queries whose SERVICE reaches `url` in Oxigraph, each written to slip past a reading of the query's text."""
    pattern = "{ ?s ?p ?o }"
    return {
        "plain": f"SELECT * WHERE {{ SERVICE <{url}> {pattern} }}",
        "lower case, SILENT, glued to the IRI": f"SELECT * WHERE {{ service silent<{url}>{pattern} }}",
        "the empty prefix glued to it": f"PREFIX : <{url.rpartition('/')[0]}/> SELECT * WHERE {{ SERVICE:sparql {pattern} }}",
        "after a quote escaped in a local name": f"PREFIX ex: <http://example.org/> SELECT * WHERE {{ BIND(ex:a\\' AS ?x) SERVICE <{url}> {pattern} BIND(ex:b\\' AS ?y) }}",
        "after a hash escaped in a local name": f"PREFIX ex: <http://example.org/> SELECT * WHERE {{ BIND(ex:a\\# AS ?x)\nSERVICE <{url}> {pattern} }}",
        "its IRI escaped": f"SELECT * WHERE {{ SERVICE <{url[:-1]}\\u{ord(url[-1]):04X}> {pattern} }}",
        "in a subquery": f"ASK {{ {{ SELECT * WHERE {{ SERVICE <{url}> {pattern} }} }} }}",
        # rdflib's parser cannot read RDF-star: refused unchecked, and the engine that judges it reaches nothing.
        "beside RDF-star": f"ASK {{ SERVICE <{url}> {{ ?s ?p << ?a ?b ?c >> }} }}",
    }


REFUSED = re.compile("SERVICE is refused: queries here never reach another machine|the query cannot be checked for SERVICE, so it is refused")


def test_no_query_path_reaches_a_listener_on_loopback(endpoint, tiny_build: Path, listener, capsys: pytest.CaptureFixture) -> None:  # noqa: ANN001
    url, _, _ = endpoint
    target, hits = listener
    api = kg.load(TINY)
    for name, query in service_variants(target).items():
        # Each variant is live: run bare in Oxigraph, it calls the listener (and fails on its answer, unless SILENT).
        try:
            result = ox.Store().query(query)
            bool(result) if isinstance(result, ox.QueryBoolean) else list(result)
        except (OSError, RuntimeError):
            pass
        time.sleep(0.1)
        assert len(hits) == 1, name
        hits.clear()
        for args in (["--data", str(TINY)], ["--graph", str(tiny_build / "kg.nt")], ["--store", str(tiny_build / "store")]):
            assert main(["query", *args, query]) == 1, (name, args)
            assert REFUSED.search(capsys.readouterr().err), (name, args)
        with pytest.raises(QueryError, match=REFUSED):
            api.query(query)
        code, message = refused(post(url, query))
        assert code == 400 and REFUSED.search(message), name
        code, message = refused(urllib.request.Request(f"{url}/query?{urllib.parse.urlencode({'query': query})}"))
        assert code == 400 and REFUSED.search(message), name
        time.sleep(0.1)
        assert hits == [], name


def test_service_in_strings_iris_comments_and_names_is_no_keyword(endpoint) -> None:  # noqa: ANN001
    url, _, _ = endpoint
    query = 'PREFIX ex: <http://example.org/>\nASK { BIND("SERVICE <x> {}" AS ?a) BIND(<http://example.org/SERVICE> AS ?b) BIND(ex:SERVICE AS ?c) BIND(ex:a\\#SERVICE AS ?d) } # SERVICE'
    assert ask(url, query) == {"head": {}, "boolean": True}


def test_the_service_description_is_turtle_on_get_without_a_query(endpoint) -> None:  # noqa: ANN001
    url, _, _ = endpoint
    with urllib.request.urlopen(f"{url}/query", timeout=60) as response:
        assert response.headers["Content-Type"] == "text/turtle; charset=utf-8"
        description = Graph().parse(data=response.read().decode("utf-8"), format="turtle")
    service = description.value(predicate=SD.endpoint, object=URIRef(f"{url}/query"))
    assert service is not None
    assert (service, SD.supportedLanguage, SD.SPARQL11Query) in description
    formats = {str(o).rpartition("/")[2] for o in description.objects(service, SD.resultFormat)}
    assert {"SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV", "Turtle", "N-Triples"} <= formats


def test_head_and_options(endpoint) -> None:  # noqa: ANN001
    url, _, _ = endpoint
    with urllib.request.urlopen(urllib.request.Request(f"{url}/query", method="HEAD"), timeout=60) as response:
        assert (response.status, response.headers["Content-Type"], response.read()) == (200, "text/turtle; charset=utf-8", b"")
        assert int(response.headers["Content-Length"]) > 100
    with urllib.request.urlopen(urllib.request.Request(f"{url}/query", method="OPTIONS"), timeout=60) as response:
        assert (response.status, response.headers["Allow"]) == (204, "GET, HEAD, POST, OPTIONS")
        assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_only_for_the_origins_allowed(endpoint, tiny_build: Path) -> None:  # noqa: ANN001
    url, _, _ = endpoint
    with urllib.request.urlopen(post(url, "ASK {}", origin=ALLOWED), timeout=60) as response:
        assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    with urllib.request.urlopen(post(url, "ASK {}", origin="https://other.example"), timeout=60) as response:
        assert "Access-Control-Allow-Origin" not in response.headers
    preflight = urllib.request.Request(f"{url}/query", method="OPTIONS", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"})
    with urllib.request.urlopen(preflight, timeout=60) as response:
        assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
    server, other = start_server(tiny_build / "store", tiny_build / "lineage.html")  # by default no origin is allowed
    try:
        with urllib.request.urlopen(post(other, "ASK {}", origin=ALLOWED), timeout=60) as response:
            assert "Access-Control-Allow-Origin" not in response.headers
    finally:
        assert stop_server(server) == (130, "stopped\n")


def test_http_1_1_keeps_the_connection_and_takes_chunked_bodies(endpoint) -> None:  # noqa: ANN001
    url, _, _ = endpoint
    connection = http.client.HTTPConnection(urllib.parse.urlsplit(url).netloc, timeout=60)
    answers = []
    for _ in range(3):
        connection.request("POST", "/query", body=iter([b"ASK ", b"{ ?s ?p ?o }"]), headers={"Content-Type": "application/sparql-query"}, encode_chunked=True)
        response = connection.getresponse()
        assert (response.version, response.getheader("Connection")) == (11, None)
        answers.append(json.loads(response.read()))
        sock = connection.sock
    assert answers == [{"head": {}, "boolean": True}] * 3
    assert connection.sock is sock  # still the first connection
    connection.close()


def test_answers_in_each_format_asked_for(endpoint, local_store) -> None:  # noqa: ANN001
    url, _, _ = endpoint
    select = "SELECT ?m ?name WHERE { ?m lkg:adapterOf model:llama-7b ; rdfs:label ?name FILTER(LANG(?name) = 'en') } ORDER BY ?m"
    expected = [(row[0].value, row[1].value) for row in run_query(local_store, select).rows]
    assert len(expected) > 1

    def answer(accept: str) -> tuple[str, str]:
        with urllib.request.urlopen(post(url, select, accept), timeout=60) as response:
            return response.headers["Content-Type"], response.read().decode("utf-8")

    kind, text = answer("application/sparql-results+json")
    assert kind == "application/sparql-results+json; charset=utf-8"
    assert [(b["m"]["value"], b["name"]["value"]) for b in json.loads(text)["results"]["bindings"]] == expected
    kind, text = answer("application/sparql-results+xml")
    results = ElementTree.fromstring(text).iter(f"{SPARQL_XML}result")
    assert [tuple(b[0].text for b in result) for result in results] == expected
    for accept, separator in (("text/csv", ","), ("text/tab-separated-values", "\t")):
        kind, text = answer(f"{accept};q=0.9, text/html;q=0.1")
        assert kind == f"{accept}; charset=utf-8"
        table = list(csv.reader(io.StringIO(text), delimiter=separator))
        assert table[0] == (["m", "name"] if separator == "," else ["?m", "?name"])
        assert len(table) == len(expected) + 1
    construct = "CONSTRUCT { ?m lkg:adapterOf model:llama-7b } WHERE { ?m lkg:adapterOf model:llama-7b }"
    graphs = []
    for accept, form in (("text/turtle", "turtle"), ("application/n-triples", "nt")):
        with urllib.request.urlopen(post(url, construct, accept), timeout=60) as response:
            assert response.headers["Content-Type"].startswith(accept)
            graphs.append(Graph().parse(data=response.read().decode("utf-8"), format=form))
    assert len(graphs[0]) == len(expected) and isomorphic(graphs[0], graphs[1])
    code, message = refused(post(url, select, "text/turtle"))
    assert code == 406 and message.startswith("this query's answer comes as one of: application/sparql-results+json,")


def test_sparqlwrapper_and_rdflib_sparqlstore_are_answered(endpoint, local_store) -> None:  # noqa: ANN001
    url, _, _ = endpoint
    select = "PREFIX lkg: <https://w3id.org/llm-lineage/ontology#> SELECT ?m WHERE { ?m lkg:adapterOf ?base } ORDER BY ?m"
    expected = [row[0].value for row in run_query(local_store, select).rows]
    for method in ("GET", "POST"):
        for form in (JSON, XML):
            client = SPARQLWrapper(f"{url}/query")
            client.setQuery(select)
            client.setMethod(method)
            client.setReturnFormat(form)
            answer = client.query().convert()
            if form == JSON:
                found = [b["m"]["value"] for b in answer["results"]["bindings"]]
            else:
                found = [node.firstChild.firstChild.data for node in answer.getElementsByTagName("binding")]
            assert found == expected, (method, form)
    client = SPARQLWrapper(f"{url}/query")
    client.setQuery(select.replace("SELECT ?m WHERE", "CONSTRUCT { ?m lkg:adapterOf ?base } WHERE"))
    graph = client.query().convert()
    assert sorted(str(s) for s in graph.subjects()) == expected
    store = Graph(store=SPARQLStore(f"{url}/query", returnFormat="json"))
    assert [str(row.m) for row in store.query(select)] == expected
    adapter_of = URIRef("https://w3id.org/llm-lineage/ontology#adapterOf")
    assert sorted(str(s) for s, _, _ in store.triples((None, adapter_of, None))) == expected


def test_a_query_past_the_timeout_is_stopped_with_503_and_its_work_with_it(endpoint) -> None:  # noqa: ANN001
    url, _, server = endpoint
    started = time.monotonic()
    assert refused(post(url, CROSS_JOIN)) == (503, f"stopped after {TIMEOUT} s without an answer: narrow the query (add LIMIT, or bind a variable)\n")
    assert TIMEOUT <= time.monotonic() - started < TIMEOUT + 2
    time.sleep(0.5)
    workers = descendants(server.pid)
    before = cpu_seconds(workers)
    time.sleep(1)
    assert cpu_seconds(workers) - before < 0.2  # nothing still runs the query
    assert ask(url, "ASK { ?s ?p ?o }") == {"head": {}, "boolean": True}  # and the server goes on answering
    started = time.monotonic()  # the same query again, spaced differently, is refused at once
    assert refused(post(url, CROSS_JOIN.replace(" ", "\n  "))) == (
        503, f"this query was stopped after {TIMEOUT} s less than a minute ago, and would be again: narrow the query (add LIMIT, or bind a variable)\n")
    assert time.monotonic() - started < 1


def test_ctrl_c_stops_the_server_and_its_workers_with_exit_130(tiny_build: Path) -> None:
    server, url = start_server(tiny_build / "store", tiny_build / "lineage.html")
    assert ask(url, "ASK { ?s ?p ?o }")["boolean"] is True
    workers = descendants(server.pid)
    assert len(workers) >= 4
    assert stop_server(server) == (130, "stopped\n")
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/", timeout=5)
    time.sleep(0.5)
    assert [pid for pid in workers if Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2][:3]] == []
    assert main(["build", "--data", str(TINY), "--out", str(tiny_build), "--store", str(tiny_build / "store")]) == 0


def test_a_query_that_needs_more_memory_than_a_worker_has_gets_503(endpoint) -> None:  # noqa: ANN001
    _, out, _ = endpoint
    server, url = start_server(out / "store", out / "lineage.html", "--worker-memory", "2048", "--timeout", "60")  # opening the store takes about 1 GiB of address space
    try:
        sort = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f } ORDER BY ?c ?f LIMIT 1"  # every pair held to be sorted
        assert refused(post(url, sort)) == (503, "the query engine stopped without an answer: the query may need more memory than a worker has (see --worker-memory)\n")
        assert ask(url, "ASK { ?s ?p ?o }")["boolean"] is True
    finally:
        assert stop_server(server) == (130, "stopped\n")


def test_workers_killed_from_outside_are_replaced_and_every_request_answered(tiny_build: Path) -> None:
    server, url = start_server(tiny_build / "store", tiny_build / "lineage.html")
    try:
        workers = descendants(server.pid)
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        statuses = []
        for _ in range(12):  # each request gets an answer: 503 on a dead worker, then 200 from the replacements
            try:
                statuses.append(200 if ask(url, "ASK { ?s ?p ?o }")["boolean"] else 0)
            except urllib.error.HTTPError as error:
                statuses.append(error.code)
                time.sleep(0.5)
        assert set(statuses) <= {200, 503} and statuses[-4:] == [200] * 4
        assert not set(workers) & set(descendants(server.pid))
    finally:
        assert stop_server(server) == (130, "stopped\n")


def test_a_non_loopback_address_needs_allow_remote(capsys: pytest.CaptureFixture) -> None:
    assert main(["serve", "--bind", "0.0.0.0"]) == 1
    assert capsys.readouterr().err == (
        "Error: refusing to listen on 0.0.0.0: it is not a loopback address, so other machines could query the endpoint\n"
        "Hint: add --allow-remote if that is what you want (the endpoint stays read-only)\n"
    )
    assert main(["serve", "--bind", "example.org"]) == 1
    assert capsys.readouterr().err == "Error: --bind 'example.org' is not an IPv4 address\nHint: e.g. --bind 127.0.0.1 (the default)\n"


def test_a_port_in_use_is_named(tiny_build: Path, capsys: pytest.CaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--store", str(tiny_build / "store"), "--port", str(port)]) == 1
    assert capsys.readouterr().err == f"Error: cannot listen on 127.0.0.1 port {port}: Address already in use\nHint: choose another with --port\n"


def test_a_query_of_more_than_a_mebibyte_is_refused(endpoint) -> None:  # noqa: ANN001
    url, _, _ = endpoint
    huge = "SELECT * WHERE { ?s ?p ?o } #" + "x" * 2**20
    request = urllib.request.Request(f"{url}/query", data=huge.encode(), method="POST", headers={"Content-Type": "application/sparql-query"})
    assert refused(request) == (413, "a query of more than 1024 KiB is refused\n")


def head_of(answer: bytes) -> tuple[str, bytes]:
    status, _, rest = answer.partition(b"\r\n")
    return status.decode(), rest.partition(b"\r\n\r\n")[2]


def test_bodies_are_bounded_however_framed_and_bad_frames_refused_quietly(tiny_build: Path) -> None:
    server, url = start_server(tiny_build / "store", tiny_build / "lineage.html", "--client-timeout", str(CLIENT_TIMEOUT))
    start = b"POST /query HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
    try:
        assert head_of(raw(url, start + b"Content-Length: -1\r\n\r\nASK {}")) == ("HTTP/1.1 400 Bad Request", b"Content-Length '-1' is not a length in bytes\n")
        assert head_of(raw(url, start + b"Content-Length: abc\r\n\r\nASK {}")) == ("HTTP/1.1 400 Bad Request", b"Content-Length 'abc' is not a length in bytes\n")
        assert head_of(raw(url, start + b"Content-Length: 6\r\nContent-Length: 7\r\n\r\nASK {}"))[0] == "HTTP/1.1 400 Bad Request"
        assert head_of(raw(url, start + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nASK {}\r\n0\r\n\r\n")) == (
            "HTTP/1.1 400 Bad Request", b"a request with both Content-Length and Transfer-Encoding is refused\n")
        assert head_of(raw(url, start + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nASK {}\r\n0\r\n\r\n")) == ("HTTP/1.1 400 Bad Request", b"a malformed chunk in the request's body\n")
        assert head_of(raw(url, start + b"Transfer-Encoding: gzip\r\n\r\n"))[0] == "HTTP/1.1 501 Not Implemented"
        big = b"100000\r\n" + b"#" * 0x100000 + b"\r\n"
        assert head_of(raw(url, start + b"Transfer-Encoding: chunked\r\n\r\n" + big * 2)) == ("HTTP/1.1 413 Request Entity Too Large", b"a query of more than 1024 KiB is refused\n")
        started = time.monotonic()  # a declared 10 GB is refused before any of it is read
        assert head_of(raw(url, start + b"Content-Length: 10000000000\r\n\r\nASK"))[0] == "HTTP/1.1 413 Request Entity Too Large"
        assert time.monotonic() - started < CLIENT_TIMEOUT
        assert head_of(raw(url, start + b"Transfer-Encoding: chunked\r\n\r\n4\r\nASK \r\n8\r\n{ ?s ?p \r\n4\r\n?o }\r\n0\r\n\r\n")) == (
            "HTTP/1.1 200 OK", b'{"head":{},"boolean":true}')
        # A client that sends half a request, or half a body, then goes quiet, gets 408 after the client timeout.
        for partial in (b"POST /query HTTP/1.1\r\nHost: x\r\n", start + b"Content-Length: 100\r\n\r\nASK"):
            started = time.monotonic()
            assert head_of(raw(url, partial))[0] == "HTTP/1.1 408 Request Timeout"
            assert CLIENT_TIMEOUT <= time.monotonic() - started < CLIENT_TIMEOUT + 2
        # Clients that go away in the middle.
        for partial in (start + b"Content-Length: 100\r\n\r\nASK", b"GET /que", start + b"Transfer-Encoding: chunked\r\n\r\n10\r\nAS"):
            host, port = urllib.parse.urlsplit(url).netloc.split(":")
            with socket.create_connection((host, int(port))) as connection:
                connection.sendall(partial)
        assert head_of(raw(url, b"GET / HTTP/1.1\r\nX: " + b"x" * 70000 + b"\r\n\r\n"))[0] == "HTTP/1.1 431 Line too long"
        assert b"Error code: 400" in raw(url, b"GARBAGE\r\n\r\n")  # taken for HTTP/0.9, whose answers have no status line
        assert ask(url, "ASK { ?s ?p ?o }")["boolean"] is True
    finally:
        assert stop_server(server) == (130, "stopped\n")  # and nothing else on the console: no traceback


def post_from(source: str, url: str, query: str) -> tuple[int, str | None]:
    """POST `query` from the loopback address `source`: the answer's status and its Retry-After."""
    host, port = urllib.parse.urlsplit(url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60, source_address=(source, 0))
    try:
        connection.request("POST", "/query", urllib.parse.urlencode({"query": query}), {"Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        response.read()
        return response.status, response.headers.get("Retry-After")
    finally:
        connection.close()


@pytest.mark.parametrize("addresses", [1, 50], ids=["heavy clients of one address", "of fifty addresses"])
def test_small_queries_are_answered_while_heavy_queries_and_slow_clients_hit_the_server(endpoint, addresses: int) -> None:  # noqa: ANN001
    """50 clients of one address (or each of its own) send cross joins again and again, each a new text
    (so no memory of a text helps), 40 send their requests a byte at a time; meanwhile a client of another
    address asks small queries one after another for a few seconds. (A client that ran a heavy query counts
    as heavy for a minute, its small queries too: so the small client has an address of its own.)"""
    url, _, server = endpoint
    host, port = urllib.parse.urlsplit(url).netloc.split(":")
    stop = threading.Event()
    heavy_answers: list[int] = []
    slow_answers: list[bytes] = []
    numbers = iter(range(10**9))

    def heavy(source: str) -> None:
        while not stop.is_set():
            status, retry = post_from(source, url, f"{CROSS_JOIN} # {next(numbers)}")
            heavy_answers.append(status)
            time.sleep(float(retry or 0) / 4)  # an impatient client

    def slow() -> None:
        with socket.create_connection((host, int(port)), timeout=30) as connection:
            for byte in b"POST /query HTTP/1.1\r\nHost: x\r\n":  # a byte at a time, then nothing more
                connection.sendall(bytes([byte]))
                time.sleep(CLIENT_TIMEOUT / 50)
            slow_answers.append(connection.recv(100))

    sources = ["127.0.0.2"] * 50 if addresses == 1 else [f"127.0.2.{n + 1}" for n in range(50)]  # a new set of addresses
    threads = [threading.Thread(target=heavy, args=(source,)) for source in sources] + [threading.Thread(target=slow) for _ in range(40)]
    for thread in threads:
        thread.start()
    time.sleep(1)  # the load is on
    small = "SELECT ?name WHERE { model:llama-7b rdfs:label ?name }"
    latencies, statuses = [], []
    finish = time.monotonic() + 8
    while time.monotonic() < finish:
        started = time.monotonic()
        statuses.append(post_from("127.0.0.3", url, small)[0])  # not the address of an earlier test's heavy query
        latencies.append(time.monotonic() - started)
    workers = len(descendants(server.pid))
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    print(f"small queries: {len(statuses)}, {statuses.count(200)} answered, median {statistics.median(latencies) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms; heavy: {len(heavy_answers)} answers, {heavy_answers.count(503)} of them 503; "
          f"slow clients: {sum(a.startswith(b'HTTP/1.1 408') for a in slow_answers)} of {len(slow_answers)} answered 408")
    assert statuses.count(200) >= 0.9 * len(statuses) and len(statuses) >= 8
    assert statistics.median(latencies) < 1
    assert set(heavy_answers) == {503} and len(heavy_answers) >= 50
    assert len(slow_answers) == 40 and all(a.startswith(b"HTTP/1.1 408") for a in slow_answers)
    assert workers <= 4 + 1  # the workers, and at most one replacement starting
    assert ask(url, small)["results"]["bindings"]
