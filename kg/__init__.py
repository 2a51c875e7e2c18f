"""llm-lineage: a knowledge graph of the open-source LLM ecosystem.

The public API, for notebooks and scripts (see the README and `kg.explore`):

    import kg
    lkg = kg.load()                  # the bundled catalog, checked and built
    lkg.downstream("LLaMA")          # ids of everything made from LLaMA
    lkg.query("chinese-models")      # a shipped SPARQL query as a DataFrame
    lkg.show(focus="Koala-13B")      # the lineage page, inline in Jupyter
"""

from kg.errors import CatalogError, Problem, RequestError
from kg.explore import CatalogWarning, InlinePage, KnowledgeGraph, load
from kg.graph import FAMILY_TREE_FIELDS, LINEAGE_FIELDS
from kg.query import QueryError, shipped_queries

__all__ = [
    "FAMILY_TREE_FIELDS",
    "LINEAGE_FIELDS",
    "CatalogError",
    "CatalogWarning",
    "InlinePage",
    "KnowledgeGraph",
    "Problem",
    "QueryError",
    "RequestError",
    "load",
    "shipped_queries",
]
