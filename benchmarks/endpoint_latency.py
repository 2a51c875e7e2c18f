"""The latency of a small query through `kg serve`, for two checkouts (this one, and another such as main).

For each checkout: `kg build --store` of the bundled catalog, then `kg serve`
on it (that checkout's own Python and code), the time until it prints its
URLs, and the time of a small SELECT (one label) asked many times in a row:

- a new connection for each query (urllib, as a script does it),
- one kept-alive connection for all (http.client, as SPARQLWrapper's pooled
  clients and browsers do it; where the server closes the connection after
  each answer, http.client opens a new one).

Prints the medians and 90th percentiles in ms, and their ratios.

    .venv/bin/python benchmarks/endpoint_latency.py ../main-checkout             # this checkout against main
    .venv/bin/python benchmarks/endpoint_latency.py ../main-checkout --runs 500
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL = "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> SELECT ?name WHERE { <https://w3id.org/llm-lineage/id/model/llama-7b> rdfs:label ?name }"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def measure(checkout: Path, folder: Path, runs: int) -> dict[str, float]:
    python = str(checkout / ".venv" / "bin" / "python")
    out = folder / "build"
    subprocess.run([python, "-m", "kg.cli", "build", "--out", str(out), "--store", str(out / "store")], cwd=checkout, check=True, capture_output=True)
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen([python, "-m", "kg.cli", "serve", "--store", str(out / "store"), "--port", str(port)],
                              cwd=checkout, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        while "Ctrl-C stops" not in server.stdout.readline():
            pass
        figures = {"ready s": time.perf_counter() - started}
        body = urllib.parse.urlencode({"query": SMALL}).encode()
        headers = {"Accept": "application/sparql-results+json", "Content-Type": "application/x-www-form-urlencoded"}
        for _ in range(10):  # warm up
            urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/query", data=body, headers=headers), timeout=60).read()
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/query", data=body, headers=headers), timeout=60) as response:
                assert json.load(response)["results"]["bindings"]
            times.append(time.perf_counter() - began)
        figures["new connection median ms"] = statistics.median(times) * 1000
        figures["new connection p90 ms"] = statistics.quantiles(times, n=10)[-1] * 1000
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            connection.request("POST", "/query", body=body, headers=headers)
            response = connection.getresponse()
            assert json.loads(response.read())["results"]["bindings"]
            if response.will_close:
                connection.close()
            times.append(time.perf_counter() - began)
        figures["kept-alive median ms"] = statistics.median(times) * 1000
        figures["kept-alive p90 ms"] = statistics.quantiles(times, n=10)[-1] * 1000
        return figures
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="another checkout with its own .venv (e.g. ../main-checkout, a clone of main)")
    parser.add_argument("--runs", type=int, default=300, help="queries per way of asking (default: 300)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        ours = measure(ROOT, Path(folder) / "ours", args.runs)
        theirs = measure(args.other.resolve(), Path(folder) / "theirs", args.runs)
    print(f"| figure | {args.other} | this checkout | ratio |")
    print("|---|---:|---:|---:|")
    for name in ours:
        print(f"| {name} | {theirs[name]:.2f} | {ours[name]:.2f} | {ours[name] / theirs[name]:.2f} |")


if __name__ == "__main__":
    main()
