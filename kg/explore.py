"""The Python API: the whole knowledge graph in one call, for notebooks and scripts.

    import kg

    lkg = kg.load()                         # the bundled catalog; kg.load("my/data") for another
    lkg.graph                               # networkx.MultiDiGraph: nodes are ids, edges derived -> source
    lkg.rdf                                 # rdflib.Graph: the triples of build/kg.ttl
    lkg.downstream("LLaMA")                 # ids of everything made from LLaMA, any size
    lkg.query("llama-descendants")          # a shipped query, a .rq file or SPARQL text -> DataFrame
    lkg.entity_table()                      # one row per entity -> DataFrame
    lkg.terms("Vicuna-13B")                 # what it may be used for, inherited along its lineage
    lkg.show(focus="Vicuna-13B", depth=1)   # the lineage page, inline in Jupyter

`load` checks the catalog exactly as `kg validate` does, so what it returns
is what `kg build` would publish. The objects it gives are the real networkx
and rdflib graphs, not copies behind an interface of ours.

pandas, for the methods that return DataFrames, comes with the `notebooks`
extra (`pip install -e '.[notebooks]'`, with matplotlib and JupyterLab);
the rest of the API needs none of it.
"""

from __future__ import annotations

import html
import importlib
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import networkx as nx
import pyoxigraph as ox
from rdflib import Graph
from rdflib.namespace import XSD

from kg.catalog import Catalog
from kg.graph import FAMILY_TREE_FIELDS, RELATION_LABELS, downstream, find_node, format_lineage, upstream
from kg.html import render_html, select_view
from kg.query import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT, prefixed_name, read_query, run_query, to_store
from kg.bom import make_bom
from kg.build import Build, build
from kg.merge import Merged, claims_to_rdf
from kg.terms import EffectiveTerms, compute_terms, format_terms
from kg.vocab import ID, LICENSE, SPDX

if TYPE_CHECKING:  # imported when called: it comes with the `notebooks` extra
    import pandas

INTEGER_TYPES = {
    str(XSD[name])
    for name in ("integer", "int", "long", "short", "byte", "nonNegativeInteger", "positiveInteger",
                 "nonPositiveInteger", "negativeInteger", "unsignedInt", "unsignedLong", "unsignedShort", "unsignedByte")
}  # fmt: skip
DECIMAL_TYPES = {str(XSD.decimal), str(XSD.double), str(XSD.float)}
ENTITY_COLUMNS = (
    "id", "kind", "name", "name_zh", "released", "parameters", "records", "languages", "license",
    "commercial_use", "effective_commercial_use", "open_weights", "foundation", "family", "developers", "country", "source",
)  # fmt: skip
EDGE_COLUMNS = ("entity", "relation", "target", "field", "label", "evidence", "note")


class CatalogWarning(UserWarning):
    """Something in the catalog that should be looked at but does not stop the load."""


def load(data: str | Path | None = None, sources: dict | list | None = None, order: list[str] | None = None) -> KnowledgeGraph:
    """Load, check and build the knowledge graph of a catalog folder: the pipeline
    `kg build` runs (`kg.build.build`), so what it returns is what `kg build` publishes.

    `data` is a folder laid out like `data/` (one folder per kind, one YAML
    file per entity); None means the catalog bundled with this checkout.
    Raises CatalogError listing every problem, with file and line, when the
    catalog has errors (its `str()` is the whole report); warnings are
    issued as CatalogWarning and kept on `.catalog.warnings`.

    `sources` maps a source name (huggingface, dpc, ecosystem-graphs,
    open-llms) to a file or folder, or lists (name, path) pairs: their
    records are merged in (`kg.merge`), the claims kept beside the curated
    values, `order` the sources' precedence after the catalog's own values;
    the merge is on `.merged`. None takes the sources the catalog's
    sources.yaml lists, as `kg build` does.
    """
    built = build(data, sources, order)
    for problem in built.catalog.warnings:
        warnings.warn(str(problem), CatalogWarning, stacklevel=2)
    return KnowledgeGraph(built)


