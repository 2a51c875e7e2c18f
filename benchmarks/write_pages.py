"""Writing a large export: plain writes into the page cache against kg.stream.SyncedFile (synced and handed
back every SYNC_BYTES), the same bytes, a new file each run, runs alternating; the seconds include the
final fsync that both writers of `kg build` do. Each run is its own process, so neither inherits the
other's memory.

    .venv/bin/python benchmarks/write_pages.py            # 4 GB, 3 runs of each
    .venv/bin/python benchmarks/write_pages.py 8 5        # 8 GB, 5 runs of each
    KG_BENCH_DIR=/data .venv/bin/python benchmarks/write_pages.py   # on another disk
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import os, sys, time
sys.path.insert(0, sys.argv[4])
from kg.stream import open_output
how, size, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# 64 MB of N-Triples-like lines, written again and again in 4 MB writes (the writers' batches are a few MB).
line = b"<https://w3id.org/llm-lineage/id/model/huggingface-org-%07d> <http://www.w3.org/2000/01/rdf-schema#label> \"name\"@en .\n"
block = b"".join(line % i for i in range((64 << 20) // len(line % 0)))
started = time.perf_counter()
with (open(path, "xb") if how == "plain" else open_output(path)) as out:
    written = 0
    while written < size:
        for at in range(0, len(block), 4 << 20):
            written += out.write(block[at:at + (4 << 20)])
    out.flush()
    os.fsync(out.fileno())
print(time.perf_counter() - started)
"""


def run(how: str, size: int, folder: Path) -> float:
    path = folder / f"{how}.nt"
    try:
        answer = subprocess.run([sys.executable, "-c", CHILD, how, str(size), str(path), str(ROOT)], capture_output=True, text=True, check=True)
    finally:
        path.unlink(missing_ok=True)
    return float(answer.stdout)


def main(argv: list[str]) -> None:
    if "--help" in argv or "-h" in argv:
        sys.exit(__doc__)
    gigabytes = float(argv[0]) if argv else 4.0
    runs = int(argv[1]) if len(argv) > 1 else 3
    size = int(gigabytes * (1 << 30))
    times: dict[str, list[float]] = {"plain": [], "synced": []}
    with tempfile.TemporaryDirectory(dir=os.environ.get("KG_BENCH_DIR")) as folder:
        for _ in range(runs):
            for how in times:
                times[how].append(run(how, size, Path(folder)))
    plain, synced = (statistics.median(times[how]) for how in times)
    print(f"| writer | {gigabytes:g} GB, seconds (median of {runs}) | runs |\n| --- | ---: | --- |")
    for how, label in (("plain", "plain `open(path, 'xb')`"), ("synced", "`kg.stream.open_output` (SyncedFile)")):
        print(f"| {label} | {statistics.median(times[how]):.1f} | {', '.join(f'{t:.1f}' for t in times[how])} |")
    print(f"synced / plain: {synced / plain:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
