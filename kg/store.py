"""The export in a persistent Oxigraph store (RocksDB on disk), for `kg serve`.

`write_store` bulk-loads the N-Triples into a new store in a temporary
folder beside the target and then swaps the two folders in one atomic
rename, like `kg.publish.publish_folder`: a reader sees the old store or the
new one, never a half-loaded one, and a failure leaves the old store as it
was.

A store is in use while `kg serve` runs on it or `kg query --store` or
`kg lineage --store` reads it (they hold a shared lock on the folder, see
`hold_store`), or while another process has it open for writing
(RocksDB's own lock): it is then never replaced. A folder that is not an
Oxigraph store is never replaced either.

The store is the serving index, not only a copy of the export: beside its
triples it holds the transitive closure of `prov:wasDerivedFrom`, one
`?x lkg:descendsFrom ?ancestor` per pair joined by a chain of derivations
(`closure_lines`), so that "everything made from X" is one triple pattern.
Oxigraph evaluates `prov:wasDerivedFrom+` in tens of seconds on a family of
200,000 models; the exports keep only the stated facts.

The closure is loaded in the same bulk load as the export, after it: the
derivations are first read from the export's text (`read_derivations`, a
scan for the one line form the builders' writers use), and a count in the
loaded store then confirms that the scan found them all; should it not, the
closure is read from the store instead (`add_closure`). At three million
models the closure, read back from the store and loaded in batches of its
own, took 213 s; in the export's load it costs about 55 s, and the scan
25-30 s (benchmarks/RESULTS.md, "Ninth pass").
"""

from __future__ import annotations

import errno
import fcntl
import gzip
import io
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import networkx as nx
import pyoxigraph as ox
from rdflib.namespace import DCTERMS, RDF, RDFS, SKOS

from kg.errors import OutputError, RequestError, suggest
from kg.graph import choose_named
from kg.publish import discard_staging, swap_in, temporary_name
from kg.vocab import CLASSES, DERIVATIONS, ID, KINDS, LKG, PROV, REFERENCES

DERIVED_FROM = ox.NamedNode(str(PROV.wasDerivedFrom))
DESCENDS_FROM = f"<{LKG.descendsFrom}>"
# A derivation as the builders' writers put it on a line of N-Triples or N-Quads (default graph): two IRIs with
# nothing to unescape, one space between terms. `read_derivations` finds the predicate, then matches the line.
DERIVATION_PREDICATE = f" <{PROV.wasDerivedFrom}> ".encode()
DERIVATION_LINE = re.compile(rb'(<[^\x00-\x20<>"{}|^`\\]*>)' + re.escape(DERIVATION_PREDICATE) + rb'(<[^\x00-\x20<>"{}|^`\\]*>) \.')
SCANNED_BLOCK = 1 << 24  # bytes of the export read at a time by `read_derivations`
CLOSURE_BATCH = 500_000  # closure triples handed to each bulk load of `add_closure`
# The lineage edges of `kg.graph` (those `format_lineage` walks) by their lkg: property -> (field, relation).
LINEAGE_EDGES = {
    **{str(prop): ("derived_from", relation) for relation, prop in DERIVATIONS.items()},
    **{str(REFERENCES[field]): (field, field) for field in ("trained_on", "generated_by")},
}
QUERY_PREFIXES = {"lkg": str(LKG), "rdfs": str(RDFS), "skos": str(SKOS), "dcterms": str(DCTERMS)}
LABEL, ISSUED = str(RDFS.label), str(DCTERMS.issued)
IDENTIFIER, TYPE = ox.NamedNode(str(DCTERMS.identifier)), ox.NamedNode(str(RDF.type))
ENTITY_CLASSES = {ox.NamedNode(str(c)) for c in CLASSES.values()}
ENTITY = "?node dcterms:identifier ?id ; a ?class . VALUES ?class { " + " ".join(f"<{c}>" for c in CLASSES.values()) + " }"
# Each round of a lineage walk: from the frontier ?x, what derivation (the closure) and
# training data reach, and whether through training data (then the next round goes on from there).
ROUNDS = {
    "up": """{ ?x lkg:descendsFrom ?node BIND(false AS ?data) }
  UNION { ?x lkg:trainedOn ?node BIND(true AS ?data) }
  UNION { ?x lkg:descendsFrom ?via . ?via lkg:trainedOn ?node BIND(true AS ?data) }""",
    "down": """{ ?node lkg:descendsFrom ?x BIND(false AS ?data) }
  UNION { ?node lkg:trainedOn ?x BIND(true AS ?data) }
  UNION { ?via lkg:descendsFrom ?x . ?node lkg:trainedOn ?via BIND(true AS ?data) }""",
}
FRONTIER_BATCH = 2_000  # IRIs in one VALUES block


