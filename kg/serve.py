"""`kg serve`: Oxigraph's own SPARQL server on a store, read-only, with the lineage page beside it.

Oxigraph's server (`oxigraph serve-read-only`, from the `oxigraph` package)
answers the queries. It listens on a free loopback port that only this
process talks to; the port the user asks for is a small front server here,
which serves the page at `/` and passes `/query` (SPARQL 1.1 protocol, GET
or POST) to Oxigraph. The front is there because of what Oxigraph's server
does on its own (measured with oxigraph 0.5.13):

- It evaluates SERVICE: one query makes it send HTTP requests to any machine,
  services on loopback included. The front refuses such a query before it
  reaches Oxigraph, by the rule `kg query` applies.
- Its `--timeout-s` is checked only at points inside the engine: a SELECT
  whose rows stream ran for as long as the client kept reading (ten minutes,
  with `--timeout-s 2`), and a COUNT over a cross join stopped after 23 s.
  The front reads the answer with a deadline and, when it passes, drops the
  connection to Oxigraph (which stops a streaming answer at once) and
  answers 503; Oxigraph's own timeout, one second later, frees the engine
  where it can.
- It serves no files, so the page would need a port of its own.

The answer is read whole before it is sent, so that a client gets either
the whole answer or a clear error, never a truncated one with status 200.
"""

from __future__ import annotations

import ctypes
import http.client
import http.server
import ipaddress
import math
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from kg.errors import RequestError
from kg.query import QueryError, refuse_remote
from kg.store import hold_store

MAX_ANSWER_BYTES = 256 * 2**20
MAX_QUERY_BYTES = 2**20
STARTUP_SECONDS = 30.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def check_bind(address: str, allow_remote: bool) -> None:
    """Raise RequestError unless `address` is an IPv4 loopback address (or localhost), or `allow_remote` is set."""
    if address == "localhost":
        return
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        raise RequestError(f"--bind '{address}' is not an IPv4 address", "e.g. --bind 127.0.0.1 (the default)") from None
    if not ip.is_loopback and not allow_remote:
        raise RequestError(
            f"refusing to listen on {address}: it is not a loopback address, so other machines could query the endpoint",
            "add --allow-remote if that is what you want (the endpoint stays read-only)",
        )


