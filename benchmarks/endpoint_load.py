"""`kg serve` under load: small queries answered while heavy queries and slow clients hit it.

On the bundled catalog's store (`kg serve --timeout 2 --client-timeout 1`):
HEAVY clients each send a cross join (a COUNT over three unconstrained
patterns, pure work for the engine) again and again, waiting a quarter of
the Retry-After after each 503; SLOW clients each send half a request a byte
at a time and then nothing; one client asks a small SELECT again and again
for SECONDS. With --distinct, every heavy request is a new text (a number in
a comment), so that the server cannot know it from an earlier one. The
small client comes from 127.0.0.1, the heavy ones from ADDRESSES other
loopback addresses (127.0.1.1, 127.0.1.2, ...), or from 127.0.0.1 too
with --addresses 0 (then the server cannot tell them apart).

Prints how many small queries were answered, their median, 90th percentile
and largest latency, what the heavy and slow clients got, and the largest
number of worker processes seen.

    .venv/bin/python benchmarks/endpoint_load.py
    .venv/bin/python benchmarks/endpoint_load.py --distinct
    .venv/bin/python benchmarks/endpoint_load.py --distinct --addresses 50
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CROSS_JOIN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
SMALL = "SELECT ?name WHERE { model:llama-7b rdfs:label ?name }"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post(port: int, query: str, source: str = "127.0.0.1") -> int:
    """Send `query` from the loopback address `source`; the status of the answer, 0 when none came."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(source, 0))
    try:
        connection.request("POST", "/query", urllib.parse.urlencode({"query": query}),
                           {"Accept": "application/sparql-results+json", "Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        body = response.read()
        if response.status == 200:
            json.loads(body)
        return response.status
    except (OSError, http.client.HTTPException, ValueError):
        return 0  # no answer within the minute, or the connection dropped
    finally:
        connection.close()


def children(pid: int) -> int:
    count = 0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            count += len((task / "children").read_text().split())
        except OSError:
            pass  # a thread that ended meanwhile
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heavy", type=int, default=50)
    parser.add_argument("--slow", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--distinct", action="store_true", help="a new text for every heavy request")
    parser.add_argument("--addresses", type=int, default=1, help="how many loopback addresses the heavy clients come from (0: the small client's)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "build"
        subprocess.run([sys.executable, "-m", "kg", "build", "--out", str(out), "--store", str(out / "store")], cwd=ROOT, check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "kg", "serve", "--store", str(out / "store"), "--port", str(port), "--timeout", "2", "--client-timeout", "1"],
                                  cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while "Ctrl-C stops" not in server.stdout.readline():
            pass
        stop = threading.Event()
        numbers = itertools.count()
        heavy: list[int] = []
        slow: list[bytes] = []

        def hammer(source: str) -> None:
            while not stop.is_set():
                status = post(port, f"{CROSS_JOIN} # {next(numbers)}" if args.distinct else CROSS_JOIN, source)
                heavy.append(status)
                if status == 503:
                    time.sleep(0.25)

        def dribble() -> None:
            while not stop.is_set():
                with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
                    try:
                        for byte in b"POST /query HTTP/1.1\r\nHost: x\r\n":
                            connection.sendall(bytes([byte]))
                            time.sleep(0.02)
                        slow.append(connection.recv(100))
                    except OSError:
                        slow.append(b"")

        sources = [f"127.0.1.{n % args.addresses + 1}" if args.addresses else "127.0.0.1" for n in range(args.heavy)]
        threads = [threading.Thread(target=hammer, args=(source,)) for source in sources] + [threading.Thread(target=dribble) for _ in range(args.slow)]
        for thread in threads:
            thread.start()
        time.sleep(1)
        latencies, statuses, workers = [], [], 0
        finish = time.monotonic() + args.seconds
        while time.monotonic() < finish:
            began = time.monotonic()
            statuses.append(post(port, SMALL))
            latencies.append(time.monotonic() - began)
            workers = max(workers, children(server.pid))
        stop.set()
        for thread in threads:
            thread.join()
        server.terminate()
        _, err = server.communicate(timeout=30)
    ms = sorted(latency * 1000 for latency in latencies)
    origin = f"{args.addresses} other address(es)" if args.addresses else "the small client's address"
    print(f"heavy clients {args.heavy}{' (a new text each time)' if args.distinct else ''} from {origin}, slow clients {args.slow}, {args.seconds:g} s")
    print(f"small queries: {len(statuses)}, answered {statuses.count(200)} ({statuses.count(200) / len(statuses):.0%}), "
          f"median {statistics.median(ms):.1f} ms, p90 {statistics.quantiles(ms, n=10)[-1]:.1f} ms, max {ms[-1]:.0f} ms")
    print(f"heavy requests: {len(heavy)}, answered 503: {heavy.count(503)}, no answer: {heavy.count(0)}, other: {len(heavy) - heavy.count(503) - heavy.count(0)}")
    print(f"small queries with no answer: {statuses.count(0)}")
    print(f"slow requests: {len(slow)}, answered 408: {sum(a.startswith(b'HTTP/1.1 408') for a in slow)}")
    print(f"worker processes at most: {workers}; server's stderr: {err!r}")


if __name__ == "__main__":
    main()