def check_store_folder(folder: Path) -> None:
    """Raise OutputError unless `folder` is absent, empty, or an Oxigraph store that nothing has open."""
    folder = Path(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise OutputError(f"cannot write the store to {folder}: it is a file, not a folder")
    if not any(folder.iterdir()):
        return
    if not is_store(folder):
        raise OutputError(f"cannot write the store to {folder}: the folder is not empty and is not an Oxigraph store; give a new folder to --store")
    with lock_for_replacing(folder):
        try:
            ox.Store(str(folder))  # opened and closed at once: only to see whether another process holds RocksDB's lock
        except OSError as exc:
            if "lock" in str(exc).lower():
                raise OutputError(f"cannot replace the store {folder}: another process has it open for writing") from None
            raise OutputError(f"cannot replace the store {folder}: {exc}") from None


def is_store(folder: Path) -> bool:
    """Whether `folder` holds an Oxigraph store (opening it read-only writes nothing)."""
    if not (Path(folder) / "CURRENT").is_file():
        return False
    try:
        ox.Store.read_only(str(folder))
    except OSError:
        return False
    return True


def write_store(folder: Path, ntriples: Path | bytes) -> None:
    """Make `folder` an Oxigraph store holding exactly the triples of `ntriples` (a file or its bytes).

    Raises OutputError, with `folder` as it was, if the folder is in use or
    is not a store, or if loading fails.
    """
    folder = Path(folder)
    check_store_folder(folder)
    staging = stage_store(folder, ntriples)
    try:
        with lock_for_replacing(folder):
            swap_in(staging, folder)
    except BaseException:
        discard_staging(staging, folder)
        raise


def stage_store(folder: Path, ntriples: Path | bytes, staging: Path | None = None) -> Path:
    """A new store of `ntriples` at `staging` (default: a temporary beside `folder`), loaded and
    closed, for the caller to swap in (`kg.publish.swap_together`, holding `lock_for_replacing`);
    nothing is left behind if loading fails."""
    staging = staging or temporary_name(Path(folder))
    try:
        _bulk_load(staging, ntriples, Path(folder))
    except BaseException:
        discard_staging(staging, Path(folder))
        raise
    return staging


def rdf_format(path: Path) -> ox.RdfFormat | None:
    """The RDF format of a file by its suffix, a `.gz` after it aside (kg.nq.gz is N-Quads); None if unknown."""
    path = Path(path)
    suffix = Path(path.stem).suffix if path.suffix == ".gz" else path.suffix
    return ox.RdfFormat.from_extension(suffix.lstrip(".")) if suffix else None


def rdf_input(path: Path) -> BinaryIO:
    """A file of RDF to read, decompressed as read when it is gzipped (kg build --compress)."""
    return gzip.open(path, "rb") if Path(path).suffix == ".gz" else open(path, "rb")


def _bulk_load(staging: Path, ntriples: Path | bytes, shown: Path) -> None:
    """Load `ntriples` (N-Triples bytes, or a kg.nt or kg.nq file, gzipped or not: the named graphs of
    kg.nq stay named) and their lineage closure into a new store at `staging`, and close it."""
    form = ox.RdfFormat.N_TRIPLES if isinstance(ntriples, bytes) else rdf_format(ntriples)
    try:
        with _opened(ntriples) as source:
            names, parents = read_derivations(source)
        with _opened(ntriples) as source:
            store = ox.Store(str(staging))
            store.bulk_load(_Followed(source, closure_lines(names, parents)), format=form)
        if count_derivations(store) != sum(len(set(direct)) for direct in parents):
            add_closure(store)  # a derivation the scan did not read (written in another form): from the store, then
        store.optimize()  # compacts the files of the loads into one sorted set: lookups measured about twice as fast
        store.flush()
        del store  # closes RocksDB before the folder moves
    except OSError as exc:
        reason = "disk full" if exc.errno == errno.ENOSPC or "No space left" in str(exc) else str(exc)
        raise OutputError(f"{reason} while loading the store {shown}") from exc
    except SyntaxError as exc:
        raise OutputError(f"internal error: the {form.name} for the store {shown} do not parse ({exc})") from exc


def _opened(ntriples: Path | bytes) -> BinaryIO:
    return io.BytesIO(ntriples) if isinstance(ntriples, bytes) else rdf_input(ntriples)


def read_derivations(source: BinaryIO) -> tuple[list[bytes], list[list[int]]]:
    """The `<x> prov:wasDerivedFrom <y>` lines of N-Triples or N-Quads text (default graph only), numbered
    as `closure_lines` walks them (`_numbered`).

    Only the form the builders' writers use is read (see DERIVATION_LINE); a derivation written
    otherwise is missed here, and `_bulk_load` notices it by the count.
    """
    return _numbered(_derivation_pairs(source))


def _derivation_pairs(source: BinaryIO) -> Iterator[tuple[bytes, bytes]]:
    rest, block = b"", True
    while block:
        block = source.read(SCANNED_BLOCK)
        text = rest + (block or b"\n")  # at the end, a last line with no newline is ended
        end = text.rfind(b"\n") + 1  # the whole lines; the rest waits for the next block
        rest = text[end:]
        at = text.find(DERIVATION_PREDICATE, 0, end)
        while at >= 0:
            start, stop = text.rfind(b"\n", 0, at) + 1, text.find(b"\n", at)
            line = DERIVATION_LINE.fullmatch(text, start, stop)
            if line:
                yield line[1], line[2]
            at = text.find(DERIVATION_PREDICATE, stop, end)


def _numbered(pairs: Iterable[tuple[bytes, bytes]]) -> tuple[list[bytes], list[list[int]]]:
    """The derivation graph of (x, y) pairs of IRIs in their N-Triples text: each IRI's text by number, and each number's parents."""
    index: dict[bytes, int] = {}
    names: list[bytes] = []
    parents: list[list[int]] = []
    for child, parent in pairs:
        for iri in (child, parent):
            if iri not in index:
                index[iri] = len(names)
                names.append(iri)
                parents.append([])
        parents[index[child]].append(index[parent])
    return names, parents


def count_derivations(store: ox.Store) -> int:
    """How many `prov:wasDerivedFrom` triples the default graph of `store` holds, blank nodes included: counted
    by the store without decoding a term (0.6 s for 1.1 million; a FILTER on the terms' kinds took 10 s)."""
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?x <{PROV.wasDerivedFrom}> ?y }}"
    return int(next(iter(store.query(query)))["n"].value)