def serve(store: Path, page: Path, bind: str, port: int, timeout: float) -> None:
    """Serve `store` and `page` on `bind`:`port` until Ctrl-C (KeyboardInterrupt, raised once both servers are stopped).

    Prints where the endpoint and the page are once Oxigraph answers.
    Raises RequestError if the store is missing or in use, the port is taken, or Oxigraph stops.
    """
    program = _oxigraph()
    with hold_store(store):
        try:
            front = http.server.ThreadingHTTPServer((bind, port), _Front)
        except OSError as exc:
            raise RequestError(f"cannot listen on {bind} port {port}: {exc.strerror or exc}", "choose another with --port") from None
        front.daemon_threads = True
        with front, tempfile.TemporaryFile() as log:
            inner = _free_port()
            oxigraph = subprocess.Popen(
                [program, "serve-read-only", "--location", str(store), "--bind", f"127.0.0.1:{inner}", "--timeout-s", str(math.ceil(timeout) + 1)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=_die_with_parent,
            )
            front.inner, front.page, front.timeout_s = inner, Path(page), timeout
            thread = threading.Thread(target=front.serve_forever, daemon=True)
            # Ctrl-C also when started in the background, where the shell ignores SIGINT; SIGTERM stops cleanly too.
            previous = {stop: signal.signal(stop, _interrupt) for stop in (signal.SIGINT, signal.SIGTERM)}
            try:
                _wait_until_listening(oxigraph, inner, log)
                thread.start()
                _say(f"SPARQL endpoint (read-only): http://{bind}:{front.server_port}/query")
                _say(f"lineage page: http://{bind}:{front.server_port}/" + ("" if Path(page).is_file() else f" (no page yet at {page}: run `kg build`)"))
                _say(f"store {store}, queries stopped after {timeout:g} s; Ctrl-C stops")
                code = oxigraph.wait()
                raise RequestError(f"Oxigraph's server stopped (exit code {code}): {_tail(log)}", "")
            finally:
                if thread.is_alive():
                    front.shutdown()
                oxigraph.terminate()
                oxigraph.wait()
                for stop, handler in previous.items():
                    signal.signal(stop, handler)


def _interrupt(signum: int, frame) -> None:  # noqa: ANN001
    raise KeyboardInterrupt


def _say(line: str) -> None:
    print(line, flush=True)  # at once, even when stdout is a pipe: a test or a script waits for these lines


def _oxigraph() -> str:
    """The `oxigraph` program installed beside this Python, else the one on PATH."""
    beside = Path(sys.executable).parent / "oxigraph"
    found = str(beside) if beside.is_file() else shutil.which("oxigraph")
    if found is None:
        raise RequestError("Oxigraph's server (the `oxigraph` command) is not installed", "pip install oxigraph")
    return found


def _die_with_parent() -> None:
    """In the child before exec: have the kernel stop Oxigraph if this process dies without cleaning up."""
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_listening(process: subprocess.Popen, port: int, log) -> None:  # noqa: ANN001
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RequestError(f"Oxigraph's server did not start (exit code {process.returncode}): {_tail(log)}", "")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RequestError(f"Oxigraph's server did not answer within {STARTUP_SECONDS:g} s", "")


def _tail(log) -> str:  # noqa: ANN001
    log.seek(0)
    lines = log.read().decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else "it said nothing"


class _Front(http.server.BaseHTTPRequestHandler):
    """The page at / and /lineage.html; /query passed to Oxigraph; every write refused."""

    server_version = "llm-lineage"

    def do_GET(self) -> None:  # noqa: N802
        path, _, query = self.path.partition("?")
        if path in ("/", "/lineage.html"):
            self._page()
        elif path == "/query":
            self._query(urllib.parse.parse_qs(query).get("query", [None])[0], b"")
        else:
            self._refuse(404, f"nothing at {path}: the endpoint is /query, the page is /")

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.partition("?")[0]
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_QUERY_BYTES:
            for start in range(0, length, 1 << 16):  # read and dropped, never held, so that the client gets the answer
                self.rfile.read(min(1 << 16, length - start))
            self._refuse(413, f"a query of more than {MAX_QUERY_BYTES // 2**10} KiB is refused")
            return
        body = self.rfile.read(length)
        if path != "/query":
            self._refuse(403 if path in ("/update", "/store") else 404, "this endpoint is read-only: it takes no updates")
            return
        kind = self.headers.get_content_type()
        if kind == "application/sparql-query":
            text = body.decode("utf-8", "replace")
        elif kind == "application/x-www-form-urlencoded":
            text = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("query", [None])[0]
        else:
            self._refuse(415, "send the query as application/sparql-query or as a form field 'query'; this endpoint takes no updates")
            return
        self._query(text, body)

    def do_PUT(self) -> None:  # noqa: N802
        self._refuse(403, "this endpoint is read-only: it takes no updates")

    do_DELETE = do_PATCH = do_PUT

    def _page(self) -> None:
        try:
            data = self.server.page.read_bytes()
        except OSError:
            self._refuse(404, f"no lineage page at {self.server.page}: run `kg build`")
            return
        self._send(200, "text/html; charset=utf-8", data)

    def _query(self, text: str | None, body: bytes) -> None:
        if text is None:
            self._refuse(400, "no query: pass it as the parameter 'query'")
            return
        try:
            refuse_remote(text, "query")
        except QueryError as exc:
            self._refuse(400, str(exc))
            return
        status, kind, answer = self._ask_oxigraph(body)
        if answer is None:
            self._refuse(503, f"stopped after {self.server.timeout_s:g} s without a whole answer, or the answer passed {MAX_ANSWER_BYTES // 2**20} MiB: narrow the query")
        else:
            self._send(status, kind, answer)

    def _ask_oxigraph(self, body: bytes) -> tuple[int, str, bytes | None]:
        """Oxigraph's status, content type and whole answer, or None for the answer past the deadline or the size bound."""
        deadline = time.monotonic() + self.server.timeout_s
        connection = http.client.HTTPConnection("127.0.0.1", self.server.inner, timeout=self.server.timeout_s)
        headers = {name: self.headers[name] for name in ("Accept", "Content-Type") if self.headers[name]}
        try:
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            chunks, size = [], 0
            while time.monotonic() < deadline and size <= MAX_ANSWER_BYTES:
                connection.sock.settimeout(max(deadline - time.monotonic(), 0.01))
                chunk = response.read1(1 << 16)
                if not chunk:
                    return response.status, response.getheader("Content-Type", "text/plain"), b"".join(chunks)
                chunks.append(chunk)
                size += len(chunk)
            return response.status, "", None
        except (TimeoutError, socket.timeout):
            return 503, "", None
        finally:
            connection.close()  # before the end of the answer, this is what stops Oxigraph

    def _refuse(self, status: int, message: str) -> None:
        self._send(status, "text/plain; charset=utf-8", (message + "\n").encode("utf-8"))

    def _send(self, status: int, kind: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # noqa: A002, ANN002
        pass  # quiet: the terminal shows the URLs and errors only
