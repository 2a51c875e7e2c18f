"""What the hostile-input checks of issue 26 cost, and what they save.

- `iri` (kg.stream) on Hub URLs, against the narrower escaping it replaced
  (kept here only as the reference to compare with);
- an alias bomb in a model card: refused before it expands (before: the
  build hung, memory growing);
- the bound on a YAML document's values, on a large alias-free document read
  the way the Ecosystem Graphs reader reads it (yaml.compose before, compose_yaml now).

    .venv/bin/python benchmarks/hostile_input.py
"""

from __future__ import annotations

import re
import statistics
import time

import yaml

from kg.sources import compose_yaml
from kg.stream import iri

RUNS = 5
PREVIOUS = re.compile(r'[\x00-\x20<>"{}|^`\\]')  # the escaping before issue 26: spaces, quotes and brackets only


def previous_iri(text: str) -> str:
    if PREVIOUS.search(text):
        text = PREVIOUS.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), text)
    return f"<{text}>"


def median_seconds(work, runs: int = RUNS) -> float:  # noqa: ANN001
    """The median wall time of `runs` calls of `work` (also used by query_check.py)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    urls = [f"https://huggingface.co/org{i % 977}/model-{i}-7b-instruct" for i in range(200_000)]
    before = median_seconds(lambda: [previous_iri(u) for u in urls])
    after = median_seconds(lambda: [iri(u) for u in urls])
    print(f"| iri, 200,000 Hub URLs | {before * 1000:.0f} ms | {after * 1000:.0f} ms | {after / before:.2f} |")
    bomb = "a0: &a0 [lol]\n" + "".join(f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]\n" for n in range(1, 10))
    refused = median_seconds(lambda: compose_yaml(bomb, "card", []))
    print(f"| alias bomb of 9^9 values, refused | hung | {refused * 1000:.2f} ms | |")
    card = "".join(f"key{n}: [{', '.join(f'v{m}' for m in range(20))}]\n" for n in range(2_000))  # 42,000 values, no aliases
    plain = median_seconds(lambda: yaml.compose(card, Loader=yaml.CSafeLoader))
    bounded = median_seconds(lambda: compose_yaml(card, "card", []))
    print(f"| 42,000 values, no aliases: yaml.compose, then compose_yaml | {plain * 1000:.0f} ms | {bounded * 1000:.0f} ms | {bounded / plain:.2f} |")


if __name__ == "__main__":
    main()