def closure_lines(names: list[bytes], parents: list[list[int]]) -> Iterator[bytes]:
    """The N-Triples lines `<x> lkg:descendsFrom <a> .` of every pair that a chain of one or more
    derivations joins, one block for each x (`names` and `parents` as `_numbered` gives them).

    Each entity's ancestors are found by a walk with an explicit stack
    (chains 1,000 deep exist), which costs the ancestors' own links: the
    whole is linear in the size of the closure. An entity on a derivation
    cycle descends from itself, as `prov:wasDerivedFrom+` says.
    """
    predicate = f" {DESCENDS_FROM} ".encode()
    for child, direct in enumerate(parents):
        if not direct:
            continue
        seen = set(direct)
        stack = list(seen)
        while stack:
            for parent in parents[stack.pop()]:
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        subject = names[child] + predicate
        yield b"".join([subject + names[ancestor] + b" .\n" for ancestor in seen])


class _Followed(io.RawIOBase):
    """A binary file read to its end, then a newline, then the blocks of `more`: one input for one bulk load."""

    def __init__(self, first: BinaryIO, more: Iterator[bytes]) -> None:
        self.first, self.more = first, more
        self.held, self.at = b"", 0  # a block of `more` being handed out, and how far

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        """Up to `size` bytes (Oxigraph asks for about 2 KB at a time); all that is left when `size` is -1 or None."""
        whole = size is None or size < 0
        if self.first is not None and size != 0:
            data = self.first.read(-1 if whole else size)
            if data and not whole:
                return data
            self.first, self.held, self.at = None, data + b"\n", 0  # an export with no newline at its end still ends its last line
        if whole:
            data = b"".join([self.held[self.at:], *self.more])
            self.held, self.at = b"", 0
            return data
        while len(self.held) - self.at < size and (block := next(self.more, None)) is not None:
            self.held, self.at = self.held[self.at:] + block, 0
        data = self.held[self.at:self.at + size]
        self.at += len(data)
        return data


