"""The cost of the SERVICE check (rdflib's SPARQL parser) on the shipped queries and on large queries.

Prints, for each, its size and the median time of `refuse_remote` over a few runs,
and the time Oxigraph takes to answer the shipped queries on the bundled catalog's
store, to compare.

    .venv/bin/python benchmarks/query_check.py
"""

from __future__ import annotations

import statistics

import kg
from hostile_input import median_seconds
from kg.query import QUERIES_DIR, refuse_remote, run_query, to_store


def main() -> None:
    shipped = [path.read_text(encoding="utf-8") for path in sorted(QUERIES_DIR.glob("*.rq"))]
    check = [median_seconds(lambda text=text: refuse_remote(text, "query")) for text in shipped]
    store = to_store(kg.load().rdf)
    answer = [median_seconds(lambda text=text: run_query(store, text), runs=3) for text in shipped]
    print(f"shipped queries: {len(shipped)}, {statistics.median(len(t) for t in shipped)} characters (median)")
    print(f"  check: median {statistics.median(check) * 1000:.1f} ms, largest {max(check) * 1000:.1f} ms")
    print(f"  answer (run_query, with its fork): median {statistics.median(answer) * 1000:.1f} ms")
    for size in (2_000, 10_000, 19_900):  # characters; the bound is MAX_CHECKED_CHARS (20,000)
        values = " ".join(f'"{n}"' for n in range(size))[: size - 50].rpartition(" ")[0]
        text = "SELECT * WHERE { VALUES ?x { " + values + " } ?x ?p ?o }"
        seconds = median_seconds(lambda text=text: refuse_remote(text, "query"), runs=3)
        print(f"a VALUES list of {len(text):,} characters: check {seconds * 1000:.0f} ms ({len(text) / seconds / 1e6:.2f} MB/s)")


if __name__ == "__main__":
    main()
