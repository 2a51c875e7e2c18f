"""`kg serve`: a store built by `kg build --store`, read-only over the SPARQL 1.1 protocol,
with the lineage page and a query page beside it.

The queries run here, in worker processes (`kg/worker.py`) that each hold
the store open read-only, never in a server of the engine's own: no
port but this one is open, and every query passes `refuse_remote` (no
SERVICE in its parse tree) before a worker sees it, once it has its turn. A worker that passes the deadline is
killed, so no work outlives its answer (Oxigraph cannot be stopped from
Python), and another takes its place.

How the load is held:
- `--workers` processes answer at once. A query has one of them for its
  first `FAST_SECONDS`; to go on it needs one of the few long-query slots
  (half the workers), else it is stopped with 503, and it runs at a lower
  CPU priority: a flood of heavy queries never takes every worker, so the
  small ones keep getting answered within a second or two.
- A query that ran past `FAST_SECONDS` is remembered for a minute, and so
  is the client (remote address) that sent it: a query with the same text
  (spaces collapsed), or any query from that client, needs a long-query
  slot from the start. So heavy queries sent again and again, the same or
  each new, cost the short queries nothing after the first. One stopped
  at the timeout is refused at once for a minute: on the same store it
  would run as long again.
- A few requests wait for a worker (`QUEUE_SECONDS` at most), served
  fairly between clients: first those of clients answered within
  `FAST_SECONDS` in the last minute ("quick"), then those of the client
  that holds the fewest workers, then the earliest. When the queue is full
  a quick client's request takes the place of the last in that order
  (503 for it), else it is 503 at once, with Retry-After. The last free
  worker is kept for quick clients; one client holds at most all workers
  but one and has at most `MAX_WAITING_PER_CLIENT` requests waiting.
  Clients behind one proxy share an address, and so share their turn.
- Connections are bounded (`MAX_CONNECTIONS`, then 503), the listen
  backlog is long, and a request must arrive whole within
  `--client-timeout` seconds (10) of the connection or of the previous answer: a slow
  client is answered 408 and dropped. A body is bounded (`MAX_QUERY_BYTES`)
  however it is framed; a malformed frame is a 400, never a traceback.

HTTP/1.1 with keep-alive comes from the standard library's server, whose
parsing of request lines and headers is bounded; bodies are read here.
"""

from __future__ import annotations

import functools
import html
import ipaddress
import itertools
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path

from kg.errors import RequestError
from kg.query import PREFIX_IRIS, QUERIES_DIR, QueryError, explain_syntax_error, refuse_remote
from kg.store import hold_store
from kg.worker import GRAPHS, MAX_ANSWER_BYTES, RESULTS

MAX_QUERY_BYTES = 2**20
DRAIN_BYTES = 8 * 2**20  # of a refused body, read and dropped so that the client sees the answer
MAX_CONNECTIONS = 256
MAX_WAITING = 16  # requests waiting for a worker
MAX_WAITING_PER_CLIENT = 4  # of them, from one address
QUEUE_SECONDS = 5.0
FAST_SECONDS = 0.5
LONG_MEMORY_SECONDS = 60.0
LONG_MEMORY_SIZE = 10_000
REQUEST_SECONDS = 10.0  # default of --client-timeout
BACKLOG = 1024
DEFAULT_WORKERS = 4
DEFAULT_WORKER_MEMORY = 4096  # MiB of address space; an idle worker takes about 450 (its RSS is about 30)
WORKER = Path(__file__).with_name("worker.py")
PAGE_TEMPLATE = Path(__file__).parent / "page" / "sparql.html"
SERVICE_DESCRIPTION = """@prefix sd: <http://www.w3.org/ns/sparql-service-description#> .
@prefix formats: <http://www.w3.org/ns/formats/> .
@prefix dcterms: <http://purl.org/dc/terms/> .

[] a sd:Service ;
  dcterms:title "llm-lineage: the knowledge graph of open LLMs (read-only)" ;
  sd:endpoint <{endpoint}> ;
  sd:supportedLanguage sd:SPARQL11Query ;
  sd:resultFormat formats:SPARQL_Results_JSON, formats:SPARQL_Results_XML, formats:SPARQL_Results_CSV,
    formats:SPARQL_Results_TSV, formats:Turtle, formats:N-Triples, formats:RDF_XML, formats:JSON-LD ;
  sd:defaultDataset [ a sd:Dataset ; sd:defaultGraph [ a sd:Graph ] ] .
"""
READ_ONLY = "this endpoint is read-only: it takes no updates"