def add_closure(store: ox.Store) -> int:
    """Bulk-load into `store` one `?x lkg:descendsFrom ?a` for every pair that a chain of one or
    more `prov:wasDerivedFrom` triples of `store` joins (`closure_lines`), and return how many that is.

    Read from the loaded triples, so it always agrees with them; reading
    them back costs the store's decoding of every term (60 s for the
    3.4 million derivations of three million models), so `_bulk_load` only
    does it when its scan of the text missed one.
    """
    quads = store.quads_for_pattern(None, DERIVED_FROM, None, ox.DefaultGraph())
    names, parents = _numbered((str(q.subject).encode(), str(q.object).encode())  # "<iri>", the N-Triples form
                               for q in quads if isinstance(q.subject, ox.NamedNode) and isinstance(q.object, ox.NamedNode))
    count = pending = 0
    blocks: list[bytes] = []
    for block in closure_lines(names, parents):
        blocks.append(block)
        pending += block.count(b"\n")
        if pending >= CLOSURE_BATCH:
            store.bulk_load(b"".join(blocks), format=ox.RdfFormat.N_TRIPLES, lenient=True)  # IRIs read from the store itself: valid, no checks
            count, pending = count + pending, 0
            blocks.clear()
    if blocks:
        store.bulk_load(b"".join(blocks), format=ox.RdfFormat.N_TRIPLES, lenient=True)
    return count + pending