@dataclass(frozen=True, eq=False, repr=False)
class KnowledgeGraph:
    """One checked catalog, with its sources merged, as a networkx graph and as RDF.

    `graph` has one node per entity (the id, such as `model/vicuna-13b`,
    with the entity's fields as attributes) and one edge per reference,
    pointing from the derived entity to its source, keyed by relation.
    `rdf` holds the same facts under the llm-lineage ontology: the triples
    of build/kg.nt. Entities may be named by id, name, Chinese name or
    alias wherever a method takes one.
    """

    built: Build  # what the pipeline made (kg.build): `kg build` publishes the same

    @property
    def catalog(self) -> Catalog:
        return self.built.catalog

    @property
    def graph(self) -> nx.MultiDiGraph:
        return self.built.graph

    @property
    def merged(self) -> Merged | None:
        """The kg.merge.Merged of load(sources=...), else None."""
        return self.built.merged

    @cached_property
    def rdf(self) -> Graph:
        """The export as one rdflib Graph; with sources, made (once) when first asked for: a
        Hub-sized merge takes rdflib minutes that the other methods do not need."""
        if self.merged is None:
            return self.built.rdf
        rdf = Graph(bind_namespaces="none")
        for prefix, namespace in self.built.rdf.namespaces():
            rdf.bind(prefix, namespace)
        rdf += self.built.rdf
        claims_to_rdf(rdf, self.built.imported_blocks())
        return rdf

    def __repr__(self) -> str:
        return f"<KnowledgeGraph of {self.catalog.root}: {self.graph.number_of_nodes()} entities, {self.graph.number_of_edges()} edges, {len(self.rdf)} triples>"

    def find(self, entity: str) -> str:
        """The id of the entity named `entity` (an id, a name, a Chinese name, a slug or an alias).

        Raises RequestError, with a did-you-mean hint, when nothing or several things match.
        """
        return find_node(self.graph, entity)

    def upstream(self, entity: str, fields: Iterable[str] = FAMILY_TREE_FIELDS) -> list[str]:
        """The ids of everything `entity` comes from, sorted.

        By default this follows derivation, training data, the models that
        generated that data, and series membership (LLaMA-13B is a member of
        LLaMA). Pass `fields=kg.LINEAGE_FIELDS` to leave membership out.
        """
        return sorted(upstream(self.graph, self.find(entity), fields))

    def downstream(self, entity: str, fields: Iterable[str] = FAMILY_TREE_FIELDS) -> list[str]:
        """The ids of everything that comes from `entity`, sorted (same edges as `upstream`).

        Through membership, the LLaMA series leads to its sizes and to every
        model made from any of them.
        """
        return sorted(downstream(self.graph, self.find(entity), fields))

    def format_lineage(self, entity: str, depth: int | None = None) -> str:
        """The text family tree that `kg lineage` prints: upstream, then downstream, `depth` levels each way."""
        return format_lineage(self.graph, self.find(entity), depth)

    def terms(self, entity: str) -> EffectiveTerms:
        """What a model or dataset may be used for, from its own licence and its whole lineage.

        `.commercial_use` is True, False or None (not known); `.verdict` says
        "allowed", "allowed, with conditions", "not allowed" or "not known";
        `.conditions` lists each condition of commercial use (a user threshold,
        registration, a notice, a name prefix...) in words (`.says`) with the
        paths that bring it; `.terms` lists each term with every path that
        brings it (`.path`, ids from the entity up; `.sources`, one evidence URL
        per step); `.conflicts` and `.unknown` (ancestors whose terms are not
        recorded). `.to_dict()` is
        the JSON of `kg terms --format json`; `print(lkg.format_terms(...))`
        the text. Information about licences, not legal advice.
        """
        found = self.find(entity)
        # Computed by the build for every model and dataset; anything else gets compute_terms' own refusal.
        return self.built.terms[found] if found in self.built.terms else compute_terms(self.graph, self.catalog.licenses, found)

    def format_terms(self, entity: str) -> str:
        """The text that `kg terms` prints: the verdict, then each term as a tree of its paths."""
        return format_terms(self.terms(entity), self.graph, self.catalog.licenses)

    def bom(self, entity: str, format: str = "cyclonedx") -> str:
        """The AI bill of materials of a model or dataset as JSON text, as `kg bom` writes it:
        `format` "cyclonedx" (CycloneDX 1.6) or "spdx" (SPDX 3.0.1 JSON-LD), with every
        ancestor, its relation and evidence, and the licences declared and concluded."""
        return make_bom(self.built, entity, format)

    def terms_table(self) -> pandas.DataFrame:
        """One row per path that brings a term to a model or dataset: entity, term,
        kind (own, weights, data, output), licence, the path as ids joined by ' < '
        (from the entity up), its length, the evidence of its last step, and
        whether the term is a condition of commercial use."""
        pandas = _import("pandas")
        rows = [
            (entity, t.term, t.kind, t.licence, " < ".join(t.path), len(t.path) - 1, t.sources[-1],
             any(t in c.paths for c in result.conditions))
            for entity, result in self._effective_terms.items()
            for t in result.terms
        ]
        return pandas.DataFrame(rows, columns=["entity", "term", "kind", "licence", "path", "steps", "evidence", "condition"]).convert_dtypes()

    @property
    def _effective_terms(self) -> dict[str, EffectiveTerms]:
        return self.built.terms

    def entity_table(self) -> pandas.DataFrame:
        """One row per entity, in id order, with the columns of ENTITY_COLUMNS.

        `released` keeps the catalog's precision (`2023`, `2023-03` or
        `2023-03-30`); `languages` and `developers` are lists of BCP 47 tags
        and ids; `family` is the series an entity belongs to; `commercial_use`
        comes from the licence table, `effective_commercial_use` from the
        terms along the lineage (see `terms`); `source` is the first source URL. A
        value the catalog does not know is missing (<NA>), never a placeholder.
        """
        pandas = _import("pandas")
        rows = []
        for node, data in self.graph.nodes(data=True):
            out = self.graph.out_edges(node, data="field")
            developers = sorted(target for _, target, field in out if field == "developers")
            family = [target for _, target, field in out if field == "family"]
            license = self.catalog.licenses.get(data.get("license"))
            rows.append(
                {
                    **{column: data.get(column) for column in ENTITY_COLUMNS},
                    "commercial_use": license.commercial_use if license else None,
                    "effective_commercial_use": self._effective_terms[node].commercial_use if node in self._effective_terms else None,
                    "family": family[0] if family else None,
                    "developers": developers or None,
                    "source": data["sources"][0]["url"],
                }
            )
        return pandas.DataFrame(rows, columns=list(ENTITY_COLUMNS)).convert_dtypes()

    def edge_table(self) -> pandas.DataFrame:
        """One row per edge: `entity` (relation) `target`, e.g. model/vicuna-13b finetune model/llama-13b.

        `field` is the catalog field the edge comes from, `label` reads the
        relation from the entity's side ("fine-tuned from"), `evidence` is the
        URL backing the edge, and `note` the curator's note where there is one.
        """
        pandas = _import("pandas")
        rows = [
            (u, key, v, data["field"], RELATION_LABELS[key], data["evidence"], data.get("note"))
            for u, v, key, data in sorted(self.graph.edges(keys=True, data=True), key=lambda edge: edge[:3])
        ]
        return pandas.DataFrame(rows, columns=list(EDGE_COLUMNS)).convert_dtypes()

    def query(self, sparql: str, timeout: float = DEFAULT_TIMEOUT, max_rows: int = DEFAULT_MAX_ROWS) -> pandas.DataFrame:
        """Run SPARQL over the graph and return the rows as a DataFrame, one column per variable.

        `sparql` is the name of a shipped query (`01-llama-descendants` or
        `llama-descendants`, see `kg.shipped_queries()`), a path to an .rq
        file, or the query text; the export's prefixes (model:, schema:,
        prov:, lkg: ...) need no declaration. Entity IRIs become ids
        (`model/vicuna-13b`), licence IRIs licence ids (`Apache-2.0`), other
        IRIs prefixed names where a prefix fits; numbers and booleans become
        numbers and booleans, other literals strings. An ASK query gives one
        column `answer`; a CONSTRUCT or DESCRIBE gives subject, predicate, object.
        Raises QueryError (a RequestError) naming the line and column of a
        syntax error, a refused SERVICE, a query still running after
        `timeout` seconds or an answer of more than `max_rows` rows. The first query loads `.rdf` into an Oxigraph store
        that later queries reuse, so changes made to `.rdf` afterwards are
        not seen by `query` (load again instead).
        """
        pandas = _import("pandas")
        text, where = read_query(sparql)
        result = run_query(self._store, text, where, timeout=timeout, max_rows=max_rows)
        if result.boolean is not None:
            return pandas.DataFrame({"answer": [result.boolean]})
        if result.triples is not None:
            rows = [[_value(t.subject), _value(t.predicate), _value(t.object)] for t in result.triples]
            return pandas.DataFrame(rows, columns=["subject", "predicate", "object"]).convert_dtypes()
        rows = [[_value(term) for term in row] for row in result.rows]
        return pandas.DataFrame(rows, columns=result.variables).convert_dtypes()

    @cached_property
    def _store(self) -> ox.Store:
        return to_store(self.rdf)

    def render_html(
        self,
        focus: str | None = None,
        depth: int | None = None,
        kinds: Iterable[str] | None = None,
        relations: Iterable[str] | None = None,
    ) -> bytes:
        """The offline lineage page as UTF-8 bytes, the same page `kg build` and `kg html` write.

        With no arguments it is byte for byte `build/lineage.html`. `focus`
        (an entity) and `depth` (steps each way) draw one neighbourhood;
        `kinds` and `relations` keep only those kinds of entity and edge.
        """
        graph, title = select_view(self.graph, focus, depth, kinds, relations)
        return render_html(graph, title=title, licenses=self.catalog.licenses, focus=focus, terms=self._effective_terms)

    def show(
        self,
        focus: str | None = None,
        depth: int | None = None,
        kinds: Iterable[str] | None = None,
        relations: Iterable[str] | None = None,
        height: int = 640,
    ) -> InlinePage:
        """The lineage page, shown inline when it is the value of a notebook cell.

        Takes the arguments of `render_html`, plus the frame's `height` in
        pixels. Nothing is written to disk and nothing is fetched: the page
        goes into an iframe's `srcdoc` and works offline, like the file.
        """
        graph, title = select_view(self.graph, focus, depth, kinds, relations)
        return InlinePage(render_html(graph, title=title, licenses=self.catalog.licenses, focus=focus, terms=self._effective_terms), title, height)


