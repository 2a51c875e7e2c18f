"""Triples per imported record of a Hub-shaped dump, before and after provenance per record (issue 24).

Builds the bundled catalog with the dump of `hub_dump.py` (10,000 models and
their datasets, seed 1) in process and counts what the imported records add
to the export: the default graph's triples (entities, their accepted values
and lineage, shared policies, one node per source record) and, where the
code writes them, the named graphs' quads (each record's claims, kg.nq).
The catalog's own triples are left out. Run it on a checkout of the code
before the change to get the "before" row:

    .venv/bin/python benchmarks/provenance_triples.py           # 10,000 models
    .venv/bin/python benchmarks/provenance_triples.py 100000
    PYTHONPATH=/path/to/older/checkout .venv/bin/python benchmarks/provenance_triples.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from hub_dump import write_dump

from kg.build import Build, build
from kg.stream import graph_blocks


def count(models: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        dump = write_dump(models, 1, Path(folder) / "hub.jsonl")
        result = build(None, [("huggingface", dump)])
    catalog = sum(len(pairs) for _, pairs in graph_blocks(result.rdf))
    default = sum(len(pairs) for _, pairs in result.blocks()) - catalog
    named = sum(len(pairs) for _, _, pairs in result.quads()) if hasattr(Build, "quads") else 0
    records = len(result.merged.records)
    policies = sum(1 for subject, _ in result.blocks() if "/id/terms/" in subject and "-" not in subject.rpartition("/")[2])
    return {"records": records, "default": default, "named": named, "policies": policies,
            "default per record": default / records, "named per record": named / records, "all per record": (default + named) / records}


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000]
    for models in sizes:
        found = count(models)
        print(f"{models:,} models ({found['records']:,} records): default graph {found['default']:,} triples "
              f"({found['default per record']:.1f} a record), named graphs {found['named']:,} quads ({found['named per record']:.1f} a record), "
              f"together {found['all per record']:.1f} a record; {found['policies']:,} shared policies")


if __name__ == "__main__":
    main()
