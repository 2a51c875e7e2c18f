"""The `kg` command line.

Exit codes: 0 success; 1 bad catalog or bad request (the message says what
and where); 2 an output could not be written (the previous output is kept);
3 an internal error (nothing is written); 64 a command line that does not
parse (a misspelt command or option; the usage of the command is printed);
130 stopped with Ctrl-C.

Messages go to stderr through the `logging` module (logger "kg"): stage
lines and progress bars on a terminal, warnings and errors everywhere;
`-q` keeps only errors, `-v` adds the details.
"""

from __future__ import annotations

if __name__ == "__main__":  # `python -m kg.cli`: quiet under Ctrl-C before the libraries below load
    from kg.interrupts import hold_interrupts

    hold_interrupts()

import argparse
import gc
import json
import logging
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import NoReturn

from kg.catalog import Catalog, load_catalog
from kg.errors import CatalogError, OutputError, Problem, RequestError, suggest
from kg.entities import FOLDERS
from kg.bom import FORMATS as BOM_FORMATS, make_bom
from kg.build import Build, build, check_outputs, publish
from kg.graph import count_by_kind_and_relation, find_node, format_lineage, load_graph
from kg.html import render_html, select_view
from kg.__main__ import run
from kg.interrupts import release_interrupts
from kg.publish import locked, published, sweep_temporaries, write_atomically
from kg.explore import KnowledgeGraph
from kg.merge import DEFAULT_ORDER, format_conflicts, format_decisions, format_report, merge, read_sources, write_drafts
from kg.query import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT, FORMATS, format_result, load_store, read_query, run_query, to_store
from kg.serve import DEFAULT_WORKER_MEMORY, DEFAULT_WORKERS, REQUEST_SECONDS, check_bind, serve
from kg.store import find_entity, open_store, read_lineage
from kg.stream import DEFAULT_FILES, FILES as STREAMED, TABLE_FILES, has_tables, output_name
from kg.terms import compute_all, compute_terms, format_terms
from kg.terms import format_conflicts as format_terms_conflicts

USAGE = 64  # sysexits' EX_USAGE: 2, argparse's own, means here that an output could not be written
log = logging.getLogger("kg")

# Shown under each command's --help; docs/reference/cli.md is generated from the same parser.
EXAMPLES = {
    "validate": ["kg validate", "kg validate --strict --data my-catalog/"],
    "build": ["kg build", "kg build --out site/ --formats nt,ttl", "kg build --source huggingface=hub.jsonl --store build/store"],
    "lineage": ["kg lineage Vicuna-13B", "kg lineage model/llama-7b --depth 1", "kg lineage --graph build/graph.json model/llama-2-7b"],
    "terms": ["kg terms Vicuna-13B", "kg terms dataset/sharegpt --format json", "kg terms --conflicts"],
    "stats": ["kg stats"],
    "query": ["kg query llama-descendants", "kg query my-question.rq --format csv", "kg query --graph build/kg.nt 'SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }'"],
    "html": ["kg html", "kg html --focus Koala-13B --depth 2 --out koala.html"],
    "import": ["kg import open-llms open-llms/README.md", "kg import dpc data_summaries/ --write"],
    "serve": ["kg build --store build/store && kg serve", "kg serve --port 8000 --timeout 5", "kg serve --cors-origin https://example.org"],
    "conflicts": ["kg conflicts --source ecosystem-graphs=ecosystem-graphs/assets"],
    "bom": ["kg bom Vicuna-13B", "kg bom Vicuna-13B --format spdx --out vicuna.spdx.json", "kg bom model/my-model --source huggingface=hub.jsonl --out my-model.cdx.json"],
    "fetch": ["kg fetch huggingface --author meta-llama --out hub.jsonl", "kg fetch huggingface --update hub.jsonl && kg build --source huggingface=hub.jsonl"],
}


