"""SPARQL over the exported graph: questions (ontology/queries) and gates (ontology/checks).

Queries run in Oxigraph (pyoxigraph), loaded from the rdflib export: on the
real catalog the checks take 0.04 s there against 9 s in rdflib's engine,
and Oxigraph is the stricter of the two. The tests run every shipped query
in both engines and compare the rows.

A query is a `.rq` file or a string; a string may use the export's prefixes
without declaring them. A check is a `*-violation.rq` file whose rows are
violations: zero rows means it passes. Each check selects `?entity` (what to
fix) and `?problem` (a sentence saying what is wrong).
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import re
import signal
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyoxigraph as ox
from pyparsing import ParseBaseException, ParseResults
from rdflib import Graph
from rdflib.term import Node

from kg.catalog import Catalog
from kg.errors import Problem, RequestError, suggest
from kg.reader import UnreadableFile, open_regular, read_regular
from kg.store import rdf_format, rdf_input
from kg.stream import term as ntriples_term
from kg.vocab import ID, ONTOLOGY_DIR, ONTOLOGY_FILE, PREFIXES
from kg.worker import engine_syntax_error

if TYPE_CHECKING:
    from rdflib.plugins.sparql.parserutils import CompValue

QUERIES_DIR = ONTOLOGY_DIR / "queries"
CHECKS_DIR = ONTOLOGY_DIR / "checks"
FORMATS = ("table", "csv", "json")
# A local name that reads the same as a prefixed name (model:llama-7b) in a table.
LOCAL_NAME = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]|\.(?=[A-Za-z0-9_-]))*$")
PREFIX_IRIS = {prefix: str(namespace) for prefix, namespace in PREFIXES.items()}
SYNTAX_ERROR = re.compile(r"^error at (\d+):(\d+): (.*)$", re.DOTALL)
# A comment line that goes on with the English question (not the Chinese one, not a blank comment).
QUESTION_LINE = re.compile(r"^# [^\s\u3000-\u9fff]")
SINGLE_WORD = re.compile(r"^[\w-]+$")
MAX_CHECKED_CHARS = 20_000  # of a query: rdflib's parser reads about 40 KB/s, so 0.5 s at most (benchmarks/query_check.py)
# rdflib's parser (pyparsing) learns each parse action's arity on first use, by trial: not safe from two threads at once.
PARSING = threading.Lock()
CODEPOINT = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
DEFAULT_TIMEOUT = 30.0  # seconds
DEFAULT_MAX_ROWS = 100_000


class QueryError(RequestError):
    """A query or graph that cannot be read or run."""


@dataclass(frozen=True)
class QueryResult:
    """A query's whole answer, read to the end: `boolean` for ASK, `triples`
    for CONSTRUCT and DESCRIBE, else `variables` and `rows` (one term or None
    per variable)."""

    boolean: bool | None = None
    triples: list[ox.Triple] | None = None
    variables: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)


@dataclass(frozen=True)
class Violation:
    check: str  # the check's file name without -violation.rq
    entity: str  # the catalog id, or the IRI when it is not a catalog entity
    problem: str


def to_store(*graphs: Graph | Iterable[tuple[Node, Node, Node]]) -> ox.Store:
    """An in-memory Oxigraph store holding the triples of `graphs` (rdflib graphs, or the triples themselves).

    Triples go in sorted, so that even a query without ORDER BY gives its
    rows in the same order whatever the hash seed.
    """
    store = ox.Store()
    for graph in graphs:
        lines = sorted({f"{ntriples_term(s)} {ntriples_term(p)} {ntriples_term(o)} .\n" for s, p, o in graph})
        store.load("".join(lines).encode("utf-8"), format=ox.RdfFormat.N_TRIPLES)
    return store


def load_store(path: Path) -> ox.Store:
    """A store holding an RDF file (Turtle, N-Triples, N-Quads or JSON-LD, told by its suffix, gzipped or not)."""
    form = rdf_format(path)
    if form is None:
        raise QueryError(f"cannot tell the RDF format of {path}", "use a .ttl, .nt, .nq or .jsonld file (or one of them .gz)")
    store = ox.Store()
    try:
        os.close(open_regular(path))  # a FIFO or a device would hang the load: refused first
        with rdf_input(path) as source:
            store.load(source, format=form)
    except UnreadableFile as exc:
        raise QueryError(f"cannot read {path}: {exc}", "give the kg.ttl, kg.nt or kg.jsonld of a kg build") from None
    except OSError as exc:
        raise QueryError(f"cannot read {path}: {exc.strerror or exc}", "run `kg build` first to make build/kg.ttl") from exc
    except SyntaxError as exc:
        raise QueryError(f"{path} is not valid {form.name}: {exc}", "rebuild it with `kg build`") from exc
    return store


def shipped_queries() -> dict[str, str]:
    """The questions of ontology/queries/: file name without `.rq` -> the question in English."""
    return {path.stem: _question(path) for path in sorted(QUERIES_DIR.glob("*.rq"))}


def _question(path: Path) -> str:
    """The English question of a query's header: the `# Question:` line and the comment lines after it."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#") or (lines and not QUESTION_LINE.match(line)):
            break
        if lines or line.startswith("# Question:"):
            lines.append(line.lstrip("# ").removeprefix("Question:").strip())
    question = " ".join(lines)
    return question[:1].upper() + question[1:]


