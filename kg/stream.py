"""The RDF export of a large graph, written as it is produced, without rdflib.

rdflib's serializers hold the whole graph and spend most of their time
choosing prefixed names (about 16 s per 100,000 triples for Turtle); a
million Hub models give tens of millions of triples. Here the triples arrive
as *blocks*, one subject with its (predicate, object) pairs, every term
already in N-Triples form (`<iri>`, `"text"@en`, `"1"^^<…#integer>`), and
each block is written at once to each file asked for (N-Triples, Turtle,
JSON-LD). Nothing is kept but the blocks of one batch and a bounded cache of
prefixed names, so memory does not grow with the graph.

Blocks are written in the order they come: the caller makes that order
deterministic (the curated part sorted, imported entities in the order of
their source). The small catalog without sources is written by the same
writers, sorted (`kg.rdf.serialize`); `tests/test_scale.py` parses what this
module writes with pyoxigraph and rdflib and compares it with rdflib's graph.
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, TextIO

from rdflib import Graph, Literal, URIRef

from kg.errors import OutputError
from kg.vocab import PREFIXES

Block = tuple[str, list[tuple[str, str]]]
NamedBlock = tuple[str, str, list[tuple[str, str]]]  # a graph's name, then a block of that graph (kg.nq only)
BATCH = 2000  # blocks gathered before each write
FILES = ("kg.nt", "kg.ttl", "kg.nq", "kg.jsonld")
DEFAULT_FILES = ("kg.nt", "kg.ttl", "kg.jsonld")  # kg.nq (the records' claims in named graphs) when asked for
TABLE_FILES = ("entities.parquet", "edges.parquet")  # a Hub build's lineage, in kg.tables' form
GZIP_LEVEL = 1  # a third of level 6's time for files about 10% larger: the export is the build's slowest stage
SYNC_BYTES = 64 << 20  # bytes of an export written between two syncs (SyncedFile)
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
XSD_BOOLEAN = "<http://www.w3.org/2001/XMLSchema#boolean>"
XSD_INTEGER = "<http://www.w3.org/2001/XMLSchema#integer>"
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
# What N-Triples and Turtle strings must escape, and the other control characters, which JSON
# must escape (the same text then serves JSON-LD); everything else is written as UTF-8. The line
# and paragraph separators and NEL are escaped too: rdflib's N-Triples reader splits lines at them.
# A lone surrogate (from a JSON escape in a dump) has no UTF-8 form: it becomes U+FFFD.
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t",
                          **{chr(c): f"\\u{c:04X}" for c in (*range(32), 0x85, 0x2028, 0x2029) if chr(c) not in "\n\r\t"},
                          **{chr(c): "\uFFFD" for c in range(0xD800, 0xE000)}})
# The keys of _ESCAPES: translate costs 6x a search, and most texts need nothing.
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\\x85\u2028\u2029\ud800-\udfff]')
# RFC 3987: the characters an IRI may hold as they are (unreserved, reserved but for the brackets
# of an IPv6 host, and `ucschar` without the separators rdflib splits lines at); anything else,
# and a `%` not followed by two hex digits, is percent-encoded.
_IRI_OK = ("A-Za-z0-9\\-._~:/?#@!$&'()*+,;=%\u00a0-\u2027\u202a-\ud7ff\uf900-\ufdcf\ufdf0-\uffef"
           + "".join(f"\\U{p:04X}0000-\\U{p:04X}FFFD" for p in range(1, 15)))
_BAD_IRI = re.compile(f"[^{_IRI_OK}]|%(?![0-9A-Fa-f]{{2}})")
_PLAIN_IRI = re.compile(r"[A-Za-z0-9\-._~:/?#@!$&'()*+,;=]*")  # no `%`: an escape is checked by _BAD_IRI
_IPV6_HOST = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?\[[0-9A-Fa-f:.]+\]")
# A local name Turtle takes after a prefix without escapes (a subset of PN_LOCAL).
_LOCAL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]|\.(?=[A-Za-z0-9_-]))*$")
_NAMESPACES = {str(namespace): prefix for prefix, namespace in PREFIXES.items()}


def iri(text: str) -> str:
    """An IRI term; characters no IRI may hold (a space in a URL from a dump, `[`, DEL, U+FFFF, a
    stray `%`) are percent-encoded, so every parser reads the term back."""
    if not _PLAIN_IRI.fullmatch(text) and _BAD_IRI.search(text):  # the plain ASCII class first: most IRIs, and 3x quicker
        host = _IPV6_HOST.match(text)
        keep = host.end() if host else 0
        text = text[:keep] + _BAD_IRI.sub(_percent_encode, text[keep:])
    return f"<{text}>"


def _percent_encode(match: re.Match) -> str:
    return "".join(f"%{b:02X}" for b in match.group().encode("utf-8", "surrogatepass"))


def literal(text: str, lang: str | None = None, datatype: str | None = None) -> str:
    """A literal term: plain, with a language tag, or typed by a datatype IRI."""
    quoted = f'"{text.translate(_ESCAPES) if _NEEDS_ESCAPE.search(text) else text}"'
    if lang:
        return f"{quoted}@{lang}"
    return f"{quoted}^^<{datatype}>" if datatype and datatype != XSD_STRING else quoted


@lru_cache(maxsize=1 << 17)
def term(node: URIRef | Literal) -> str:
    """An rdflib term (the curated graph has no blank nodes) in N-Triples form; predicates,
    classes and entities recur, and the checks' store and the export ask for the same terms."""
    if isinstance(node, Literal):
        return literal(str(node), node.language, str(node.datatype) if node.datatype else None)
    if isinstance(node, URIRef):
        return iri(str(node))
    raise OutputError(f"internal error: cannot stream the RDF term {node!r} (blank nodes are not written)")


