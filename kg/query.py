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
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from rdflib import Graph

from kg.catalog import Catalog
from kg.errors import Problem, RequestError, suggest
from kg.reader import UnreadableFile, open_regular, read_regular
from kg.stream import term as ntriples_term
from kg.vocab import ID, ONTOLOGY_DIR, ONTOLOGY_FILE, PREFIXES

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
# SPARQL's terminals (https://www.w3.org/TR/sparql11-query/#terminals), enough to read a
# query as Oxigraph reads it and tell its keywords from its strings, IRIs, names and comments.
# SERVICE is the one keyword refused: it makes the engine send requests to other machines.
_BASE = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c\u200d\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
_CHARS = _BASE + "_0-9\u00b7\u0300-\u036f\u203f\u2040\\-"
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_LOCAL = rf"(?:[{_BASE}_:0-9]|{_PLX})(?:(?:[{_CHARS}.:]|{_PLX})*(?:[{_CHARS}:]|{_PLX}))?"
TOKEN = re.compile(
    r'(?:"""(?:(?:"|"")?(?:[^"\\]|\\[\s\S]))*"""' r"|'''(?:(?:'|'')?(?:[^'\\]|\\[\s\S]))*'''"  # long strings
    r'|"(?:[^"\\\n\r]|\\.)*"' r"|'(?:[^'\\\n\r]|\\.)*'"  # short strings
    r'|<(?:[^<>"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*>'  # IRIs
    r"|#[^\r\n]*"  # comments
    rf"|[?$][{_BASE}_0-9\u00b7\u0300-\u036f\u203f\u2040]+|_:[{_BASE}_0-9](?:[{_CHARS}.]*[{_CHARS}])?|@[A-Za-z]+(?:-[A-Za-z0-9]+)*)"  # variables, blank nodes, language tags
    rf"|(?P<prefix>[{_BASE}](?:[{_CHARS}.]*[{_CHARS}])?)?:(?:{_LOCAL})?"  # prefixed names
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"  # keywords, function names
    r"|[\s\S]"  # anything else, one character at a time
)
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


def to_store(*graphs: Graph) -> ox.Store:
    """An in-memory Oxigraph store holding the triples of `graphs`.

    Triples go in sorted, so that even a query without ORDER BY gives its
    rows in the same order whatever the hash seed.
    """
    store = ox.Store()
    for graph in graphs:
        lines = sorted({f"{ntriples_term(s)} {ntriples_term(p)} {ntriples_term(o)} .\n" for s, p, o in graph})
        store.load("".join(lines).encode("utf-8"), format=ox.RdfFormat.N_TRIPLES)
    return store


def load_store(path: Path) -> ox.Store:
    """A store holding an RDF file (Turtle, N-Triples or JSON-LD, told by its suffix)."""
    form = ox.RdfFormat.from_extension(path.suffix.lstrip("."))
    if form is None:
        raise QueryError(f"cannot tell the RDF format of {path}", "use a .ttl, .nt or .jsonld file")
    store = ox.Store()
    try:
        os.close(open_regular(path))  # a FIFO or a device would hang the load: refused first
        store.load(path=str(path), format=form)
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
    """Raise QueryError if `text` holds the SERVICE keyword, read as SPARQL tokens (see TOKEN).

    So SERVICE inside a string, an IRI, a comment or a prefixed name is let
    through whatever its escapes, and SERVICE as a keyword is refused even
    glued to what follows (`SERVICE<http://...>`, `SERVICE:x` with the empty
    prefix). The query is read twice: as written, as Oxigraph reads it, and
    with its \\u escapes resolved first, as SPARQL 1.1 says; either refuses.
    """
    for reading in (text, CODEPOINT.sub(_codepoint, text)):
        at = _remote_keyword(reading)
        if at is not None:
            line = reading.count("\n", 0, at) + 1
            column = at - (reading.rfind("\n", 0, at) + 1) + 1
            raise QueryError(
                f"{where}:{line}:{column}: SERVICE is refused: queries here never reach another machine",
                "query the local graph only; to federate, load build/kg.nt into an endpoint of your own",
            )


def _remote_keyword(text: str) -> int | None:
    """Where the first SERVICE keyword of `text` starts (also as the prefix of a prefixed name), or None."""
    position = 0
    while position < len(text):
        token = TOKEN.match(text, position)
        keyword = token["word"] or token["prefix"]
        if keyword is not None and keyword.upper() == "SERVICE":
            return position
        position = token.end()
    return None


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


def run_checks(rdf: Graph, skip: tuple[str, ...] = ()) -> list[Violation]:
    """Run every ontology/checks/*-violation.rq over the export plus the ontology,
    but for the checks named in `skip` (file names without -violation.rq)."""
    store = to_store(rdf)
    store.load(path=str(ONTOLOGY_FILE), format=ox.RdfFormat.TURTLE)
    violations = []
    for path in sorted(CHECKS_DIR.glob("*-violation.rq")):
        check = path.name.removesuffix("-violation.rq")
        if check in skip:
            continue
        result = run_query(store, path.read_text(encoding="utf-8"), str(path))
        column = {name: i for i, name in enumerate(result.variables)}
        for row in result.rows:
            entity = row[column["entity"]].value.removeprefix(str(ID))
            violations.append(Violation(check, entity, row[column["problem"]].value))
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
