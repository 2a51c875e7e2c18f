"""The build: one pipeline from the catalog and its sources to what `kg build` publishes.

`kg build`, `kg validate` and `kg.load()` all run `build()`, and `kg build` then
`publish()`; the command line only parses arguments and prints. Each stage
takes what the one before it made, and each form of the graph is made once:

    build()                                        kg.build.Build
      read the catalog      kg.catalog.load_catalog   Catalog (pydantic)
      check it              kg.graph, kg.rdf, checks  graph (networkx) + the catalog's RDF triples (a set of rdflib
                                                      terms), checked in a forked process while the next stages run
      read the sources      kg.merge.read_sources     records
      merge                 kg.merge.merge            Merged: identities, claims, accepted edges
      link the lineage      kg.merge.add_to_graph     the same graph, imported entities and edges added
      compute the terms     kg.terms.compute_all      effective terms of every model and dataset
    publish()
      exports               kg.rdf, kg.stream         kg.ttl/.nt/.jsonld (the catalog's RDF and its terms,
                                                      then the imported entities, streamed)
      page                  kg.html.render_html       lineage.html (the catalog and the biggest families), laid
                                                      out in a forked process while the exports are made
      publish               kg.publish, kg.store      the folder, and the store, swapped in together

`kg build` of Hub dumps alone (API JSON Lines, hub-stats Parquet: millions of records) takes the
columnar path instead of read/merge/link (`build(..., columnar=True)`): kg.tables reads them into
Arrow tables, joins them with the catalog, computes every entity's terms in one pass and writes the
exports and entities.parquet / edges.parquet from the tables (`Build.tables`); the graph stays the catalog's
(its terms are computed with the dump's edges into it, `HubBuild.lineage`).

Stages report through the "kg" logger (a line per stage, a progress bar
while the exports are written on a terminal); the CLI decides what is shown.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import networkx as nx
from rdflib import Graph
from tqdm import tqdm

from kg.catalog import Catalog, load_catalog
from kg.errors import CatalogError, Problem, RequestError
from kg.graph import build_graph, derivation_cycles, overview_nodes
from kg.html import render_html
from kg.merge import DEFAULT_ORDER, Merged, add_to_graph, format_report, imported_blocks, imported_quads, merge, read_sources, sources_from_file
from kg.publish import discard_staging, graph_to_json, locked, stage_folder, swap_together, sweep_temporaries
from kg.query import report_violations, run_checks
from kg.rdf import Triple, Triples, add_effective_terms, catalog_triples, serialize, shared_policies, to_graph
from kg.store import check_store_folder, lock_for_replacing, stage_store
from kg.stream import DEFAULT_FILES, FILES, TABLE_FILES, Block, NamedBlock, compressed, graph_blocks, output_name, write_exports
from kg.terms import EffectiveTerms, compute_all

if TYPE_CHECKING:
    from kg.tables import HubBuild

# What `kg build` writes into its output folder: an old one of these that a build leaves out is not kept.
BUILT = ("graph.json", *FILES, *(output_name(name, True) for name in FILES), "lineage.html", "sources-report.txt", *TABLE_FILES)
log = logging.getLogger("kg")
T = TypeVar("T")


@dataclass(eq=False)
class Build:
    """What `build()` made: everything `publish()` writes and `kg.load()` answers from."""

    catalog: Catalog
    graph: nx.MultiDiGraph  # the one lineage: curated and imported entities, every accepted edge
    triples: Triples | None  # the catalog's RDF with its effective terms; imported entities are streamed by `blocks`
    terms: dict[str, EffectiveTerms]  # the effective terms of every model and dataset of `graph`
    merged: Merged | None = None  # the sources' records merged with the catalog, when there were sources
    cycles: list[list[str]] = field(default_factory=list)  # derivation cycles among imported records
    tables: HubBuild | None = None  # Hub dumps read, joined and given their terms as Arrow tables (kg.tables)

    @cached_property
    def rdf(self) -> Graph | None:
        """`triples` as an rdflib graph, made when first asked for (`kg.load()`'s `.rdf`; `kg build` needs none)."""
        return None if self.triples is None else to_graph(self.triples)

    def blocks(self) -> Iterator[Block]:
        """The whole export, one subject at a time (kg.stream): the catalog's, then the imported entities'."""
        yield from graph_blocks(self.triples)
        yield from self.imported_blocks()

    def imported_blocks(self) -> Iterator[Block]:
        """The part of the export the sources add: the imported entities' shared policies (one per
        distinct set of terms, not one per entity), the entities, and a node per source record."""
        if self.merged is not None:
            policies, policy_blocks = shared_policies((t for entity, t in self.terms.items() if entity in self.merged.new), self.graph, self.catalog.licenses)
            yield from policy_blocks
            yield from imported_blocks(self.merged, self.catalog.licenses, policies)

    def quads(self) -> Iterator[NamedBlock]:
        """The named graphs of the export (kg.nq): each source record's claims in the graph of its IRI."""
        if self.merged is not None:
            yield from imported_quads(self.merged, self.catalog.licenses)

    def page_nodes(self) -> Iterable[str]:
        """The nodes lineage.html draws: all of a catalog; with sources, the catalog and the biggest imported families
        (of Hub dumps read into tables, `tables.page` is the page's graph)."""
        return self.graph if self.merged is None else overview_nodes(self.graph)


@dataclass(frozen=True)
class Published:
    """What `publish()` put on disk, for the command's closing lines."""

    out: Path
    formats: tuple[str, ...]
    triples: int
    page_nodes: int
    store: Path | None


def build(data: str | Path | None = None, sources: Iterable[tuple[str, str | Path]] | Mapping | None = None,
          order: Iterable[str] | None = None, checked: bool = True, columnar: bool = False) -> Build:
    """Read, check, merge, link and compute the terms of a catalog and its sources; nothing is written.

    `sources` are (name, path) pairs or a name -> path mapping; None takes those
    listed in the catalog's sources.yaml (none without it), () none at all.
    `order` is the sources' precedence after the catalog's own values.
    `checked=False` skips the catalog's RDF and its SPARQL checks, for the commands
    that only read the lineage (kg lineage, kg terms, kg stats, kg html); `.triples` and `.rdf` are then None.
    `columnar=True` (kg build) takes kg.tables' path when every source is a Hub dump it reads.
    Raises CatalogError listing every problem of the catalog or the sources.
    """
    with stage("reading the catalog"):
        catalog = load_catalog(data)
        graph = build_graph(catalog)
        triples = catalog_triples(graph, catalog.licenses, terms=()) if checked else None  # the terms come once the lineage is whole
    # The SPARQL checks run in a forked copy while the lineage and its terms are made here (0.18 s less
    # for the bundled catalog, benchmarks/RESULTS.md); the sources, slower to read, wait for a catalog that passes.
    pairs, order = _choose_sources(catalog, sources, order)
    with running_aside(find_violations, catalog, frozenset(triples)) if checked else nullcontext(list) as violations:
        if pairs:
            _refuse(violations())
        result = _build_lineage(catalog, graph, triples, pairs, order, columnar)
        _refuse(violations())
    return result


def _build_lineage(catalog: Catalog, graph: nx.MultiDiGraph, triples: Triples | None, pairs: list[tuple[str, Path]], order: tuple[str, ...],
                   columnar: bool) -> Build:
    """`build()`'s stages after the catalog's: its sources read and merged into `graph`, and the terms computed."""
    merged, cycles, tables = None, [], None
    if pairs and columnar:
        from kg.tables import build_hub, is_table_dump  # pyarrow: loaded for the builds that read Hub dumps
    if pairs and columnar and all(name == "huggingface" and is_table_dump(path) for name, path in pairs):
        tables = build_hub(catalog, graph, [path for _, path in pairs], stage)
        pairs = []
    if pairs:
        with stage(f"reading {', '.join(str(path) for _, path in pairs)}"):
            records = read_sources(pairs)
        with stage(f"merging {len(records):,} records with the catalog"):
            merged = merge(catalog, records, order)
        with stage("adding imported entities and lineage to the graph"):
            add_to_graph(graph, merged, catalog.licenses)
            cycles = derivation_cycles(graph)
        for cycle in cycles:
            log.warning("warning: imported records form a derivation cycle: %s", ", ".join(cycle))
    with stage("computing the effective terms"):
        lineage = graph if tables is None else tables.lineage  # a Hub dump's edges into the catalog change its entities' terms
        terms = compute_all(lineage, catalog.licenses)
        if triples is not None:
            add_effective_terms(triples, lineage, catalog.licenses, (t for entity, t in terms.items() if entity in catalog.entities))
    return Build(catalog, graph, triples, terms, merged, cycles, tables)


def find_violations(catalog: Catalog, rdf: Iterable[Triple]) -> list[Problem]:
    """What the SPARQL checks of ontology/checks/ find in the catalog's RDF, each at the file and line of the entity at fault."""
    # load_catalog has already refused derivation cycles in linear time; the SPARQL form of that gate
    # (for exports checked in other stores) walks property paths and grows quadratically with a chain.
    return report_violations(catalog, run_checks(rdf, skip=("derivation-cycle",)))


def _refuse(problems: list[Problem]) -> None:
    if problems:
        raise CatalogError(problems)


def _choose_sources(catalog: Catalog, sources, order) -> tuple[list[tuple[str, Path]], tuple[str, ...]]:  # noqa: ANN001
    if sources is None:
        listed = sources_from_file(catalog.root)
        if listed is not None:
            return listed[0], tuple(order or listed[1])
        sources = ()
    pairs = list(sources.items()) if isinstance(sources, Mapping) else list(sources)
    return [(name, Path(path)) for name, path in pairs], tuple(order or DEFAULT_ORDER)


def publish(result: Build, out: Path, formats: Iterable[str] = DEFAULT_FILES, store: Path | None = None, compress: bool = False) -> Published:
    """Write the exports, graph.json, the page and the sources report into `out` (and the store, loaded
    from kg.nq when it is written, else kg.nt, into `store`), all swapped in together: a failure, Ctrl-C or a kill leaves all old or all new.
    A Hub build loaded into a store lets go of its tables once its files are written (`result.tables.let_go()`;
    its counts stay): it cannot be published again."""
    formats = check_outputs(formats, store)
    if result.tables is not None and result.tables.joined is None:
        raise RequestError("this Hub build's tables were let go when a store was loaded from it", "build it again to publish it again")
    if result.tables is not None:  # a Hub build: the catalog and the biggest imported families, chosen from the tables
        page, terms = result.tables.page, {**result.terms, **result.tables.page_terms}
    else:  # a graph of its own: walking a view's filters costs a tenth of the layout
        page, terms = result.graph.subgraph(result.page_nodes()).copy(), result.terms
    # The page is laid out on the other core while this one makes the exports (on the bundled catalog, 0.9 s beside 0.5 s).
    with running_aside(render_html, page, licenses=result.catalog.licenses, terms={n: t for n, t in terms.items() if n in page}) as page_html:
        outputs, stream, counted = _exports(result, formats, compress, let_go=store is not None)
        # Everything held in memory is made before anything is written: a failure leaves every old file.
        with stage("writing the lineage page" + (" and graph.json" if result.tables is None else "")):
            graph_json = {} if result.tables is not None else {"graph.json": graph_to_json(result.graph)}  # a Hub build's lineage: its tables
            outputs = {**graph_json, **outputs, "lineage.html": page_html()}
    if store is not None:
        check_store_folder(store)  # a store in use or a folder of other things: say so before writing anything
    _swap_in(out, outputs, stream, store, output_name("kg.nq" if "kg.nq" in formats else "kg.nt", compress))
    return Published(out, formats, counted[0], page.number_of_nodes(), store)


def check_outputs(formats: Iterable[str], store: Path | None) -> tuple[str, ...]:
    """The RDF files to write, in kg.stream.FILES order; RequestError for a store with no kg.nq or kg.nt to load it from."""
    formats = tuple(name for name in FILES if name in set(formats))
    if store is not None and "kg.nt" not in formats and "kg.nq" not in formats:
        raise RequestError("--store loads the store from kg.nq or kg.nt, which --formats leaves out",
                           f"add nt: --formats {','.join(n.removeprefix('kg.') for n in ('kg.nt', *formats))}")
    return formats


def _exports(result: Build, formats: tuple[str, ...], compress: bool = False, let_go: bool = False) -> tuple[dict[str, bytes], object, list[int]]:
    """The RDF files: a catalog alone is serialized whole (readable sorted Turtle); imported records,
    millions perhaps, are streamed to the files one subject at a time, never held in rdflib. With `let_go`
    (a store is loaded next), a Hub build's tables are let go once written (kg.tables.HubBuild.let_go)."""
    counted = [len(result.triples)]
    if result.tables is not None:
        from kg.tables import format_table_report, write_build

        def stream_tables(folder: Path) -> tuple[str, ...]:
            with stage(f"writing {', '.join(formats)}"):
                counted[0] = write_build(folder, result.triples, result.tables.joined, result.tables.terms, formats, result.catalog.licenses, compress)
            if let_go:
                result.tables.let_go()
            return (*formats, *TABLE_FILES)

        return {"sources-report.txt": format_table_report(result.tables.joined, limit=None).encode()}, stream_tables, counted
    if result.merged is None:
        return compressed(serialize(result.triples), formats, compress), None, counted
    report = format_report(result.merged, limit=None) + "".join(f"derivation cycle (not a lineage): {' -> '.join(c)}\n" for c in result.cycles)

    def stream(folder: Path) -> tuple[str, ...]:
        with stage(f"writing {', '.join(formats)}"):
            counted[0] = write_exports(folder, _progress(result.blocks(), result.graph.number_of_nodes(), "entities"), formats, result.quads(), compress)
        return tuple(output_name(name, compress) for name in formats)

    return {"sources-report.txt": report.encode()}, stream, counted


def _swap_in(out: Path, outputs: dict[str, bytes], stream, store: Path | None, loaded_from: str = "kg.nt") -> None:  # noqa: ANN001
    """Stage every output and the store, then swap them in at once (kg.publish.swap_together). A store
    directly in the output folder is loaded inside the new folder, and so swapped in with it."""
    inside = store is not None and store.resolve().parent == out.resolve()
    if store is not None and not inside and store.resolve().is_relative_to(out.resolve()):
        raise RequestError(f"--store {store} is inside --out {out} but not directly in it", f"e.g. --store {out / 'store'}, or a folder outside {out}")
    folders = sorted({out.parent.resolve(), *([store.parent.resolve()] if store is not None and not inside else [])})
    with ExitStack() as held:
        for folder in folders:  # in a fixed order, so that two builds never wait on each other's second lock
            held.enter_context(locked(folder))
            sweep_temporaries(folder)
        staging = stage_folder(out, outputs, stream, replaces=(*BUILT, *([store.name] if inside else [])))
        pairs = [(staging, out)]
        try:
            if store is not None:
                with stage(f"loading {out / loaded_from} into the store {store}"):
                    loaded = stage_store(store, staging / loaded_from, staging / store.name if inside else None)
                pairs += [] if inside else [(loaded, store)]
            with lock_for_replacing(store) if store is not None else nullcontext():
                swap_together(pairs)
        except BaseException:
            for temporary, target in pairs:
                discard_staging(temporary, target)
            raise


@contextmanager
def running_aside(function: Callable[..., T], *args: object, **kwargs: object) -> Iterator[Callable[[], T]]:
    """Run `function(*args, **kwargs)` in a forked copy of this process while the `with` body goes on; the
    function it yields waits for the result and returns it (the same one each call). Should the copy end without a result (it raised,
    or could not start), the call runs `function` here instead, so an error is raised as it would be without
    the copy. Leaving the body stops the copy if it still runs. Linux forks: the copy shares what exists, copied on
    write. A process with other Python threads (a notebook's kernel) is not forked, since a lock one of them holds
    would stay locked in the copy: the call runs `function` then."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def run() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is this process's to handle; the copy is stopped with it
        try:
            sender.send(function(*args, **kwargs))
        except BaseException:  # noqa: BLE001 (the caller runs the function again and raises this itself)
            os._exit(1)

    worker = None
    if threading.active_count() == 1:
        gc.freeze()  # the copy's collector leaves what exists alone, so its pages are not copied as they are scanned
        try:
            worker = context.Process(target=run, daemon=True)
            worker.start()
        except OSError:  # no fork to be had (memory, process limits): the call does the work here
            worker = None
        finally:
            gc.unfreeze()
    sender.close()
    answer: list[T] = []

    def result() -> T:
        if not answer:
            try:
                if worker is not None:
                    answer.append(receiver.recv())
            except EOFError:
                pass
            if not answer:
                answer.append(function(*args, **kwargs))
        return answer[0]

    try:
        yield result
    finally:
        receiver.close()
        if worker is not None:
            if worker.is_alive():
                worker.kill()
            worker.join()


@contextmanager
def stage(what: str) -> Iterator[None]:
    """Log a stage's start and how long it took (the CLI shows these on a terminal, or with -v)."""
    log.info("%s...", what)
    started = time.perf_counter()
    yield
    log.info("%s: done in %.1f s", what, time.perf_counter() - started)


def _progress(items: Iterable, total: int | None, unit: str) -> Iterable:
    """`items`, with a progress bar on stderr when it is a terminal and stage lines are shown."""
    shown = sys.stderr.isatty() and log.isEnabledFor(logging.INFO)
    return tqdm(items, total=total, unit=f" {unit}", unit_scale=True, disable=not shown, leave=False, file=sys.stderr)