@contextmanager
def lock_for_replacing(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (when it exists), or raise OutputError if a reader (`kg serve`...) holds it."""
    if not folder.is_dir():
        yield
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError(f"cannot replace the store {folder}: `kg serve` or another kg command is reading it; stop it first") from None
        yield
    finally:
        os.close(handle)


@contextmanager
def open_store(folder: Path) -> Iterator[ox.Store]:
    """The store `folder` opened read-only, held (see `hold_store`) so that no build replaces it meanwhile."""
    with hold_store(folder):
        yield ox.Store.read_only(str(folder))


def find_entity(store: ox.Store, text: str) -> str:
    """The id of the entity `text` names in `store`, as `kg.graph.find_node` finds it in a graph:
    an id, else a name (rdfs:label), a slug or an alias (skos:altLabel), compared casefolded.

    Raises RequestError with a did-you-mean hint when nothing, or several things alike, match.
    """
    if _is_entity(store, text):
        return text
    folded = text.casefold()
    named: dict[str, tuple[list[str], list[str]]] = {f"{kind}/{folded}": ([], []) for kind in KINDS if _is_entity(store, f"{kind}/{folded}")}
    # SPARQL's LCASE/UCASE narrow the labels; Python's casefold then decides, as find_node does.
    alike = f"(LCASE(STR(?label)) = {_string(text.lower())} || UCASE(STR(?label)) = {_string(text.upper())})"
    query = f"""SELECT ?node ?label ?alias WHERE {{
      {{ ?node rdfs:label ?label FILTER{alike} BIND(false AS ?alias) }}
      UNION {{ ?node skos:altLabel ?label FILTER{alike} BIND(true AS ?alias) }} }}"""
    for row in _select(store, query):
        entity = row["node"].value.removeprefix(str(ID))
        if entity in named or _is_entity(store, entity):
            named.setdefault(entity, ([], []))[row["alias"].value == "true"].append(row["label"].value)
    found = choose_named(text, ((entity, names, aliases) for entity, (names, aliases) in named.items()))
    if found is None:
        raise RequestError(f"no entity is named '{text}'", suggest(text, _spellings(store, ids="/" in text)))
    return found


def _is_entity(store: ox.Store, entity: str) -> bool:
    """Whether `store` holds the entity of id `entity` (its IRI, with that dcterms:identifier and an entity class)."""
    try:
        node = ox.NamedNode(f"{ID}{entity}")
    except ValueError:
        return False
    if next(store.quads_for_pattern(node, IDENTIFIER, ox.Literal(entity), ox.DefaultGraph()), None) is None:
        return False
    return any(quad.object in ENTITY_CLASSES for quad in store.quads_for_pattern(node, TYPE, None, ox.DefaultGraph()))


def _spellings(store: ox.Store, ids: bool) -> list[str]:
    """What a did-you-mean hint may offer, as kg.graph offers it: the ids, or else every English name, slug and alias."""
    if ids:
        return [row["id"].value for row in _select(store, f"SELECT ?id WHERE {{ {ENTITY} }}")]
    query = f"""SELECT ?id ?label WHERE {{ {ENTITY}
      OPTIONAL {{ {{ ?node rdfs:label ?label FILTER(LANG(?label) = "en") }} UNION {{ ?node skos:altLabel ?label }} }} }}"""
    spellings = []
    for row in _select(store, query):
        spellings.append(row["id"].value.partition("/")[2])
        if row["label"] is not None:
            spellings.append(row["label"].value)
    return spellings


def read_lineage(store: ox.Store, entity: str) -> nx.MultiDiGraph:
    """The part of the stored graph that `kg.graph.format_lineage` prints for `entity` (an id):
    the entity, its family and members, everything upstream and downstream of it along
    the lineage edges, each with its name and release date, and the lineage edges between them.

    The lineage is found through `lkg:descendsFrom` (see `add_closure`) in one query
    each way, and a round more for each step through training data, never by walking
    the graph one edge at a time; then each node found is read once.
    """
    me = f"<{ID}{entity}>"
    nodes = {me}
    members = f"""SELECT ?node ?member WHERE {{ {{ {me} lkg:inFamily ?node BIND(false AS ?member) }}
      UNION {{ ?node lkg:inFamily {me} BIND(true AS ?member) }} }}"""
    family = [(str(row["node"]), row["member"].value == "true") for row in _select(store, members)]
    nodes.update(node for node, _ in family)
    for pattern in ROUNDS.values():
        frontier, walked = [me], {me}
        while frontier:
            through_data = set()
            for values in _batches(frontier):
                for row in _select(store, f"SELECT DISTINCT ?node ?data WHERE {{ VALUES ?x {{ {values} }} {pattern} }}"):
                    node = str(row["node"])
                    nodes.add(node)
                    if row["data"].value == "true":
                        through_data.add(node)
            frontier = sorted(through_data - walked)
            walked |= through_data
    graph = _describe(store, sorted(nodes))
    for node, member in family:
        if node[1:-1].removeprefix(str(ID)) in graph:
            ends = (node[1:-1].removeprefix(str(ID)), entity)
            graph.add_edge(*(ends if member else reversed(ends)), key="family", field="family", relation="family")
    return graph


def _describe(store: ox.Store, nodes: list[str]) -> nx.MultiDiGraph:
    """A graph of `nodes` (IRIs in N-Triples form) with their names, release dates and the lineage
    edges between them. What the store does not name (a dangling reference) is left out."""
    wanted = ", ".join(f"<{p}>" for p in (LABEL, ISSUED, *LINEAGE_EDGES))
    names, released, edges = {}, {}, []
    for values in _batches(nodes):
        for row in _select(store, f"SELECT ?node ?p ?o WHERE {{ VALUES ?node {{ {values} }} ?node ?p ?o FILTER(?p IN ({wanted})) }}"):
            node, predicate, obj = row["node"].value.removeprefix(str(ID)), row["p"].value, row["o"]
            if predicate == LABEL:
                if obj.language == "en":
                    names[node] = obj.value
            elif predicate == ISSUED:
                released[node] = obj.value
            else:
                edges.append((node, obj.value.removeprefix(str(ID)), *LINEAGE_EDGES[predicate]))
    graph = nx.MultiDiGraph()
    for node, name in names.items():
        graph.add_node(node, name=name, **({"released": released[node]} if node in released else {}))
    for source, target, field, relation in edges:
        if source in names and target in names:
            graph.add_edge(source, target, key=relation, field=field, relation=relation)
    return graph


def _batches(nodes: list[str]) -> Iterator[str]:
    """`nodes` a VALUES block at a time."""
    for start in range(0, len(nodes), FRONTIER_BATCH):
        yield " ".join(nodes[start : start + FRONTIER_BATCH])


def _select(store: ox.Store, query: str) -> ox.QuerySolutions:
    return store.query(query, prefixes=QUERY_PREFIXES)


def _string(text: str) -> str:
    """`text` as a SPARQL string literal."""
    return str(ox.Literal(text))


@contextmanager
def hold_store(folder: Path) -> Iterator[None]:
    """Hold a shared lock on the store `folder` while serving it, so that no build replaces it meanwhile.

    Raises RequestError if `folder` is not a store or a build is replacing it.
    """
    folder = Path(folder)
    if not folder.is_dir() or not is_store(folder):
        what = "does not exist" if not folder.exists() else "is not an Oxigraph store"
        if (folder / "graph.json").is_file():  # the output folder of a build: its store is a folder of its own
            hint = f"this is what `kg build` wrote; a store is a folder of its own: `kg build --store {folder / 'store'}`, then --store {folder / 'store'}"
        else:
            hint = f"build one with `kg build --store {folder}`"
        raise RequestError(f"{folder} {what}", hint)
    handle = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RequestError(f"{folder} is being replaced by a build", "wait for `kg build --store` to finish, then start again") from None
        yield
    finally:
        os.close(handle)