def graph_blocks(rdf: Graph | Iterable[tuple]) -> Iterator[Block]:
    """The triples of a (small) rdflib graph, or of a set of rdflib triples, as blocks, subjects and pairs sorted."""
    by_subject: dict[str, list[tuple[str, str]]] = {}
    for s, p, o in rdf:
        by_subject.setdefault(term(s), []).append((term(p), term(o)))
    for subject in sorted(by_subject):
        yield subject, sorted(set(by_subject[subject]), key=lambda pair: (pair[0] != RDF_TYPE, pair))


def has_tables(folder: Path) -> bool:
    """Whether `folder` holds a Hub build's lineage tables (TABLE_FILES), which kg.tables reads."""
    return all((Path(folder) / name).is_file() for name in TABLE_FILES)


def output_name(name: str, compress: bool = False) -> str:
    """The file a format is written to: kg.nt, or kg.nt.gz when compressed."""
    return f"{name}.gz" if compress else name


def compressed(outputs: Mapping[str, bytes], files: Iterable[str], compress: bool = False) -> dict[str, bytes]:
    """The RDF files of `files` from a catalog serialized whole (`kg.rdf.serialize`), under their output
    names: kg.nq is kg.nt (a catalog alone has only the default graph), each gzipped when `compress`."""
    outputs = {**outputs, "kg.nq": outputs["kg.nt"]}
    return {output_name(name, compress): gzip.compress(outputs[name], GZIP_LEVEL, mtime=0) if compress else outputs[name] for name in files}


def write_exports(folder: Path, blocks: Iterable[Block], files: Iterable[str] = DEFAULT_FILES, named: Iterable[NamedBlock] = (),
                  compress: bool = False) -> int:
    """Write `files` (some of kg.nt, kg.ttl, kg.nq and kg.jsonld; .gz each when `compress`) of `blocks` into
    `folder`, then the `named` graphs' blocks into kg.nq; return the number of triples of the default graph.

    Raises OutputError (disk full, unwritable folder) with the file's name.
    """
    try:
        with ExitStack() as stack:
            handles = {name: _open_text(Path(folder) / output_name(name, compress), stack) for name in files}
            count = write_blocks(blocks, handles)
            if "kg.nq" in handles:
                write_named(named, handles["kg.nq"])
    except OSError as exc:
        shown = Path(exc.filename).name if exc.filename else "the RDF export"
        reason = "disk full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
        raise OutputError(f"{reason} while writing {shown}") from exc
    return count