def main(argv: list[str] | None = None) -> int:
    published.clear()  # what this command puts in place (main runs many times in one test process)
    for stream in (sys.stdout, sys.stderr):
        # Names are often Chinese: never crash on a terminal that cannot show them.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    argv = sys.argv[1:] if argv is None else list(argv)
    parser, commands = _parser()
    if not argv:  # a bare `kg`: what it can do, not an error
        parser.print_help()
        return 0
    args = _parse(parser, commands, argv)
    _configure_logging(args.verbosity)
    # A command builds objects that nearly all live until it ends (a Hub build: millions); at the default
    # thresholds the cyclic collector scans them again and again, about 13 % of a 100,000-model build.
    gc.set_threshold(100_000, 50, 1000)
    release_interrupts()  # here, where the handlers below take a Ctrl-C: until now (the parser too) kg's loading handler does
    try:
        return args.run(args)
    except CatalogError as exc:
        _print_problems(exc.problems)
        return 1
    except RequestError as exc:
        _fail(exc.message, exc.hint)
        return 1
    except OutputError as exc:
        _fail(str(exc), "the previous output was left as it was" + (f"; {_on_disk()}" if published else ""))
        return 2
    except KeyboardInterrupt:
        print(f"Interrupted: {_on_disk()}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`kg lineage ... | head -1`): say nothing more.
        # Point stdout at /dev/null so the interpreter's final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 (a bug of ours, or of a library: say so plainly, write nothing)
        if os.environ.get("KG_TRACEBACK"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc}", "nothing was written; run again with KG_TRACEBACK=1 to see where, and report it")
        return 3


def _on_disk() -> str:
    """What an interrupted or failed command leaves: what it had put in place in full, or nothing."""
    if not published:
        return "nothing was written or changed"
    return f"{', '.join(map(str, dict.fromkeys(published)))} had already been written in full; nothing else was changed"


class _Parser(argparse.ArgumentParser):
    """argparse with the project's way of failing: the command's usage, `Error:` and `Hint:` lines, exit 64."""

    def error(self, message: str, hint: str = "") -> NoReturn:  # type: ignore[override]
        self.print_usage(sys.stderr)
        _fail(message, hint or f"see `{self.prog} --help`")
        raise SystemExit(USAGE)


def _parse(parser: _Parser, commands: dict[str, _Parser], argv: list[str]) -> argparse.Namespace:
    """Parse `argv`; a misspelt command or option is named with its closest match, under that command's usage."""
    first = next((word for word in argv if not word.startswith("-")), None)
    if first is not None and first not in commands and not {"-h", "--help", "--version"} & set(argv):
        parser.error(f"no command '{first}'", suggest(first, commands) or f"the commands are {', '.join(commands)}")
    args, extra = parser.parse_known_args(argv)
    if extra:
        sub = commands[args.command]
        options = [o for action in sub._actions for o in action.option_strings]
        unknown = [word for word in extra if word.startswith("-")] or extra
        # A word the command knows was left over only because it came before the command's name (`kg -v build`).
        hints = [f"{word} is an option of kg {args.command}: put it after the command, kg {args.command} {word}"
                 if word.partition("=")[0] in options else suggest(word.partition("=")[0], options) for word in unknown]
        sub.error(f"unrecognized argument(s): {' '.join(extra)}", " ".join(h for h in hints if h))
    return args


def _parser() -> tuple[_Parser, dict[str, _Parser]]:
    parser = _Parser(prog="kg", description="Build and query the llm-lineage knowledge graph.",
                     epilog="Run `kg COMMAND --help` for a command's options and examples. Documentation: docs/ (mkdocs serve).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def command(name: str, run, help: str, catalog: bool = True) -> argparse.ArgumentParser:  # noqa: ANN001
        examples = "examples:\n" + "\n".join(f"  {line}" for line in EXAMPLES[name])
        sub = commands.add_parser(name, help=help, description=help, epilog=examples, formatter_class=argparse.RawDescriptionHelpFormatter)
        if catalog:
            sub.add_argument("--data", type=Path, default=None, help="catalog folder (default: the bundled data/)")
        talk = sub.add_mutually_exclusive_group()
        talk.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=-1, default=0, help="print errors only on stderr")
        talk.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const=1, help="print every stage and detail on stderr")
        sub.set_defaults(run=run)
        return sub

    validate = command("validate", _validate, "Check the catalog and report every problem at once.")
    validate.add_argument("--strict", action="store_true", help="fail on warnings too")
    build = command("build", _build, "Validate the catalog and write the graph to the output folder.")
    build.add_argument("--out", type=Path, default=Path("build"), help="output folder (default: build/)")
    build.add_argument("--store", type=Path, default=None, metavar="DIR", help="also load the graph into an Oxigraph store (RocksDB) in DIR, for `kg serve`")
    build.add_argument("--formats", type=_rdf_files, default=DEFAULT_FILES, metavar="LIST",
                       help="the RDF files to write, comma-separated: some of nt, ttl, nq, jsonld (default: nt,ttl,jsonld; nq adds each source record's claims in a named graph)")
    build.add_argument("--compress", action="store_true", help="write the RDF files gzipped (kg.nt.gz, kg.nq.gz...)")
    _source_options(build)
    lineage = command("lineage", _lineage, "Print what an entity comes from and what comes from it.")
    lineage.add_argument("entity", help="an id (model/alpaca-lora-7b), or a name or alias ('Alpaca-LoRA', '骆驼')")
    lineage.add_argument("--depth", type=int, default=None, help="levels to show each way (default: all)")
    lineage.add_argument("--graph", type=Path, default=None, metavar="BUILD", help="answer from what `kg build` wrote (its folder, or its graph.json), with its imported entities, instead of the catalog")
    lineage.add_argument("--store", type=Path, default=None, metavar="DIR", help="answer from the store `kg build --store DIR` wrote, reading only this entity's lineage")
    terms = command("terms", _terms, "Print what a model or dataset may be used for, inherited along its lineage, with the paths.")
    terms.add_argument("entity", nargs="?", help="an id or a name or alias of a model or dataset")
    terms.add_argument("--format", choices=("text", "json"), default="text", help="text (default): a tree of paths; json: one object")
    terms.add_argument("--conflicts", action="store_true", help="instead, list every conflict in the catalog, one per line")
    terms.add_argument("--graph", type=Path, default=None, metavar="BUILD", help="answer from what `kg build` wrote (its folder, or its graph.json), with its imported entities, instead of the catalog")
    command("stats", _stats, "Count entities per kind and edges per relation.")
    query = command("query", _query, "Run a SPARQL query (a shipped query's name, a file or a query string) and print the rows.")
    query.add_argument("query", help="a shipped query's name (llama-descendants), a file holding a query, or the query text")
    query.add_argument("--format", choices=FORMATS, default="table", help="table (default), csv or SPARQL JSON results")
    query.add_argument("--graph", type=Path, default=None, metavar="BUILD", help="query what `kg build` wrote (its folder, or its kg.nt, kg.ttl or kg.jsonld; any RDF file) instead of the catalog")
    query.add_argument("--store", type=Path, default=None, metavar="DIR", help="query the store `kg build --store DIR` wrote (read-only, with lkg:descendsFrom) instead of the catalog")
    query.add_argument("--timeout", type=_positive(float), default=DEFAULT_TIMEOUT, help=f"seconds before the query is stopped (default: {DEFAULT_TIMEOUT:g})")
    query.add_argument("--max-rows", type=_positive(int), default=DEFAULT_MAX_ROWS, help=f"stop if the answer has more rows (default: {DEFAULT_MAX_ROWS:,})")
    page = command("html", _html, "Write the interactive lineage page, whole or around one entity.")
    page.add_argument("--out", type=Path, default=Path("build/lineage.html"), help="page to write (default: build/lineage.html)")
    page.add_argument("--focus", metavar="ENTITY", help="only this entity's neighbourhood: an id, a name or an alias")
    page.add_argument("--depth", type=int, default=None, help="lineage steps each way from --focus (default: all)")
    page.add_argument("--kind", action="append", metavar="KIND", help=f"keep only this kind; repeatable ({', '.join(FOLDERS)})")
    page.add_argument("--relation", action="append", metavar="REL", help="keep only edges of this relation; repeatable (see kg stats)")
    imports = command("import", _import, "Read another tracker's data and report how it merges with the catalog.")
    imports.add_argument("source", help="huggingface, dpc, ecosystem-graphs or open-llms")
    imports.add_argument("path", type=Path, help="the source's file or folder")
    imports.add_argument("--write", action="store_true", help="write draft entries of new records to <data>/_drafts/ for review")
    imports.add_argument("--order", help="source precedence after the catalog, comma-separated")
    imports.add_argument("--explain", metavar="NAME", help="instead of the report, say how the records NAME names were matched (or why not)")
    imports.add_argument("--with", dest="more", action="append", default=[], metavar="NAME=PATH", help="merge another source alongside; repeatable")
    served = command("serve", _serve, "Serve a store read-only over SPARQL at /query, with the lineage page at / and a query page at /sparql.", catalog=False)
    served.add_argument("--store", type=Path, default=Path("build/store"), metavar="DIR", help="the store `kg build --store DIR` wrote (default: build/store)")
    served.add_argument("--page", type=Path, default=Path("build/lineage.html"), help="the page served at / (default: build/lineage.html)")
    served.add_argument("--bind", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    served.add_argument("--port", type=_positive(int), default=7878, help="port of the endpoint and the page (default: 7878)")
    served.add_argument("--timeout", type=_positive(float), default=DEFAULT_TIMEOUT, help=f"seconds before a query is stopped (default: {DEFAULT_TIMEOUT:g})")
    served.add_argument("--allow-remote", action="store_true", help="allow a --bind address other machines can reach")
    served.add_argument("--workers", type=_positive(int), default=DEFAULT_WORKERS, help=f"queries answered at once, each in a process of its own; half may run long (default: {DEFAULT_WORKERS})")
    served.add_argument("--worker-memory", type=_positive(int), default=DEFAULT_WORKER_MEMORY, metavar="MiB", help=f"address space of each query process; a query that needs more gets 503 (default: {DEFAULT_WORKER_MEMORY})")
    served.add_argument("--client-timeout", type=_positive(float), default=REQUEST_SECONDS, metavar="SECONDS", help=f"seconds a client has to send each request whole, then 408 (default: {REQUEST_SECONDS:g})")
    served.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN", help="let web pages from this origin read the answers (e.g. https://example.org, or * for any); repeatable (default: none)")
    bom = command("bom", _bom, "Write an AI bill of materials of a model or dataset: its whole lineage, evidence and licences, declared and concluded.")
    bom.add_argument("entity", help="an id or a name or alias of a model or dataset")
    bom.add_argument("--format", choices=BOM_FORMATS, default="cyclonedx", help="cyclonedx (default): CycloneDX 1.6 JSON; spdx: SPDX 3.0.1 JSON-LD")
    bom.add_argument("--out", type=Path, default=None, metavar="FILE", help="write the BOM to FILE (default: print it)")
    _source_options(bom)
    _fetch_command(command)
    conflicts = command("conflicts", _conflicts, "List where the sources disagree with the catalog or each other.")
    _source_options(conflicts)
    conflicts.add_argument("--all", action="store_true", help="also disagreements between sources on imported entities")
    return parser, commands.choices


def _version() -> str:
    try:
        return metadata.version("llm-lineage")
    except metadata.PackageNotFoundError:  # run from a checkout without installing it
        return "unknown (not installed)"


def _configure_logging(verbosity: int) -> None:
    """Stage lines on a terminal (or with -v), warnings and errors always, only errors with -q."""
    level = {-1: logging.ERROR, 0: logging.INFO if sys.stderr.isatty() else logging.WARNING, 1: logging.DEBUG}[verbosity]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def _fetch_command(command) -> None:  # noqa: ANN001 (the `command` helper of _parser)
    about = "Fetch records from the Hugging Face Hub into a dump for `kg build --source huggingface=DUMP` (the only command that uses the network)."
    fetch = command("fetch", _fetch, about, catalog=False)
    fetch.add_argument("source", choices=("huggingface",), help="where to fetch from: huggingface")
    fetch.add_argument("--author", help="the models (or datasets) of this user or organization")
    fetch.add_argument("--search", help="those whose id contains this text")
    fetch.add_argument("--base", metavar="MODEL_ID", help="the models the Hub lists as derived from this one (filter=base_model:MODEL_ID)")
    fetch.add_argument("--all", action="store_true", help="the whole Hub (millions of records: hours)")
    fetch.add_argument("--datasets", action="store_true", help="datasets instead of models")
    fetch.add_argument("--no-base-models", dest="lookups", action="store_false", help="skip asking each derived model for its baseModels (one request each); lineage then comes from tags and cards")
    target = fetch.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, metavar="DUMP", help="the JSON Lines file to write; run the same command again to go on after a failure or Ctrl-C")
    target.add_argument("--update", type=Path, metavar="DUMP", help="append what changed since DUMP was fetched (same query, by lastModified)")


def _fetch(args: argparse.Namespace) -> int:
    from kg.fetch import Query, fetch

    asked = any((args.author, args.search, args.base))
    if args.update is not None and (asked or args.all or args.datasets):
        raise RequestError("--update takes its query from the dump", f"kg fetch huggingface --update {args.update}")
    if args.out is not None and asked == args.all:
        raise RequestError("say what to fetch: --author, --search or --base, or --all for the whole Hub", "e.g. kg fetch huggingface --author meta-llama --out hub.jsonl")
    query = None if args.update else Query("datasets" if args.datasets else "models", args.author, args.search, args.base)
    dump = args.update or args.out
    try:
        done = fetch(dump, query, lookups=args.lookups, say=(lambda _: None) if args.verbosity < 0 else None)  # -q: errors only
    except KeyboardInterrupt:
        print(f"Interrupted: {dump} keeps every record written so far; run the same command again to go on", file=sys.stderr)
        return 130
    print(f"wrote {dump}: {done.written:,} new records; read it with kg build --source huggingface={dump}")
    return 0


def _positive(kind: type) -> object:
    """An argparse type: a number of `kind` greater than zero."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a number greater than 0, got '{text}'")
        return value

    parse.__name__ = kind.__name__
    return parse


def _rdf_files(text: str) -> tuple[str, ...]:
    """An argparse type: `nt,ttl` -> ("kg.nt", "kg.ttl"), in the order of kg.stream.FILES."""
    suffixes = {name.removeprefix("kg."): name for name in STREAMED}
    asked = [word.strip().lstrip(".").casefold() for word in text.split(",")]
    wrong = [word for word in asked if word not in suffixes]
    if wrong:
        hints = [f"'{word}' ({suggest(word, suffixes) or 'not a format'})" for word in wrong]
        raise argparse.ArgumentTypeError(f"{', '.join(hints)}: the formats are {', '.join(suffixes)}")
    return tuple(name for suffix, name in suffixes.items() if suffix in asked)


def _source_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--source", action="append", default=[], metavar="NAME=PATH", help="merge another tracker's data; repeatable")
    sub.add_argument("--order", help="source precedence after the catalog, comma-separated (default: huggingface,open-llms,ecosystem-graphs,dpc)")


def _sources(args: argparse.Namespace, specs: list[str] | None = None) -> list[tuple[str, Path]]:
    pairs = []
    for spec in args.source if specs is None else specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise RequestError(f"--source '{spec}' is not NAME=PATH", "e.g. --source dpc=../shared/data/data-provenance-collection/data_summaries")
        pairs.append((name, Path(path)))
    return pairs


def _order(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(n.strip() for n in args.order.split(",")) if args.order else DEFAULT_ORDER


def _import(args: argparse.Namespace) -> int:
    catalog = _load(args)
    merged = merge(catalog, read_sources([(args.source, args.path), *_sources(args, args.more)]), _order(args), explain=args.explain)
    if args.explain is not None:
        sys.stdout.write(format_decisions(merged, args.explain))
        return 0
    sys.stdout.write(format_report(merged))
    if args.write:
        for path, kept in write_drafts(catalog.root, merged):
            print(f"wrote {path}" + (f" beside {kept}, which differs from this import and is kept as it is" if kept else ""))
    return 0


def _conflicts(args: argparse.Namespace) -> int:
    if not args.source:
        raise RequestError("no source to compare with", "add --source NAME=PATH, e.g. --source dpc=../shared/data/data-provenance-collection/data_summaries")
    catalog = _load(args)
    sys.stdout.write(format_conflicts(merge(catalog, read_sources(_sources(args)), _order(args)), curated_only=not args.all))
    return 0


def _load(args: argparse.Namespace) -> Catalog:
    catalog = load_catalog(args.data)
    if catalog.warnings:
        _print_problems(catalog.warnings)
    return catalog


def _built(args: argparse.Namespace, checked: bool = True, columnar: bool = False) -> Build:
    """The pipeline's result for the command's --data (and --source, where it has one), the catalog's warnings printed."""
    sources = _sources(args) if getattr(args, "source", None) else None
    result = build(args.data, sources, _order(args) if getattr(args, "order", None) else None, checked=checked, columnar=columnar)
    if result.catalog.warnings:
        _print_problems(result.catalog.warnings)
    return result


def _bom(args: argparse.Namespace) -> int:
    result = _built(args, checked=False)
    entity = find_node(result.graph, args.entity)
    text = make_bom(result, entity, args.format)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    write_atomically(args.out, text.encode("utf-8"))
    print(f"wrote {args.out}: the {'CycloneDX 1.6' if args.format == 'cyclonedx' else 'SPDX 3.0.1'} BOM of {entity}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    catalog = _built(args).catalog
    print(f"ok: {len(catalog.entities)} entities, {len(catalog.licenses)} licences, {len(catalog.warnings)} warning(s)")
    return 1 if args.strict and catalog.warnings else 0


def _build(args: argparse.Namespace) -> int:
    check_outputs(args.formats, args.store)  # a request that cannot be met is refused before the work
    result = _built(args, columnar=True)
    done = publish(result, args.out, args.formats, args.store, args.compress)
    graph = result.graph
    if result.tables is not None:  # a Hub build: the lineage is in its tables
        tables = result.tables
        print(f"wrote {args.out / TABLE_FILES[0]}, {TABLE_FILES[1]}: {graph.number_of_nodes() + tables.counts['new']} nodes, {graph.number_of_edges() + tables.edges} edges")
    else:
        print(f"wrote {args.out / 'graph.json'}: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges")
    written = [output_name(name, args.compress) for name in sorted(done.formats, key=("kg.ttl", "kg.nt", "kg.nq", "kg.jsonld").index)]
    print(f"wrote {args.out / written[0]}{''.join(', ' + name for name in written[1:])}: {done.triples} triples")
    print(f"wrote {args.out / 'lineage.html'}" + (f": {done.page_nodes} nodes (the catalog and the biggest imported families)"
                                                   if result.merged is not None or result.tables is not None else ""))
    if args.store is not None:
        print(f"wrote {args.store}: an Oxigraph store for `kg serve --store {args.store}`")
    if result.tables is not None:
        print("sources: " + ", ".join(f"{key} {value}" for key, value in result.tables.counts.items()))
        print(f"wrote {args.out / 'sources-report.txt'}: what matched, what is ambiguous, conflicting and unresolved")
    if result.merged is not None:
        print("sources: " + ", ".join(f"{key} {value}" for key, value in result.merged.counts().items()))
        print(f"wrote {args.out / 'sources-report.txt'}: what matched, what is ambiguous, conflicting and unresolved")
    return 0


def _serve(args: argparse.Namespace) -> int:
    check_bind(args.bind, args.allow_remote)
    try:
        serve(args.store, args.page, args.bind, args.port, args.timeout, args.workers, tuple(args.cors_origin), args.client_timeout, args.worker_memory)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130
    return 0


def _query(args: argparse.Namespace) -> int:
    _refuse_graph_and_store(args)
    text, where = read_query(args.query)
    if args.store is not None:
        with open_store(args.store) as store:
            result = run_query(store, text, where, args.timeout, args.max_rows)
    elif args.graph is None:
        result = run_query(to_store(KnowledgeGraph(_built(args)).rdf), text, where, args.timeout, args.max_rows)
    else:
        result = run_query(load_store(_built_file(args.graph, RDF_FILES)), text, where, args.timeout, args.max_rows)
    sys.stdout.write(format_result(result, args.format))
    return 0


def _lineage(args: argparse.Namespace) -> int:
    _refuse_graph_and_store(args)
    if args.store is not None:
        with open_store(args.store) as store:
            entity = find_entity(store, args.entity)
            graph = read_lineage(store, entity)
    elif args.graph is not None and has_tables(args.graph):  # a Hub build: its tables, around the entity
        from kg.tables import read_lineage_graph

        graph, entity = read_lineage_graph(args.graph, _built(args, checked=False).graph, args.entity)
    else:
        graph = load_graph(_built_file(args.graph, ("graph.json",))) if args.graph is not None else _built(args, checked=False).graph
        entity = find_node(graph, args.entity)
    print(format_lineage(graph, entity, args.depth))
    return 0


RDF_FILES = ("kg.nt", "kg.ttl", "kg.jsonld")


def _built_file(path: Path, wanted: tuple[str, ...]) -> Path:
    """`--graph` means what `kg build` wrote, for every command: its output folder, or the file of it that the command reads.

    kg query reads the RDF (kg.nq, kg.nt, kg.ttl, kg.jsonld, or another RDF file), kg lineage and kg terms read
    graph.json; given the folder, each takes its own file, and given the other's file, it says which to give.
    """
    if path.is_dir():
        # RDF: kg.nq first (the records' named graphs too), then the others, then their gzipped copies (--compress).
        names = ("kg.nq", *wanted, *(output_name(n, True) for n in ("kg.nq", *wanted))) if wanted is RDF_FILES else wanted
        found = next((path / name for name in names if (path / name).is_file()), None)
        if found is None:
            raise RequestError(f"{path} holds none of {', '.join(wanted)}", f"build it first: kg build --out {path}")
        return found
    other = "graph.json" if wanted is RDF_FILES else "kg.nt"
    if path.name == other or (wanted is RDF_FILES and path.suffix == ".json"):
        raise RequestError(f"{path} is {'the lineage graph, not RDF' if wanted is RDF_FILES else 'RDF, not the lineage graph'}",
                           f"did you mean --graph {path.with_name(wanted[0])}? (or the folder: --graph {path.parent})")
    return path


def _refuse_graph_and_store(args: argparse.Namespace) -> None:
    if args.graph is not None and args.store is not None:
        raise RequestError("--graph and --store both give the graph to answer from", "give one of them")


def _terms(args: argparse.Namespace) -> int:
    if args.conflicts == (args.entity is not None):
        raise RequestError("give an entity, or --conflicts for the whole catalog", "e.g. kg terms Vicuna-13B")
    entity = None  # found below by name, unless a Hub build's tables find it
    if args.graph is not None and has_tables(args.graph) and args.entity is not None:  # a Hub build: its tables, around the entity
        from kg.tables import read_lineage_graph

        result = _built(args, checked=False)
        catalog = result.catalog
        graph, entity = read_lineage_graph(args.graph, result.graph, args.entity)
        results = {}
    elif args.graph is None:
        result = _built(args, checked=False)
        catalog, graph, results = result.catalog, result.graph, result.terms
    else:  # a saved graph: its terms are computed here, from the catalog's licence table
        catalog = _load(args)
        graph = load_graph(_built_file(args.graph, ("graph.json",)))
        results = compute_all(graph, catalog.licenses) if args.conflicts else {}
    if args.conflicts:
        print(format_terms_conflicts(results) if args.format == "text" else json.dumps(
            {entity: r.to_dict()["conflicts"] for entity, r in results.items() if r.conflicts}, ensure_ascii=False, indent=2))
        return 0
    entity = entity or find_node(graph, args.entity)
    result = results[entity] if entity in results else compute_terms(graph, catalog.licenses, entity)
    print(format_terms(result, graph, catalog.licenses) if args.format == "text" else result.to_json())
    return 0


def _html(args: argparse.Namespace) -> int:
    if args.depth is not None and args.focus is None:
        raise RequestError("--depth needs --focus", "add --focus ENTITY, e.g. --focus model/llama")
    result = _built(args, checked=False)
    graph, title = select_view(result.graph, args.focus, args.depth, args.kind, args.relation)
    page = render_html(graph, title=title, licenses=result.catalog.licenses, focus=args.focus, terms={n: t for n, t in result.terms.items() if n in graph})
    with locked(args.out.parent.parent):  # the lock `kg build` takes when args.out is in its output folder
        sweep_temporaries(args.out.parent)
        write_atomically(args.out, page)
    print(f"wrote {args.out}: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges")
    return 0


def _stats(args: argparse.Namespace) -> int:
    graph = _built(args, checked=False).graph
    kinds, relations = count_by_kind_and_relation(graph)
    width = max(map(len, [*kinds, *relations]))
    print(f"{'kind':<{width}}  count")
    for kind, count in sorted(kinds.items()):
        print(f"{kind:<{width}}  {count:>5}")
    print(f"{'total':<{width}}  {sum(kinds.values()):>5}\n")
    print(f"{'relation':<{width}}  count")
    for relation, count in sorted(relations.items()):
        print(f"{relation:<{width}}  {count:>5}")
    print(f"{'total':<{width}}  {sum(relations.values()):>5}")
    return 0


def _print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)
    errors = sum(p.level == "error" for p in problems)
    warnings = len(problems) - errors
    if errors:
        print(f"Error: {errors} error(s), {warnings} warning(s) in the catalog", file=sys.stderr)


def _fail(message: str, hint: str) -> None:
    print(f"Error: {message}", file=sys.stderr)
    if hint:
        print(f"Hint: {hint}", file=sys.stderr)


if __name__ == "__main__":
    run()