class Refusal(Exception):
    """An answer other than the query's: status, message, and whether to close the connection after it."""

    def __init__(self, status: int, message: str, close: bool = False, retry: bool = False) -> None:
        super().__init__(message)
        self.status, self.message, self.close, self.retry = status, message, close, retry


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


def serve(
    store: Path, page: Path, bind: str, port: int, timeout: float,
    workers: int = DEFAULT_WORKERS, origins: tuple[str, ...] = (), client_timeout: float = REQUEST_SECONDS,
    worker_memory: int = DEFAULT_WORKER_MEMORY,
) -> None:
    """Serve `store`, `page` and the query page on `bind`:`port` until Ctrl-C or SIGTERM
    (KeyboardInterrupt, raised once the workers are stopped).

    `origins` are the web origins whose pages may read the answers (CORS), `*` for any;
    a client has `client_timeout` seconds to send each request whole; a worker has `worker_memory` MiB.
    Prints where the endpoint and the pages are once the workers are ready.
    Raises RequestError if the store is missing or in use, or the port is taken.
    """
    with hold_store(store):
        pool = Pool(Path(store), workers, timeout, worker_memory)
        try:
            try:
                server = Server((bind, port), Handler)
            except OSError as exc:
                raise RequestError(f"cannot listen on {bind} port {port}: {exc.strerror or exc}", "choose another with --port") from None
            server.setup(pool, Path(page), origins, f"http://{bind}:{server.server_port}", client_timeout)
            # Ctrl-C also when started in the background, where the shell ignores SIGINT; SIGTERM stops cleanly too.
            previous = {stop: signal.signal(stop, _interrupt) for stop in (signal.SIGINT, signal.SIGTERM)}
            try:
                with server:
                    threading.Thread(target=server.watch, daemon=True).start()
                    _say(f"SPARQL endpoint (read-only): {server.base}/query")
                    _say(f"lineage page: {server.base}/" + ("" if Path(page).is_file() else f" (no page yet at {page}: run `kg build`)"))
                    _say(f"query page: {server.base}/sparql")
                    _say(f"store {store}, {workers} workers, queries stopped after {timeout:g} s; Ctrl-C stops")
                    server.serve_forever()
            finally:
                for stop, handler in previous.items():
                    signal.signal(stop, handler)
        finally:
            pool.close()


@functools.lru_cache(maxsize=1024)
def check_query(text: str) -> None:
    """`refuse_remote`, remembered for the texts that pass: parsing takes milliseconds, and clients repeat their queries."""
    refuse_remote(text, "query")


def _interrupt(signum: int, frame) -> None:  # noqa: ANN001
    raise KeyboardInterrupt


def _say(line: str) -> None:
    print(line, flush=True)  # at once, even when stdout is a pipe: a test or a script waits for these lines


# The workers: processes that answer queries, each killed at its deadline.


@dataclass
class Worker:
    process: subprocess.Popen  # kg/worker.py
    connection: Connection
    reniced: bool = False