class SyncedFile(io.FileIO):
    """A new file (`open(path, "xb")`, unbuffered) that is synced to disk every SYNC_BYTES as it grows, each part's
    pages then handed back to the kernel (POSIX_FADV_DONTNEED): gigabytes of export do not crowd the page cache
    out of other files, and the next part is written into pages just freed. On the 2-core VM of
    benchmarks/RESULTS.md, 4 GB took 3.5 s this way against 18.2 s into the page cache alone
    (benchmarks/write_pages.py). A part is synced by a thread of its own while the next is written (one sync
    at a time, in order); closing waits for the last, and a sync's error is raised by the next write or the close."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "xb")
        self.synced = 0  # bytes handed to the syncing thread
        self._syncing: threading.Thread | None = None
        self._failed: OSError | None = None

    def write(self, data) -> int:  # noqa: ANN001 (bytes-like)
        self._raise()
        written = super().write(data)
        end = self.tell()
        if end - self.synced >= SYNC_BYTES:
            self._wait()  # the part before, so one is synced at a time
            self._syncing = threading.Thread(target=self._sync, args=(self.synced, end), name="kg-sync", daemon=True)
            self._syncing.start()
            self.synced = end
        return written

    def _sync(self, start: int, end: int) -> None:
        try:
            os.fdatasync(self.fileno())
            if hasattr(os, "posix_fadvise"):  # Linux; elsewhere the part stays cached
                os.posix_fadvise(self.fileno(), start, end - start, os.POSIX_FADV_DONTNEED)
        except OSError as exc:
            self._failed = exc

    def _wait(self) -> None:
        """Wait for the part being synced, if any, and raise its error."""
        if self._syncing is not None:
            self._syncing.join()
            self._syncing = None
        self._raise()

    def _raise(self) -> None:
        if self._failed is not None:
            failed, self._failed = self._failed, None
            raise failed

    def close(self) -> None:
        if not self.closed:
            try:
                self._wait()
            finally:
                super().close()


def open_output(path: Path) -> io.BufferedWriter:
    """A new binary file for a large export: a SyncedFile behind a 1 MB buffer."""
    return io.BufferedWriter(SyncedFile(path), 1 << 20)


def open_export(path: Path, stack: ExitStack) -> BinaryIO:
    """A new binary file (gzipped when its name ends in .gz), finished and synced to disk when `stack`
    closes: on disk before the folder is swapped in, like every other output."""
    raw = stack.enter_context(open_output(path))
    packed = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0) if path.suffix == ".gz" else None

    def finish() -> None:
        if packed is not None:
            packed.close()  # the gzip trailer; the file itself stays open
        raw.flush()
        os.fsync(raw.fileno())

    stack.callback(finish)
    return packed or raw


def _open_text(path: Path, stack: ExitStack) -> TextIO:
    """open_export's file as text."""
    text = io.TextIOWrapper(open_export(path, stack), encoding="utf-8", newline="\n")

    def finish() -> None:
        text.flush()
        text.detach()  # closing the wrapper would close the file before it is synced

    stack.callback(finish)
    return text


def write_named(named: Iterable[NamedBlock], handle: TextIO) -> int:
    """Write each named graph's blocks to an N-Quads stream; return the number of quads."""
    count, pending = 0, []
    for n, (graph, subject, pairs) in enumerate(named, 1):
        count += len(pairs)
        pending.append("".join([f"{subject} {p} {o} {graph} .\n" for p, o in pairs]))
        if n % BATCH == 0:
            handle.write("".join(pending))
            pending.clear()
    handle.write("".join(pending))
    return count


def write_blocks(blocks: Iterable[Block], handles: Mapping[str, TextIO]) -> int:
    """Write `blocks` to text streams (file name in FILES -> stream) in each one's format; return the number of triples.
    kg.nq gets them as N-Triples: the default graph."""
    writers = [(_WRITERS[name], handle, []) for name, handle in handles.items()]
    for name, handle in handles.items():
        handle.write(_HEADERS[name])
    count = 0
    separator = "\n  "  # before each JSON-LD node: the first one's, then the others'
    for n, (subject, pairs) in enumerate(blocks, 1):
        count += len(pairs)
        for write, _, pending in writers:
            pending.append(write(subject, pairs, separator))
        separator = ",\n  "
        if n % BATCH == 0:
            _flush(writers)
    _flush(writers)
    for name, handle in handles.items():
        handle.write(_FOOTERS[name])
    return count


