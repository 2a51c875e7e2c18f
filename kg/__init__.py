"""llm-lineage: a knowledge graph of the open-source LLM ecosystem.

The public API, for notebooks and scripts (see the README and `kg.explore`):

    import kg
    lkg = kg.load()                  # the bundled catalog, checked and built
    lkg.downstream("LLaMA")          # ids of everything made from LLaMA
    lkg.query("chinese-models")      # a shipped SPARQL query as a DataFrame
    lkg.show(focus="Koala-13B")      # the lineage page, inline in Jupyter
"""

import sys

if sys.argv and (sys.argv[0] == "-m" or sys.argv[0].endswith(("/kg", "\\kg.exe"))):
    # `kg` or `python -m kg[.cli]`: quiet under Ctrl-C before anything else loads (kg.interrupts).
    from kg.interrupts import hold_interrupts

    hold_interrupts()

from importlib import import_module  # noqa: E402 (after the hook above)
from typing import Any  # noqa: E402

from kg.errors import CatalogError, Problem, RequestError

# The rest is imported when first asked for: `kg` on the command line then loads its libraries
# (a second or more) only after it has set up a quiet Ctrl-C (kg.__main__).
_LAZY = {"CatalogWarning": "kg.explore", "InlinePage": "kg.explore", "KnowledgeGraph": "kg.explore", "load": "kg.explore",
         "FAMILY_TREE_FIELDS": "kg.graph", "LINEAGE_FIELDS": "kg.graph", "QueryError": "kg.query", "shipped_queries": "kg.query"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kg' has no attribute '{name}'")


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