MAX_QUERY_BYTES = 1_000_000  # a query file larger than this is not a query


def read_query(text_or_path: str) -> tuple[str, str]:
    """(query text, where it came from).

    `text_or_path` is the name of a shipped query with or without its number
    (`01-llama-descendants`, `llama-descendants`), a path to a file holding a
    query (any name), or else the query text itself.
    """
    named = _shipped_query(text_or_path)
    if named is not None:
        return named.read_text(encoding="utf-8"), f"ontology/queries/{named.name}"
    if _is_file(text_or_path):
        return _read_query_file(Path(text_or_path))
    if SINGLE_WORD.match(text_or_path):  # no SPARQL is one word: a misspelt name
        names = [name for stem in shipped_queries() for name in (stem, stem.partition("-")[2])]
        raise QueryError(f"no shipped query is named '{text_or_path}'", suggest(text_or_path, names) or _queries_hint())
    if not text_or_path.endswith((".rq", ".sparql")):
        return text_or_path, "query"
    return _read_query_file(Path(text_or_path))


def _is_file(text: str) -> bool:
    try:
        return "\n" not in text and Path(text).is_file()
    except (OSError, ValueError):  # a query text too long or too odd to be a file name
        return False


def _read_query_file(path: Path) -> tuple[str, str]:
    try:
        return read_regular(path, MAX_QUERY_BYTES, "a query").decode("utf-8"), str(path)
    except (OSError, UnicodeDecodeError, UnreadableFile) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc) if isinstance(exc, UnreadableFile) else "not UTF-8"
        raise QueryError(f"cannot read {path}: {reason}", _queries_hint()) from exc


def run_query(
    store: ox.Store,
    text: str,
    where: str = "query",
    timeout: float = DEFAULT_TIMEOUT,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> QueryResult:
    """Run SPARQL on `store`, sandboxed and bounded, and return the whole answer.

    A query that could reach another machine (SERVICE) is refused before it
    runs. Oxigraph cannot be interrupted from Python, so the query runs in a
    forked copy of this process that is killed when `timeout` seconds pass,
    when the answer passes `max_rows` rows, or on Ctrl-C (KeyboardInterrupt
    is raised here once the copy is gone). Raises QueryError naming the line
    and column of a syntax error, or what bound was hit.
    """
    refuse_remote(text, where)
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_answer, args=(store, text, max_rows, sender), daemon=True)
    worker.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            raise QueryError(f"{where}: stopped after {timeout:g} s without an answer", "narrow the query, or give more time with --timeout")
        outcome, payload = receiver.recv()
    except EOFError:
        raise QueryError(f"{where}: the query engine stopped without an answer", "the query may need more memory than there is") from None
    finally:
        receiver.close()
        if worker.is_alive():
            worker.kill()
        worker.join()
    if outcome == "syntax":
        raise explain_syntax_error(payload, where)
    if outcome == "too-many-rows":
        raise QueryError(f"{where}: the answer has more than {max_rows:,} rows", "add LIMIT or narrow the query, or raise --max-rows")
    if outcome == "failed":
        raise QueryError(f"{where}: the query failed: {payload}", "")
    return payload


