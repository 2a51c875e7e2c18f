"""Write build outputs so that a reader never sees a half-written file.

Each output is written to a temporary file in its own folder, flushed to disk
and renamed over the target: the target is either the old file or the new
one, never a mix. Temporaries left by a killed build are swept on the next.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import networkx as nx

from kg.errors import OutputError

TEMP_PREFIX = ".tmp-"


def write_atomically(target: Path, data: bytes) -> None:
    """Replace `target` with `data` in one rename; raise OutputError on failure."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write to {target.parent}: {exc.strerror}") from exc
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        reason = "disk full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
        raise OutputError(f"{reason} while writing {target}") from exc
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (created if missing) while a build writes into it.

    Builds running at once then write their outputs one build after the
    other, so the Turtle, the page and the JSON in a folder always come from
    the same build. The lock is on the folder itself: no lock file is left.
    """
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        handle = os.open(folder, os.O_RDONLY)
    except OSError as exc:
        raise OutputError(f"cannot write to {folder}: {exc.strerror}") from exc
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing releases the lock


def sweep_temporaries(folder: Path) -> None:
    """Remove temporaries left by builds that were killed.

    A temporary's name carries its writer's process id; one whose writer is
    still running belongs to a concurrent build and is left alone.
    """
    if not Path(folder).is_dir():
        return
    for stale in Path(folder).glob(f"{TEMP_PREFIX}*"):
        pid = stale.name[len(TEMP_PREFIX) :].partition("-")[0]
        if not (pid.isdigit() and _is_running(int(pid))):
            stale.unlink(missing_ok=True)


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    return True


def graph_to_json(graph: nx.MultiDiGraph) -> bytes:
    """The graph as node-link JSON, sorted so that equal catalogs give equal bytes."""
    data = nx.node_link_data(graph, edges="edges")
    data["nodes"].sort(key=lambda n: n["id"])
    data["edges"].sort(key=lambda e: (e["source"], e["target"], e["key"]))
    return (json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8")
