"""llm-lineage: a knowledge graph of the open-source LLM ecosystem.

The public API, for notebooks and scripts (see the README and `kg.explore`):

    import kg
    lkg = kg.load()                  # the bundled catalog, checked and built
    lkg.downstream("LLaMA")          # ids of everything made from LLaMA
    lkg.query("chinese-models")      # a shipped SPARQL query as a DataFrame
    lkg.show(focus="Koala-13B")      # the lineage page, inline in Jupyter
"""

import os  # noqa: I001 (loaded by the interpreter already, as are sys and _signal: importing them runs no code)
import sys
import _signal

_INTERRUPTED = "Interrupted: nothing was written or changed\n"


def _stop_while_loading(signum: int, frame: object) -> None:
    """Ctrl-C (or SIGTERM) while `kg` loads: a plain message and exit 130 (see kg.interrupts)."""
    os.write(2, _INTERRUPTED.encode())  # no Python-level stream: one may be mid-write
    os._exit(130)


if sys.argv and (sys.argv[0] == "-m" or sys.argv[0].endswith(("/kg", "\\kg.exe"))):
    # `kg` or `python -m kg[.cli]`: quiet under Ctrl-C before any other module of kg or a library loads.
    _signal.signal(_signal.SIGINT, _stop_while_loading)
    _signal.signal(_signal.SIGTERM, _stop_while_loading)

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