def refuse_remote(text: str, where: str) -> None:
    """Raise QueryError if the query `text` has a SERVICE pattern in its parse tree (rdflib's SPARQL parser),
    or if that parser cannot read it: a query it cannot check is refused, not passed unchecked.

    The query is read as Oxigraph reads it, as written; when it holds \\u escapes, also with them
    resolved first, as SPARQL 1.1 says (rdflib's own reading). When the parser cannot read it, the
    engine (on an empty store, in a process that can open no socket) says whether it has a syntax
    error, and that is the error; if the engine reads it, it is refused as unchecked.
    """
    if len(text) > MAX_CHECKED_CHARS:
        raise QueryError(f"{where}: a query of more than {MAX_CHECKED_CHARS:,} characters is refused", "narrow it; a long list of values belongs in a file of data, not in a query")
    readings = [text, CODEPOINT.sub(_codepoint, text)] if CODEPOINT.search(text) else [text]
    unread = None  # why the parser cannot read the query as written
    for reading in readings:
        try:
            with PARSING:
                from rdflib.plugins.sparql.parser import Query  # its grammar takes 0.08 s to make: only for the queries checked

                tree = Query.parse_string(reading, parse_all=True)
        except (ParseBaseException, RecursionError) as exc:
            if reading is text:  # the resolved reading only adds a chance to find SERVICE
                unread = exc
            continue
        service = _service_pattern(tree)
        if service is not None:
            at = max(reading.find(service["service_string"]), 0)
            line = reading.count("\n", 0, at) + 1
            column = at - (reading.rfind("\n", 0, at) + 1) + 1
            raise QueryError(
                f"{where}:{line}:{column}: SERVICE is refused: queries here never reach another machine",
                "query the local graph only; to federate, load build/kg.nt into an endpoint of your own",
            )
    if unread is not None:
        _refuse_unchecked(text, where, unread)


def _service_pattern(tree: object) -> CompValue | None:
    """The first SERVICE pattern of a parse tree, at any depth (groups, subqueries, OPTIONAL, UNION, MINUS, EXISTS), or None."""
    from rdflib.plugins.sparql.parserutils import CompValue

    todo = [tree]
    while todo:  # a stack, not recursion: a deep tree is not a deep Python stack
        node = todo.pop()
        if isinstance(node, CompValue):
            if node.name == "ServiceGraphPattern":
                return node
            todo.extend(reversed(list(node.values())))
        elif isinstance(node, (list, tuple, ParseResults)):
            todo.extend(reversed(list(node)))
    return None


def _refuse_unchecked(text: str, where: str, exc: Exception) -> None:
    """Raise the engine's syntax error for `text`, or, if the engine reads it, a refusal: it could not be checked."""
    message = engine_syntax_error(text, PREFIX_IRIS)
    if message is not None:
        raise explain_syntax_error(message, where)
    at = f"{exc.lineno}:{exc.col}" if isinstance(exc, ParseBaseException) else "1:1"
    raise QueryError(
        f"{where}:{at}: the query cannot be checked for SERVICE, so it is refused: the checking parser (rdflib's) stops here, though the engine would read it",
        "write it in plain SPARQL 1.1: a character itself rather than a \\u escape, and no RDF-star",
    )


def _codepoint(match: re.Match) -> str:
    code = int(match.group(1) or match.group(2), 16)
    return chr(code) if code <= 0x10FFFF else match.group(0)