@dataclass(frozen=True)
class InlinePage:
    """A lineage page framed for a notebook; Jupyter displays it through `_repr_html_`.

    The iframe is sandboxed: the page's script runs in an origin of its own
    and cannot reach the notebook or its kernel; links open in a new tab.
    """

    page: bytes  # the page, UTF-8, as `render_html` gives it
    title: str
    height: int = 640

    def __repr__(self) -> str:
        return f"<InlinePage {self.title!r}: {len(self.page):,} bytes, shown as a page in Jupyter>"

    def _repr_html_(self) -> str:
        return (
            f'<iframe title="{html.escape(self.title)}" srcdoc="{html.escape(self.page.decode("utf-8"))}"'
            ' sandbox="allow-scripts allow-popups allow-popups-to-escape-sandbox"'
            f' style="width: 100%; height: {int(self.height)}px; border: 1px solid #ccd3dc; border-radius: 4px"></iframe>'
        )


def _value(term: ox.NamedNode | ox.Literal | ox.BlankNode | None) -> object:
    """A SPARQL result cell as the value a DataFrame should hold."""
    if term is None:
        return None
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    if isinstance(term, ox.NamedNode):
        for namespace in (LICENSE, SPDX, ID):
            if term.value.startswith(namespace):
                return term.value[len(namespace) :]
        return prefixed_name(term.value)
    datatype = term.datatype.value
    if datatype in INTEGER_TYPES:
        return int(term.value)
    if datatype in DECIMAL_TYPES:
        return float(term.value)
    if datatype == str(XSD.boolean):
        return term.value in ("true", "1")
    return term.value


def _import(module: str) -> ModuleType:
    """Import a module of the `notebooks` extra, saying how to install it when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{module} is needed here: install the notebooks extra, pip install -e '.[notebooks]'") from exc
