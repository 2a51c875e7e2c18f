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
import re
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
from rdflib import Graph

from kg.catalog import Catalog
from kg.errors import Problem, RequestError, suggest
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


class QueryError(RequestError):
    """A query or graph that cannot be read or run."""


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
        lines = sorted(graph.serialize(format="nt", encoding="utf-8").splitlines(keepends=True))
        store.load(b"".join(lines), format=ox.RdfFormat.N_TRIPLES)
    return store


def load_store(path: Path) -> ox.Store:
    """A store holding an RDF file (Turtle, N-Triples or JSON-LD, told by its suffix)."""
    form = ox.RdfFormat.from_extension(path.suffix.lstrip("."))
    if form is None:
        raise QueryError(f"cannot tell the RDF format of {path}", "use a .ttl, .nt or .jsonld file")
    store = ox.Store()
    try:
        store.load(path=str(path), format=form)
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


def read_query(text_or_path: str) -> tuple[str, str]:
    """(query text, where it came from).

    `text_or_path` is a path to an .rq file, the name of a shipped query with
    or without its number (`01-llama-descendants`, `llama-descendants`), or
    else the query text itself.
    """
    named = _shipped_query(text_or_path)
    if named is not None:
        return named.read_text(encoding="utf-8"), f"ontology/queries/{named.name}"
    if SINGLE_WORD.match(text_or_path):  # no SPARQL is one word: a misspelt name
        names = [name for stem in shipped_queries() for name in (stem, stem.partition("-")[2])]
        raise QueryError(f"no shipped query is named '{text_or_path}'", suggest(text_or_path, names) or _queries_hint())
    if not text_or_path.endswith(".rq"):
        return text_or_path, "query"
    path = Path(text_or_path)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise QueryError(f"cannot read {path}: {reason}", _queries_hint()) from exc


def run_query(store: ox.Store, text: str, where: str = "query"):  # noqa: ANN201 (pyoxigraph's result types)
    """Run SPARQL on `store`; raise QueryError naming the line and column of a syntax error."""
    try:
        return store.query(text, prefixes=PREFIX_IRIS)
    except SyntaxError as exc:
        match = SYNTAX_ERROR.match(str(exc))
        line, column, reason = match.groups() if match else ("1", "1", str(exc))
        if "Prefix not found" in reason:
            reason = "unknown prefix"
            hint = f"declare it with PREFIX; these need no declaration: {', '.join(PREFIXES)}"
        else:
            reason = reason.splitlines()[0][:120]
            hint = "see https://www.w3.org/TR/sparql11-query/ for the grammar"
        raise QueryError(f"{where}:{line}:{column}: SPARQL syntax error: {reason}", hint) from exc


def format_result(result, form: str) -> str:  # noqa: ANN001
    """The rows as an aligned text table (prefixed names), CSV or SPARQL JSON (full IRIs)."""
    if isinstance(result, ox.QueryBoolean):
        return f"{'yes' if result else 'no'}\n"
    if isinstance(result, ox.QueryTriples):
        return "".join(f"{triple.subject} {triple.predicate} {triple.object} .\n" for triple in result)
    if form == "json":
        return result.serialize(format=ox.QueryResultsFormat.JSON).decode("utf-8") + "\n"
    names = [variable.value for variable in result.variables]
    shorten = form == "table"
    rows = [[_cell(row[name], shorten) for name in names] for row in result]
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


def run_checks(rdf: Graph) -> list[Violation]:
    """Run every ontology/checks/*-violation.rq over the export plus the ontology."""
    store = to_store(rdf)
    store.load(path=str(ONTOLOGY_FILE), format=ox.RdfFormat.TURTLE)
    violations = []
    for path in sorted(CHECKS_DIR.glob("*-violation.rq")):
        check = path.name.removesuffix("-violation.rq")
        for row in run_query(store, path.read_text(encoding="utf-8"), str(path)):
            entity = row["entity"].value.removeprefix(str(ID))
            violations.append(Violation(check, entity, row["problem"].value))
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