def _answer(store: ox.Store, text: str, max_rows: int, sender) -> None:  # noqa: ANN001
    """In the forked worker: evaluate, read the answer whole, send it back, exit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and kills us
    try:
        result = store.query(text, prefixes=PREFIX_IRIS)
        if isinstance(result, ox.QueryBoolean):
            message = ("ok", QueryResult(boolean=bool(result)))
        elif isinstance(result, ox.QueryTriples):
            triples = _bounded(result, max_rows)
            message = ("too-many-rows", None) if triples is None else ("ok", QueryResult(triples=triples))
        else:
            variables = [variable.value for variable in result.variables]
            rows = _bounded((tuple(row[name] for name in variables) for row in result), max_rows)
            message = ("too-many-rows", None) if rows is None else ("ok", QueryResult(variables=variables, rows=rows))
    except SyntaxError as exc:
        message = ("syntax", str(exc))
    except Exception as exc:  # noqa: BLE001 (anything the engine raises goes back as a message)
        message = ("failed", str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
    try:
        sender.send(message)
    finally:
        os._exit(0)  # no atexit handlers or buffers of the parent's copy


def _bounded(items, max_rows: int) -> list | None:  # noqa: ANN001
    out = []
    for item in items:
        if len(out) == max_rows:
            return None
        out.append(item)
    return out


def explain_syntax_error(message: str, where: str) -> QueryError:
    match = SYNTAX_ERROR.match(message)
    line, column, reason = match.groups() if match else ("1", "1", message)
    if "Prefix not found" in reason:
        reason = "unknown prefix"
        hint = f"declare it with PREFIX; these need no declaration: {', '.join(PREFIXES)}"
    else:
        reason = reason.splitlines()[0][:120]
        hint = "see https://www.w3.org/TR/sparql11-query/ for the grammar"
    return QueryError(f"{where}:{line}:{column}: SPARQL syntax error: {reason}", hint)


def format_result(result: QueryResult, form: str) -> str:
    """The rows as an aligned text table (prefixed names), CSV or SPARQL JSON (full IRIs)."""
    if result.boolean is not None:
        if form == "json":
            return json.dumps({"head": {}, "boolean": result.boolean}) + "\n"
        return f"{'yes' if result.boolean else 'no'}\n"
    if result.triples is not None:
        return "".join(f"{triple.subject} {triple.predicate} {triple.object} .\n" for triple in result.triples)
    names = result.variables
    if form == "json":
        return _results_json(result) + "\n"
    shorten = form == "table"
    rows = [[_cell(term, shorten) for term in row] for row in result.rows]
    if form == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(rows)
        return buffer.getvalue()
    widths = [max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(names)]
    lines = ["  ".join(name.ljust(w) for name, w in zip(names, widths)).rstrip()]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.append(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")
    return "\n".join(lines) + "\n"


def _results_json(result: QueryResult) -> str:
    """SPARQL 1.1 Query Results JSON (https://www.w3.org/TR/sparql11-results-json/)."""
    bindings = []
    for row in result.rows:
        binding = {}
        for name, term in zip(result.variables, row):
            if isinstance(term, ox.NamedNode):
                binding[name] = {"type": "uri", "value": term.value}
            elif isinstance(term, ox.BlankNode):
                binding[name] = {"type": "bnode", "value": term.value}
            elif isinstance(term, ox.Literal):
                binding[name] = {"type": "literal", "value": term.value}
                if term.language:
                    binding[name]["xml:lang"] = term.language
                elif term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
                    binding[name]["datatype"] = term.datatype.value
        bindings.append(binding)
    return json.dumps({"head": {"vars": result.variables}, "results": {"bindings": bindings}}, ensure_ascii=False)


def _cell(term: ox.NamedNode | ox.Literal | ox.BlankNode | None, shorten: bool) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    if shorten and isinstance(term, ox.NamedNode):
        return prefixed_name(term.value)
    return term.value


def prefixed_name(iri: str) -> str:
    """`iri` as a prefixed name (`spdx:Apache-2.0`) under the export's prefixes, else unchanged."""
    for prefix, namespace in PREFIX_IRIS.items():
        local = iri[len(namespace) :]
        if iri.startswith(namespace) and LOCAL_NAME.match(local):
            return f"{prefix}:{local}"
    return iri


def run_checks(rdf: Graph | Iterable[tuple[Node, Node, Node]], skip: tuple[str, ...] = ()) -> list[Violation]:
    """Run every ontology/checks/*-violation.rq over the export plus the ontology,
    but for the checks named in `skip` (file names without -violation.rq).

    The checks are the package's own queries, not a user's: they run here, in this process, without the
    sandbox of `run_query` (a fork and a parse for SERVICE each, 0.5 s of a 3.7 s build of the bundled catalog).
    tests/test_query.py holds each to the sandbox's terms: no SERVICE, and the rows `run_query` gives."""
    store = to_store(rdf)
    store.load(path=str(ONTOLOGY_FILE), format=ox.RdfFormat.TURTLE)
    violations = []
    for path in sorted(CHECKS_DIR.glob("*-violation.rq")):
        check = path.name.removesuffix("-violation.rq")
        if check in skip:
            continue
        for row in store.query(path.read_text(encoding="utf-8")):
            violations.append(Violation(check, row["entity"].value.removeprefix(str(ID)), row["problem"].value))
    return sorted(violations, key=lambda v: (v.check, v.entity, v.problem))


def report_violations(catalog: Catalog, violations: list[Violation]) -> list[Problem]:
    """Each violation as a Problem at the line of the entity's file that holds its id.

    A violation about something that is not a catalog entity (a term the
    ontology lacks, say) is reported at the check's own file.
    """
    problems = []
    for violation in violations:
        known = violation.entity in catalog.paths
        where = catalog.paths[violation.entity] if known else f"ontology/checks/{violation.check}-violation.rq"
        line = catalog.line_of(violation.entity, ("id",)) if known else 1
        problems.append(Problem(where, line, "", f"{violation.problem} [{violation.check}]"))
    return problems


def _shipped_query(name: str) -> Path | None:
    for path in QUERIES_DIR.glob("*.rq"):
        if name in (path.stem, path.stem.partition("-")[2]):
            return path
    return None


def _queries_hint() -> str:
    names = [f"{name}.rq" for name in shipped_queries()]
    return f"the shipped queries are in ontology/queries/: {', '.join(names)}" if names else ""