def _flush(writers: list[tuple[Callable, TextIO, list[str]]]) -> None:
    """Write what is pending, one call per file (a call per block costs more than the writing)."""
    for _, handle, pending in writers:
        handle.write("".join(pending))
        pending.clear()


def _compact(node: str, cache: dict[str, str] = {}) -> str:  # noqa: B006 (the cache is meant to persist)
    """`<iri>` as prefix:local where a declared prefix and a plain local name allow it."""
    found = cache.get(node)
    if found is not None:
        return found
    text = node[1:-1]
    cut = max(text.rfind("/"), text.rfind("#")) + 1
    prefix = _NAMESPACES.get(text[:cut])
    short = f"{prefix}:{text[cut:]}" if prefix and _LOCAL.match(text[cut:]) else node
    if len(cache) >= 100_000:  # predicates and classes recur everywhere, an entity's IRI near its other blocks
        cache.clear()
    cache[node] = short
    return short


def _turtle_term(node: str) -> str:
    if node[0] == "<":
        return _compact(node)
    at = node.rfind('"^^<')
    if at < 0:
        return node
    text, datatype = node[1:at], node[at + 3:]
    if datatype == XSD_BOOLEAN and text in ("true", "false") or datatype == XSD_INTEGER and _INTEGER.match(text):
        return text  # Turtle's own forms of these two
    return f"{node[:at + 3]}{_compact(datatype)}"


def _ntriples_block(subject: str, pairs: list[tuple[str, str]], _: str) -> str:
    return "".join([f"{subject} {p} {o} .\n" for p, o in pairs])


def _turtle_block(subject: str, pairs: list[tuple[str, str]], _: str) -> str:
    lines = []
    previous = None
    for p, o in pairs:
        if p == previous:
            lines[-1] += f", {_turtle_term(o)}"
        else:
            lines.append(f"{'a' if p == RDF_TYPE else _compact(p)} {_turtle_term(o)}")
            previous = p
    return f"{_compact(subject)} " + " ;\n    ".join(lines) + " .\n\n"


def _jsonld_node(subject: str, pairs: list[tuple[str, str]], separator: str) -> str:
    """One node object of the @graph, after `separator`. Terms are reused as JSON text: the escapes
    `literal` and `iri` leave in them are JSON escapes too."""
    grouped: dict[str, list[str]] = {}
    for p, o in pairs:
        if p == RDF_TYPE:
            grouped.setdefault('"@type"', []).append(f'"{_compact(o).strip("<>")}"')
        else:
            grouped.setdefault(f'"{_compact(p).strip("<>")}"', []).append(_jsonld_value(o))
    members = "".join(f", {key}: [{', '.join(values)}]" for key, values in grouped.items())
    return f'{separator}{{"@id": "{subject[1:-1]}"{members}}}'


def _jsonld_value(node: str) -> str:
    if node[0] == "<":
        return f'{{"@id": "{node[1:-1]}"}}'
    end = node.rfind('"')
    value = f'{{"@value": {node[:end + 1]}'
    if node[end + 1:end + 2] == "@":
        return f'{value}, "@language": "{node[end + 2:]}"}}'
    if node[end + 1:end + 3] == "^^":
        return f'{value}, "@type": "{node[end + 4:-1]}"}}'
    return value + "}"


_WRITERS = {"kg.nt": _ntriples_block, "kg.nq": _ntriples_block, "kg.ttl": _turtle_block, "kg.jsonld": _jsonld_node}
_HEADERS = {
    "kg.nt": "",
    "kg.nq": "",
    "kg.ttl": "".join(f"@prefix {prefix}: <{namespace}> .\n" for prefix, namespace in PREFIXES.items()) + "\n",
    "kg.jsonld": '{"@context": ' + json.dumps({prefix: str(namespace) for prefix, namespace in PREFIXES.items()}, ensure_ascii=False) + ',\n "@graph": [',
}
_FOOTERS = {"kg.nt": "", "kg.nq": "", "kg.ttl": "", "kg.jsonld": "\n ]\n}\n"}
