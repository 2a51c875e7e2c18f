"""A query worker of `kg serve`: one process holding the store open read-only, answering queries one at a time.

It is run as a script (`python -P kg/worker.py FD STORE PREFIXES MEMORY`), not
imported through the `kg` package, so that it loads pyoxigraph and nothing
else: it starts in a fraction of a second, and `kg serve` can kill one in
the middle of a query and start another without a pause. It talks to the
server over the socket FD (`multiprocessing.connection` messages): "ready"
or "failed" once, then for each (query, formats) the (outcome, payload)
of `answer`. It ends when the server closes the socket, or with the server.

Run as `python -P kg/worker.py --read` (`engine_syntax_error`), it tells
whether Oxigraph reads a query, in a process that can open no file or
socket: so a query that rdflib's parser cannot check is judged without any
chance of reaching the network.
"""

from __future__ import annotations

import ctypes
import io
import json
import resource
import signal
import subprocess
import sys
from multiprocessing.connection import Connection

import pyoxigraph as ox

MAX_ANSWER_BYTES = 64 * 2**20
PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Media types of the answers: what a client may ask for in Accept -> the engine's format.
RESULTS = {
    "application/sparql-results+json": "JSON", "application/json": "JSON",
    "application/sparql-results+xml": "XML", "application/xml": "XML", "text/xml": "XML",
    "text/csv": "CSV", "text/tab-separated-values": "TSV",
}
GRAPHS = {
    "text/turtle": "TURTLE", "application/x-turtle": "TURTLE", "application/n-triples": "N_TRIPLES", "text/plain": "N_TRIPLES",
    "application/rdf+xml": "RDF_XML", "application/ld+json": "JSON_LD",
}


class _TooBig(Exception):
    pass


class _Bounded(io.RawIOBase):
    """A writable buffer that raises _TooBig past MAX_ANSWER_BYTES, so that an answer is never held whole past it."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:
        if self.buffer.tell() + len(data) > MAX_ANSWER_BYTES:
            raise _TooBig
        return self.buffer.write(data)


def answer(store: ox.Store, text: str, formats: tuple[str | None, str | None], prefixes: dict[str, str]) -> tuple[str, object]:
    """Evaluate `text` on `store`; the answer serialized in `formats` (for results, for graphs), as (outcome, payload):
    ("ok", (media type, bytes)), ("syntax", message), ("too-big", None), ("not-acceptable", "results" or "graph"),
    or ("failed", message)."""
    results, graph = formats
    output = _Bounded()
    try:
        result = store.query(text, prefixes=prefixes)
        if isinstance(result, ox.QueryTriples):
            if graph is None:
                return ("not-acceptable", "graph")
            result.serialize(output, format=getattr(ox.RdfFormat, GRAPHS[graph]))
            return ("ok", (graph, output.buffer.getvalue()))
        if results is None:
            return ("not-acceptable", "results")
        result.serialize(output, format=getattr(ox.QueryResultsFormat, RESULTS[results]))
        return ("ok", (results, output.buffer.getvalue()))
    except SyntaxError as exc:
        return ("syntax", str(exc))
    except Exception as exc:  # noqa: BLE001 (anything the engine raises goes back as a message)
        if isinstance(exc, _TooBig) or isinstance(exc.__context__, _TooBig):
            return ("too-big", None)
        return ("failed", str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)


def engine_syntax_error(text: str, prefixes: dict[str, str]) -> str | None:
    """Oxigraph's syntax error for the query `text`, or None if it reads it (as `--read` in a process of its own)."""
    try:
        done = subprocess.run([sys.executable, "-P", __file__, "--read"], input=json.dumps([text, prefixes]),
                              capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:  # it got past reading the query (syntax errors come at once) and then ran
        return None
    outcome = json.loads(done.stdout) if done.returncode == 0 else [None]
    return outcome[0]


def read(text: str, prefixes: dict[str, str]) -> str | None:
    """Oxigraph's syntax error for `text`, or None if it reads it. On an empty store, in a process that
    must have no way to open a socket: an ASK is run as it is read, and a SERVICE in it must fail."""
    try:
        ox.Store().query(text, prefixes=prefixes)
    except SyntaxError as exc:
        return str(exc)
    except Exception:  # noqa: BLE001 (it was read; what running it did does not matter)
        return None
    return None


def main(fd: str, store: str, prefixes: str, memory: str) -> None:
    # A query that needs more memory than MEMORY bytes of address space ends this process (the server answers 503).
    resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops its workers itself
    # And the kernel does if the server dies without cleaning up (strictly: when the thread that started this
    # process ends; the server starts workers only from threads that live as long as it does).
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    connection = Connection(int(fd))
    try:
        opened = ox.Store.read_only(store)
    except OSError:
        connection.send("failed")
        return
    connection.send("ready")
    names = json.loads(prefixes)
    while True:
        try:
            text, formats = connection.recv()
        except (EOFError, OSError):
            return
        connection.send(answer(opened, text, formats, names))


if __name__ == "__main__":
    if sys.argv[1:] == ["--read"]:
        query, names = json.loads(sys.stdin.read())
        # No new file descriptor from here: no socket can be opened, so no SERVICE reaches anything.
        resource.setrlimit(resource.RLIMIT_NOFILE, (0, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))
        print(json.dumps([read(query, names)]))
    else:
        main(*sys.argv[1:])
