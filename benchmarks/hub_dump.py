"""A synthetic Hugging Face Hub metadata dump, shaped like the real one, for scale tests.

Writes N model records (and about N/50 dataset records) as JSON Lines in the
format `kg.sources.huggingface` reads: what `HfApi.list_models(full=True,
cardData=True)` gives, one record a line. The shape follows what the Hub
looks like, not any real repository:

- organizations: the owner part of each repo id, a few hundred of them per
  hundred thousand models, the busiest owning many repositories;
- families with a power-law size: base model i gets a share of the
  derivatives proportional to 1/(i+1)^1.1, so at a million models the biggest
  bases have tens of thousands of descendants and most have a handful;
- inside a family a derivative hangs from the base or from an earlier member
  (chains several steps deep): fine-tunes, adapters (`peft` tag),
  quantizations (`gguf`/`gptq`/`awq` tags) and merges (two or three bases);
- the relation is sometimes given in the card (`base_model_relation`), else
  left for the reader to infer from tags, as on the Hub;
- some records carry no card at all, only tags (`base_model:<relation>:<id>`,
  `dataset:<id>`, `license:<id>`), some a misspelled key, a few name a base
  model outside the dump (left unresolved by the merge);
- datasets get lines of their own, marked `"repoType": "dataset"`; those made
  from a model's outputs name it in the card's `generated_by` (the Hub has no
  key for that; the dump uses this one, and the reader takes it);
- licences: Hub licence ids, mostly inherited from the parent.

Deterministic: the same N and seed give the same bytes.

    python benchmarks/hub_dump.py 100000 --seed 1 --out /tmp/hub-100k.jsonl
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import itertools
import json
import os
import tempfile
import random
from collections.abc import Iterator
from pathlib import Path

LICENSES = ("apache-2.0", "mit", "llama2", "llama3", "other", "cc-by-nc-4.0", "openrail", "gemma", "cc-by-4.0", "bsd-3-clause", "gpl-3.0")
LICENSE_WEIGHTS = (30, 15, 12, 10, 10, 6, 5, 5, 4, 2, 1)
LANGUAGES = ("en", "zh", "fr", "de", "es", "ja", "ko", "ru", "multilingual")
SYLLABLES = ("al", "be", "co", "da", "el", "fa", "gi", "ha", "io", "ju", "ka", "lu", "mi", "no", "or", "pa", "qu", "ri", "sa", "ta", "um", "ve", "wo", "xi", "yo", "ze")
SIZES = ("0.5b", "1b", "1.5b", "3b", "7b", "8b", "13b", "14b", "32b", "70b")
STYLES = ("instruct", "chat", "sft", "dpo", "code", "math", "rp", "uncensored", "v2", "base")
QUANTIZATIONS = ("gguf", "gptq", "awq", "exl2")
RELATION_WEIGHTS = {"finetune": 50, "adapter": 18, "quantized": 22, "merge": 10}
FLOOR = dt.date(2022, 3, 2)  # the Hub's createdAt for every repository older than that
LAST_DAY = dt.date(2026, 6, 30)


def generate(n: int, seed: int = 0) -> Iterator[dict]:
    """The dump's records: `n` models and about n/50 datasets, in a shuffled order."""
    rng = random.Random(seed)
    orgs = _organizations(rng, max(20, n // 300))
    org_weights = list(itertools.accumulate(1 / (i + 1) ** 0.9 for i in range(len(orgs))))
    n_bases = max(3, min(n // 2, n // 400 + 3))
    n_datasets = max(2, n // 50)
    days = (LAST_DAY - FLOOR).days

    def owner() -> str:
        return orgs[bisect.bisect(org_weights, rng.random() * org_weights[-1])]

    models: list[dict] = []  # the facts of each model, before they are written as a record
    families: list[list[int]] = []
    for i in range(n_bases):
        stem = _word(rng, 2)
        models.append({"id": f"{owner()}/{stem}-{rng.choice(SIZES)}-{i}", "family": i, "bases": [], "relation": None,
                       "license": rng.choices(LICENSES, LICENSE_WEIGHTS)[0], "day": rng.randrange(days // 2), "datasets": []})
        families.append([i])
    datasets = [f"{owner()}/{_word(rng, 2)}-{k}" for k in range(n_datasets)]
    dataset_weights = list(itertools.accumulate(1 / (k + 1) for k in range(n_datasets)))
    family_weights = list(itertools.accumulate(1 / (i + 1) ** 1.1 for i in range(n_bases)))
    relations, relation_weights = zip(*RELATION_WEIGHTS.items())
    for number in range(n_bases, n):
        family = bisect.bisect(family_weights, rng.random() * family_weights[-1])
        members = families[family]
        parent = members[0] if rng.random() < 0.45 else members[rng.randrange(len(members))]
        relation = rng.choices(relations, relation_weights)[0]
        bases = [parent]
        if relation == "merge":
            bases += rng.sample(range(number), min(number, rng.choice((1, 1, 2))))
            bases = list(dict.fromkeys(bases))
            relation = "merge" if len(bases) > 1 else "finetune"
        first = models[parent]
        suffix = rng.choice(QUANTIZATIONS) if relation == "quantized" else ("lora" if relation == "adapter" else rng.choice(STYLES))
        stem = models[members[0]]["id"].split("/")[1].rsplit("-", 1)[0]
        chosen = []
        if relation in ("finetune", "adapter") and rng.random() < 0.4:
            chosen = sorted({datasets[bisect.bisect(dataset_weights, rng.random() * dataset_weights[-1])] for _ in range(rng.choice((1, 1, 2)))})
        inherited = rng.random() < 0.8
        models.append({
            "id": f"{owner()}/{stem}-{suffix}-{number}", "family": family, "bases": bases, "relation": relation,
            "license": first["license"] if inherited else rng.choices(LICENSES, LICENSE_WEIGHTS)[0],
            "day": min(days, max(models[b]["day"] for b in bases) + rng.randrange(1, 120)), "datasets": chosen,
        })
        members.append(number)
    records = [_model_record(rng, model, models) for model in models]
    records += [_dataset_record(rng, k, name, models, n_bases) for k, name in enumerate(datasets)]
    rng.shuffle(records)
    return iter(records)


def _organizations(rng: random.Random, count: int) -> list[str]:
    names = dict.fromkeys(f"{_word(rng, rng.choice((2, 3)))}-{kind}" for kind in itertools.islice(itertools.cycle(("ai", "lab", "labs", "research", "nlp", "hf")), count))
    return [f"{name}{k}" for k, name in enumerate(names)]


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(syllables))


def _created(rng: random.Random, day: int) -> str:
    if day < 40:  # repositories from before the Hub recorded creation dates
        return f"{FLOOR.isoformat()}T23:29:04.000Z"
    moment = FLOOR + dt.timedelta(days=day)
    return f"{moment.isoformat()}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}.000Z"


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


def _model_record(rng: random.Random, model: dict, models: list[dict]) -> dict:
    bases = [models[b]["id"] for b in model["bases"]]
    if bases and rng.random() < 0.01:  # a base that is not in the dump (deleted, private or misspelt)
        bases[0] = bases[0] + "-gone"
    relation = model["relation"]
    tags = ["transformers", "safetensors", f"license:{model['license']}"]
    tags += [f"dataset:{d}" for d in model["datasets"]]
    if relation == "quantized":
        tags.append(model["id"].rsplit("-", 2)[1])  # gguf, gptq, ...
    if relation == "adapter":
        tags += ["peft", "lora"]
    for base in bases:
        tags += [f"base_model:{base}", f"base_model:{relation}:{base}"]
    record = {"id": model["id"], "author": model["id"].split("/")[0], "sha": _sha(rng), "createdAt": _created(rng, model["day"]), "tags": tags}
    if rng.random() < 0.2:  # no card: the tags say it all
        return record
    card: dict = {"license": model["license"], "language": rng.sample(LANGUAGES, rng.choice((1, 1, 1, 2)))}
    if bases:
        card["base_model"] = bases if len(bases) > 1 or rng.random() < 0.3 else bases[0]
        if rng.random() < 0.5:
            card["base_model_relation" if rng.random() > 0.01 else "base_model_ralation"] = relation
    if model["datasets"]:
        card["datasets"] = model["datasets"]
    if relation == "adapter":
        card["library_name"] = "peft"
    record["cardData"] = card
    return record


def _dataset_record(rng: random.Random, k: int, name: str, models: list[dict], n_bases: int) -> dict:
    license = rng.choices(LICENSES, LICENSE_WEIGHTS)[0]
    card: dict = {"license": license, "language": rng.sample(LANGUAGES[:8], rng.choice((1, 1, 2)))}
    if rng.random() < 0.3:  # synthetic data: outputs of a model, most often a big base's fine-tune
        card["generated_by"] = [models[rng.randrange(min(len(models), n_bases * 20))]["id"]]
    day = rng.randrange((LAST_DAY - FLOOR).days)
    return {"id": name, "repoType": "dataset", "author": name.split("/")[0], "sha": _sha(rng), "createdAt": _created(rng, day),
            "tags": [f"license:{license}", *(f"language:{lang}" for lang in card["language"])], "cardData": card}


def write_dump(n: int, seed: int, out: Path | str) -> Path:
    """Write the dump of `generate(n, seed)` to `out` (whole or not at all); return its path."""
    out = Path(out)
    temporary = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    with open(temporary, "w", encoding="utf-8") as handle:
        for record in generate(n, seed):
            handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
    os.replace(temporary, out)
    return out


def cached_dump(n: int, seed: int) -> Path:
    """The dump of `generate(n, seed)` in the benchmarks' cache (KG_DUMP_CACHE, else the temp folder), written once."""
    cache = Path(os.environ.get("KG_DUMP_CACHE", Path(tempfile.gettempdir()) / "kg-hub-dumps"))
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"hub-{n}-seed{seed}.jsonl"
    if not path.exists():
        write_dump(n, seed, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a synthetic Hugging Face Hub dump (JSON Lines).")
    parser.add_argument("n", type=int, help="number of models")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, required=True, help="the .jsonl file to write")
    args = parser.parse_args()
    write_dump(args.n, args.seed, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