@dataclass
class Pool:
    """`size` worker processes on the store; `ask` gives each query to one of them."""

    store: Path
    size: int
    timeout: float
    memory: int  # MiB of address space for each worker
    idle: list[Worker] = field(default_factory=list)
    ready: threading.Condition = field(default_factory=threading.Condition)  # an idle worker was added
    # A query's text, spaces collapsed -> until when it counts as long (past FAST_SECONDS), as too long (past the timeout).
    long_ago: dict[str, float] = field(default_factory=dict)
    too_long: dict[str, float] = field(default_factory=dict)
    heavy_clients: dict[str, float] = field(default_factory=dict)  # a client's address -> until when its queries count as long
    fast_clients: dict[str, float] = field(default_factory=dict)  # a client's address -> until when it goes first in the queue

    def __post_init__(self) -> None:
        self.turns = threading.Condition()  # guards free, holding and waiting
        self.free = self.size  # workers no query holds
        self.holding: dict[str, int] = {}  # client (remote address) -> workers its queries hold
        # (arrival, client, 0 if the client's queries were answered quickly of late else 1) of the requests waiting for a worker
        self.waiting: list[tuple[int, str, int]] = []
        self.pushed_out: set[tuple[int, str, int]] = set()  # waiting requests a better-ranked one took the place of
        self.arrivals = itertools.count()
        self.per_client = max(1, self.size - 1)  # one worker is always left to the other clients
        self.long = threading.BoundedSemaphore(max(1, self.size // 2))
        self.killed: queue.SimpleQueue[Worker] = queue.SimpleQueue()
        self.idle = [self._start() for _ in range(self.size)]
        for worker in self.idle:  # each says once it has opened the store
            try:
                opened = worker.connection.poll(60) and worker.connection.recv() == "ready"
            except (EOFError, OSError):  # it died: no memory to open the store in, say
                opened = False
            if not opened:
                self.close()
                raise RequestError(f"the query workers could not open the store {self.store}", f"check it with `kg query --store {self.store}`, or give more --worker-memory than {self.memory}")
        for _ in range(self.size):  # so that workers killed together are replaced together
            threading.Thread(target=self._replace, daemon=True).start()

    def ask(self, text: str, formats: tuple[str | None, str | None], client: str = "") -> tuple[str, bytes]:
        """The answer to `text` (media type, bytes) in the first of `formats` (results, graph) that fits its form,
        for `client` (its remote address).

        Raises Refusal: 503 when every worker is taken, or past the time bound; 400 for a bad query.
        """
        shape = " ".join(text.split())
        if self._recalls(self.too_long, shape):  # the same query on the same store: it would run as long again
            raise Refusal(503, f"this query was stopped after {self.timeout:g} s less than a minute ago, and would be again: narrow the query (add LIMIT, or bind a variable)")
        long = self._recalls(self.long_ago, shape) or self._recalls(self.heavy_clients, client)
        if long:  # it needs a long slot from the start: it never takes a worker from the queue of short ones
            self._enter_long(client)
        elif not self._enter(client, wait=True):
            raise Refusal(503, f"busy: {self.size} queries are running and {len(self.waiting)} waiting; try again in a moment", retry=True)
        elif self._recalls(self.heavy_clients, client):  # it ran long meanwhile: this one waited in the short queue
            self._leave(client)
            self._enter_long(client)
            long = True
        try:
            check_query(text)  # here, once admitted: a request refused as busy costs no parse
            started = time.monotonic()
            worker = self._take()
            try:
                worker.connection.send((text, formats))
            except OSError:  # it died while idle (killed from outside, or for memory)
                self._discard(worker)
                raise Refusal(503, "the query engine stopped without an answer; try again in a moment", retry=True) from None
            if not long:
                if worker.connection.poll(FAST_SECONDS):
                    self._remember(self.fast_clients, client)
                    return self._reply(worker)
                self._remember(self.long_ago, shape)
                self._remember(self.heavy_clients, client)
                self._forget(self.fast_clients, client)
                if not self.long.acquire(blocking=False):
                    self._discard(worker)
                    raise Refusal(503, f"busy: every slot for queries of more than {FAST_SECONDS:g} s is taken; try again later", retry=True)
                long = True
            # Below the newer queries on the CPU, so that a heavy query never slows the small ones much.
            os.setpriority(os.PRIO_PROCESS, worker.process.pid, 10)
            worker.reniced = True
            if worker.connection.poll(max(self.timeout - (time.monotonic() - started), 0)):
                return self._reply(worker)
            self._discard(worker)
            self._remember(self.too_long, shape)
            raise Refusal(503, f"stopped after {self.timeout:g} s without an answer: narrow the query (add LIMIT, or bind a variable)")
        finally:
            if long:
                self.long.release()
            self._leave(client)

    def _forget(self, memory: dict[str, float], key: str) -> None:
        with self.ready:
            memory.pop(key, None)

    def _enter_long(self, client: str) -> None:
        """Take a long-query slot and a worker's at once, for a query or a client known to run long; else Refusal (503)."""
        if not self.long.acquire(blocking=False):
            raise Refusal(503, f"busy: this query, or another from {client or 'you'}, ran for more than {FAST_SECONDS:g} s lately "
                          "and every slot for such queries is taken; try again later", retry=True)
        if not self._enter(client, wait=False):
            self.long.release()
            raise Refusal(503, f"busy: {self.size} queries are running; try again in a moment", retry=True)

    def _recalls(self, memory: dict[str, float], shape: str) -> bool:
        with self.ready:
            return memory.get(shape, 0) > time.monotonic()

    def _remember(self, memory: dict[str, float], shape: str) -> None:
        """Keep `shape` in `memory` for LONG_MEMORY_SECONDS (of at most LONG_MEMORY_SIZE shapes, the expired dropped first)."""
        now = time.monotonic()
        with self.ready:
            if len(memory) >= LONG_MEMORY_SIZE:
                for key in [key for key, until in memory.items() if until <= now]:
                    del memory[key]
            if len(memory) < LONG_MEMORY_SIZE:
                memory[shape] = now + LONG_MEMORY_SECONDS

    def _enter(self, client: str, wait: bool) -> bool:
        """Give `client` a worker's slot when its turn comes (within QUEUE_SECONDS if `wait`, else only at once).

        False when none came, when MAX_WAITING_PER_CLIENT of this client's requests already wait, or when
        MAX_WAITING wait and none ranks below this one (else the lowest is pushed out: it gets 503).
        """
        with self.turns:
            ticket = (next(self.arrivals), client, 0 if self._recalls(self.fast_clients, client) else 1)
            if sum(other[1] == client for other in self.waiting) >= MAX_WAITING_PER_CLIENT:
                return False
            if len(self.waiting) >= MAX_WAITING:
                lowest = max(self.waiting, key=self._rank)
                if not wait or self._rank(ticket) >= self._rank(lowest):  # a request that will not wait pushes no one out
                    return False
                self.waiting.remove(lowest)
                self.pushed_out.add(lowest)
            self.waiting.append(ticket)
            try:
                served = self.turns.wait_for(lambda: ticket in self.pushed_out or self._next() == ticket, timeout=QUEUE_SECONDS if wait else 0)
                if not served or ticket in self.pushed_out:
                    return False
                self.free -= 1
                self.holding[client] = self.holding.get(client, 0) + 1
                return True
            finally:
                if ticket in self.pushed_out:
                    self.pushed_out.discard(ticket)
                else:
                    self.waiting.remove(ticket)
                self.turns.notify_all()

    def _rank(self, ticket: tuple[int, str, int]) -> tuple[int, int, int]:
        """Lower goes first: a client whose queries were answered quickly of late, then the fewest workers held, then the earliest."""
        arrival, client, unknown = ticket
        return (unknown, self.holding.get(client, 0), arrival)

    def _next(self) -> tuple[int, str, int] | None:
        """The waiting request that takes the next free worker, the first by `_rank`; a client never holds
        more than `per_client`, and the last free worker is kept for the clients answered quickly of late
        (when there are two workers or more). None when no worker is free for any."""
        if self.free == 0:
            return None
        kept = 1 if self.size > 1 else 0
        allowed = [ticket for ticket in self.waiting
                   if self.holding.get(ticket[1], 0) < self.per_client and (ticket[2] == 0 or self.free > kept)]
        return min(allowed, key=self._rank, default=None)

    def _leave(self, client: str) -> None:
        with self.turns:
            self.free += 1
            self.holding[client] -= 1
            if not self.holding[client]:
                del self.holding[client]
            self.turns.notify_all()

    def _take(self) -> Worker:
        """An idle worker; there is one for every slot, but the replacement of a killed one may still be starting."""
        with self.ready:
            while True:
                if not self.ready.wait_for(lambda: self.idle, timeout=60):
                    raise Refusal(503, "no query worker could be started: see the server's terminal", retry=True)
                worker = self.idle.pop()
                if worker.process.poll() is None:
                    return worker
                self._discard(worker)  # it died while idle (killed from outside, say)

    def _reply(self, worker: Worker) -> tuple[str, bytes]:
        try:
            outcome, payload = worker.connection.recv()
        except (EOFError, OSError):
            self._discard(worker)
            raise Refusal(503, "the query engine stopped without an answer: the query may need more memory than a worker has (see --worker-memory)") from None
        if worker.reniced:  # a process's priority can be lowered but not raised again
            self._discard(worker)
        else:
            with self.ready:
                self.idle.append(worker)
                self.ready.notify()
        if outcome == "ok":
            return payload
        if outcome == "syntax":
            raise Refusal(400, str(explain_syntax_error(payload, "query")))
        if outcome == "too-big":
            raise Refusal(503, f"the answer passed {MAX_ANSWER_BYTES // 2**20} MiB: narrow the query or add LIMIT")
        if outcome == "not-acceptable":
            kinds = ", ".join(RESULTS if payload == "results" else GRAPHS)
            raise Refusal(406, f"this query's answer comes as one of: {kinds}; none is in the Accept header")
        raise Refusal(400, f"the query failed: {payload}")

    def _start(self) -> Worker:
        mine, theirs = socket.socketpair()
        with theirs:
            process = subprocess.Popen(
                [sys.executable, "-P", str(WORKER), str(theirs.fileno()), str(self.store), json.dumps(PREFIX_IRIS), str(self.memory * 2**20)],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        return Worker(process, Connection(mine.detach()))

    def _discard(self, worker: Worker) -> None:
        """Kill `worker` (its query may still run); the replacer starts another in its place."""
        worker.process.kill()
        worker.connection.close()
        self.killed.put(worker)

    def _replace(self) -> None:
        """Start a worker for each one killed, for as long as the server runs. These threads live as long as the
        server: a worker is stopped by the kernel when the thread that started it ends."""
        while True:
            self.killed.get().process.wait()
            fresh = self._start()
            try:
                opened = fresh.connection.poll(60) and fresh.connection.recv() == "ready"
            except (EOFError, OSError):
                opened = False
            if opened:
                with self.ready:
                    self.idle.append(fresh)
                    self.ready.notify()
            else:
                print(f"kg serve: a query worker could not open the store {self.store}", file=sys.stderr, flush=True)

    def close(self) -> None:
        with self.ready:
            workers, self.idle = self.idle, []
        for worker in workers:
            worker.process.kill()
            worker.process.wait()


# HTTP.


def negotiate(accept: str | None) -> tuple[str | None, str | None]:
    """The media types to answer in, for results (SELECT, ASK) and for graphs (CONSTRUCT, DESCRIBE), from an Accept header."""
    if not accept:
        return "application/sparql-results+json", "text/turtle"
    ranked = []
    for order, item in enumerate(accept.split(",")):
        kind, *parameters = [part.strip() for part in item.split(";")]
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, order, kind.lower()))
    wanted = [kind for _, _, kind in sorted(ranked)]
    return _first(wanted, RESULTS, "application/sparql-results+json"), _first(wanted, GRAPHS, "text/turtle")


def _first(wanted: list[str], known: dict[str, str], default: str) -> str | None:
    for kind in wanted:
        if kind in known:
            return kind
        if kind in ("*/*", f"{default.partition('/')[0]}/*"):
            return default
    return None


class Server(ThreadingHTTPServer):
    """The standard threading server with a long backlog, bounded connections and a watch on slow clients."""

    request_queue_size = BACKLOG
    daemon_threads = True

    def setup(self, pool: Pool, page: Path, origins: tuple[str, ...], base: str, client_timeout: float) -> None:  # noqa: D102
        self.pool, self.page, self.origins, self.base, self.client_timeout = pool, page, origins, base, client_timeout
        self.sparql_page = render_query_page()
        self.deadlines: dict[Handler, tuple[float, bool] | None] = {}  # (when, whether still reading the request)
        self.watch_lock = threading.Lock()

    def process_request(self, request: socket.socket, client_address) -> None:  # noqa: ANN001
        with self.watch_lock:
            full = len(self.deadlines) >= MAX_CONNECTIONS
        if full:
            _refuse_raw(request, 503, "busy: too many connections; try again in a moment")
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def watch(self) -> None:
        """Answer 408 to, and drop, every connection whose request has not arrived whole by its deadline."""
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            with self.watch_lock:
                late = [(handler, deadline[1]) for handler, deadline in self.deadlines.items() if deadline is not None and deadline[0] < now]
                for handler, _ in late:
                    self.deadlines[handler] = None
            for handler, reading in late:
                if reading:
                    _refuse_raw(handler.connection, 408, f"the request did not arrive whole within {self.client_timeout:g} s")
                try:
                    handler.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        error = sys.exc_info()[1]
        if isinstance(error, (OSError, ValueError)):
            return  # a client that went away, or was dropped as too slow: nothing to say
        print(f"kg serve: internal error on a request from {client_address[0]}: {type(error).__name__}: {error}", file=sys.stderr, flush=True)


def _refuse_raw(connection: socket.socket, status: int, message: str) -> None:
    """Send a whole small answer without blocking: for a connection no handler answers."""
    body = (message + "\n").encode()
    reason = {408: "Request Timeout", 503: "Service Unavailable"}[status]
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    try:
        connection.setblocking(False)
        connection.send(head.encode() + body)
    except OSError:
        pass


class Handler(BaseHTTPRequestHandler):
    """/query (the SPARQL protocol), / and /lineage.html (the lineage page), /sparql (the query page)."""

    server: Server
    protocol_version = "HTTP/1.1"
    server_version = "llm-lineage"
    disable_nagle_algorithm = True  # else on a kept-alive connection each answer waits for the client's delayed ACK (40 ms)
    def setup(self) -> None:
        # Of each read and write, so that a client that stops reading is dropped; longer than the deadline
        # of a request, so that the watch (which answers 408) comes first.
        self.timeout = 2 * self.server.client_timeout + 1
        super().setup()
        self._deadline(self.server.client_timeout, reading=False)

    def finish(self) -> None:
        with self.server.watch_lock:
            self.server.deadlines.pop(self, None)
        try:
            super().finish()
        except OSError:
            pass

    def _deadline(self, seconds: float | None, reading: bool = True) -> None:
        with self.server.watch_lock:
            self.server.deadlines[self] = None if seconds is None else (time.monotonic() + seconds, reading)

    def handle_one_request(self) -> None:
        """Wait for a request (an idle connection is closed quietly at the deadline), then read and answer it
        (a request not whole by the deadline is answered 408)."""
        try:
            started = self.rfile.peek(1)
        except OSError:
            started = b""
        if not started:
            self.close_connection = True
            return
        self._deadline(self.server.client_timeout)
        super().handle_one_request()
        self._deadline(self.server.client_timeout, reading=False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(self._get)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(self._get, head=True)

    def do_POST(self) -> None:  # noqa: N802
        self._answer(self._post)

    def do_OPTIONS(self) -> None:  # noqa: N802
        self._answer(self._options)

    def do_PUT(self) -> None:  # noqa: N802
        self._answer(self._write)

    do_DELETE = do_PATCH = do_PUT

    def _answer(self, respond, head: bool = False) -> None:  # noqa: ANN001
        """Run `respond` (-> status, media type, body, headers) and send what it gives, or the refusal it raises."""
        try:
            status, kind, body, headers = respond()
        except Refusal as refusal:
            self.close_connection = self.close_connection or refusal.close
            status, kind, body = refusal.status, "text/plain; charset=utf-8", (refusal.message + "\n").encode()
            headers = {"Retry-After": "1"} if refusal.retry else {}
        except QueryError as exc:
            status, kind, body, headers = 400, "text/plain; charset=utf-8", (str(exc) + "\n").encode(), {}
        self._deadline(self.server.client_timeout + 60, reading=False)  # sending: a reader of a big answer on a slow link gets a minute
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
        for name, value in {**headers, **self._cors()}.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _get(self) -> tuple[int, str, bytes, dict]:
        path, _, query = self.path.partition("?")
        if path in ("/", "/lineage.html"):
            try:
                return 200, "text/html; charset=utf-8", self.server.page.read_bytes(), {}
            except OSError:
                raise Refusal(404, f"no lineage page at {self.server.page}: run `kg build`") from None
        if path == "/sparql":
            return 200, "text/html; charset=utf-8", self.server.sparql_page, {}
        if path != "/query":
            raise Refusal(404, f"nothing at {path}: the endpoint is /query, the lineage page /, the query page /sparql")
        self._body()  # a GET with a body: read it, so that the next request on the connection starts where it should
        fields = _fields(query)
        if "query" not in fields:
            description = SERVICE_DESCRIPTION.format(endpoint=f"{self.server.base}/query").encode()
            return 200, "text/turtle; charset=utf-8", description, {"Vary": "Accept, Origin"}
        return self._query(fields)

    def _post(self) -> tuple[int, str, bytes, dict]:
        path, _, query = self.path.partition("?")
        body = self._body()
        if path != "/query":
            raise Refusal(403 if path in ("/update", "/store") else 404, READ_ONLY)
        kind = self.headers.get_content_type()
        if kind == "application/sparql-query":
            fields = {**_fields(query), "query": [_text(body)]}
        elif kind == "application/x-www-form-urlencoded":
            fields = {**_fields(query), **_fields(_text(body))}
        else:
            raise Refusal(415, "send the query as application/sparql-query or as a form field 'query'; " + READ_ONLY)
        if "update" in fields:
            raise Refusal(403, READ_ONLY)
        if "query" not in fields:
            raise Refusal(400, "no query: pass it as the form field 'query'")
        return self._query(fields)

    def _options(self) -> tuple[int, str, bytes, dict]:
        self._body()
        headers = {"Allow": "GET, HEAD, POST, OPTIONS"}
        if self._cors():
            headers.update({"Access-Control-Allow-Methods": "GET, HEAD, POST, OPTIONS", "Access-Control-Allow-Headers": "Accept, Content-Type", "Access-Control-Max-Age": "600"})
        return 204, "text/plain", b"", headers

    def _write(self) -> tuple[int, str, bytes, dict]:
        self._body()
        raise Refusal(403, READ_ONLY)

    def _query(self, fields: dict[str, list[str]]) -> tuple[int, str, bytes, dict]:
        if len(fields["query"]) != 1:
            raise Refusal(400, "give one query, not several")
        if "default-graph-uri" in fields or "named-graph-uri" in fields:
            raise Refusal(400, "default-graph-uri and named-graph-uri are not supported: the endpoint answers from its one default graph")
        text = fields["query"][0]
        self._deadline(None)  # the pool bounds the time from here
        kind, body = self.server.pool.ask(text, negotiate(self.headers.get("Accept")), self.client_address[0])
        charset = "; charset=utf-8" if kind.startswith("text/") or kind.endswith(("json", "xml")) else ""
        return 200, kind + charset, body, {"Vary": "Accept, Origin"}

    def _body(self) -> bytes:
        """The request's body, whatever its framing, at most MAX_QUERY_BYTES; Refusal for a bad or too big one."""
        lengths = self.headers.get_all("Content-Length") or []
        coding = self.headers.get("Transfer-Encoding")
        if coding is not None:
            if lengths:
                raise Refusal(400, "a request with both Content-Length and Transfer-Encoding is refused", close=True)
            if coding.strip().lower() != "chunked":
                raise Refusal(501, f"Transfer-Encoding '{coding}' is not supported: send the body as it is, or chunked", close=True)
            return self._chunked()
        if not lengths:
            return b""
        if len(set(lengths)) != 1 or not re.fullmatch(r"[0-9]{1,18}", lengths[0].strip()):
            raise Refusal(400, f"Content-Length '{', '.join(lengths)}' is not a length in bytes", close=True)
        length = int(lengths[0])
        if length > MAX_QUERY_BYTES:
            if length <= DRAIN_BYTES:
                self._drain(length)
            raise Refusal(413, f"a query of more than {MAX_QUERY_BYTES // 2**10} KiB is refused", close=True)
        body = self.rfile.read(length)
        if len(body) < length:
            raise ConnectionResetError  # the client went away: nothing to answer
        return body

    def _chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            size = line.split(b";")[0].strip()
            if not line.endswith(b"\n") or not re.fullmatch(rb"[0-9A-Fa-f]{1,8}", size):
                raise Refusal(400, "a malformed chunk in the request's body", close=True)
            size = int(size, 16)
            if size == 0:
                break
            if len(body) + size > MAX_QUERY_BYTES:
                raise Refusal(413, f"a query of more than {MAX_QUERY_BYTES // 2**10} KiB is refused", close=True)
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise ConnectionResetError
            body += chunk
            if self.rfile.readline(3).strip():
                raise Refusal(400, "a malformed chunk in the request's body", close=True)
        for _ in range(100):  # trailers, ignored
            if self.rfile.readline(8192).strip() == b"":
                break
        return bytes(body)

    def _drain(self, length: int) -> None:
        """Read and drop a refused body, so that the client, still sending it, sees the refusal."""
        left = length
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk:
                return
            left -= len(chunk)

    def _cors(self) -> dict[str, str]:
        origin = self.headers.get("Origin")
        allowed = self.server.origins
        if origin is None or not allowed or ("*" not in allowed and origin not in allowed):
            return {}
        return {"Access-Control-Allow-Origin": "*" if "*" in allowed else origin, "Vary": "Accept, Origin"}

    def log_message(self, format: str, *args) -> None:  # noqa: A002, ANN002
        pass  # quiet: the terminal shows the URLs and errors only


def _fields(text: str) -> dict[str, list[str]]:
    try:
        return urllib.parse.parse_qs(text, keep_blank_values=True, errors="strict", max_num_fields=100)
    except (ValueError, UnicodeDecodeError):
        raise Refusal(400, "the form is not valid UTF-8 or has too many fields") from None


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, "the query is not UTF-8") from None


def render_query_page() -> bytes:
    """The query page: an editor and the shipped queries as examples, all inline, so that it works offline."""
    examples = [{"name": path.stem, "text": path.read_text(encoding="utf-8")} for path in sorted(QUERIES_DIR.glob("*.rq"))]
    data = json.dumps(examples, ensure_ascii=True).replace("</", "<\\/")
    page = PAGE_TEMPLATE.read_text(encoding="utf-8").replace("/*EXAMPLES*/[]", data)
    return page.replace("<!--PREFIXES-->", html.escape(", ".join(PREFIX_IRIS))).encode("utf-8")
