"""Write build outputs so that a reader never sees a half-written or mixed set.

`publish_folder` writes every output of one build into a fresh folder beside
the output folder, then swaps the two folders in one atomic rename
(renameat2 with RENAME_EXCHANGE): readers see either the whole old set or the
whole new one, whatever is killed or fails when. Files in the output folder
that the build did not write (a user's notes) are carried into the new folder
as hard links, never deleted. `write_atomically` does the same for a single
file with a temporary and a rename.

Temporaries are named `.<target>.kg-new-<pid>-<token>` (and `kg-old-` for the
set being replaced), beside their target: names no user picks, carrying their
writer's process id, so that only those of dead writers are swept, and
nothing else is ever touched.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import networkx as nx

from kg.errors import OutputError

TEMPORARY = re.compile(r"^\.(?P<target>.+)\.kg-(?P<stage>new|old)-(?P<pid>[0-9]+)-[0-9a-f]{8}$")
RENAME_EXCHANGE = 2  # linux/fs.h


def temporary_name(target: Path, stage: str = "new") -> Path:
    return target.parent / f".{target.name}.kg-{stage}-{os.getpid()}-{secrets.token_hex(4)}"


def publish_folder(out: Path, outputs: Mapping[str, bytes], stream: Callable[[Path], Iterable[str]] | None = None,
                   replaces: Iterable[str] = ()) -> None:
    """Make `out` hold `outputs` (file name -> bytes) and nothing else of ours, in one swap.

    `stream`, when given, writes files too large to hold in memory straight
    into the new folder and returns their names (see kg.stream). Old files
    named in `replaces` that this build does not write are dropped with the
    old set (a kg.jsonld that `--formats nt,ttl` leaves out); every other file
    is carried over.

    Raises OutputError, with `out` exactly as it was, if anything fails
    before the swap.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"cannot write to {out}: it is a file, not a folder")
    for name in outputs:
        if (out / name).is_dir():
            raise OutputError(f"cannot write {out / name}: a folder of that name is in the way")
    staging = temporary_name(out)
    try:
        staging.mkdir()
    except OSError as exc:
        raise OutputError(f"cannot write to {out.parent}: {exc.strerror}") from exc
    try:
        for name, data in outputs.items():
            _write_file(staging / name, data, shown=out / name)
        written = set(outputs) | set(stream(staging) if stream is not None else ())
        if out.is_dir():
            _carry_over(out, staging, skip=written | set(replaces))
        swap_in(staging, out)
    except BaseException:
        discard_staging(staging, out)
        raise


def swap_in(staging: Path, out: Path) -> None:
    """Put the finished folder `staging` at `out` in one atomic step.

    An old `out` is exchanged with it (renameat2) and then removed; a
    failure to remove it leaves it to the next sweep.
    """
    _fsync_folder(staging)
    if out.is_dir():
        _exchange(staging, out)
        shutil.rmtree(staging, ignore_errors=True)  # now the old set
    else:
        os.rename(staging, out)
    _fsync_folder(out.parent)


def discard_staging(staging: Path, out: Path) -> None:
    """Remove `staging` after a failure, unless it already became `out`."""
    if staging.exists() and (not out.exists() or not os.path.samefile(staging, out)):
        shutil.rmtree(staging, ignore_errors=True)


def write_atomically(target: Path, data: bytes) -> None:
    """Replace `target` with `data` in one rename; raise OutputError on failure."""
    target = Path(target)
    if target.is_dir():
        raise OutputError(f"cannot write {target}: a folder of that name is in the way")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write to {target.parent}: {exc.strerror}") from exc
    temp = temporary_name(target)
    try:
        _write_file(temp, data, shown=target)
        os.replace(temp, target)
    except OSError as exc:
        raise OutputError(f"{_reason(exc)} while writing {target}") from exc
    finally:
        temp.unlink(missing_ok=True)


def _write_file(path: Path, data: bytes, shown: Path) -> None:
    try:
        with open(path, "xb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(path, 0o644)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise OutputError(f"{_reason(exc)} while writing {shown}") from exc


def _reason(exc: OSError) -> str:
    return "disk full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)


def _carry_over(old: Path, new: Path, skip: set[str]) -> None:
    """Hard-link into `new` every entry of `old` that this build does not write."""
    for entry in sorted(old.iterdir()):
        if entry.name in skip:
            continue
        try:
            if entry.is_symlink():
                os.symlink(os.readlink(entry), new / entry.name)
            elif entry.is_dir():
                shutil.copytree(entry, new / entry.name, symlinks=True, copy_function=os.link)
            else:
                os.link(entry, new / entry.name)
        except OSError as exc:
            raise OutputError(f"cannot keep {entry} in the new build folder: {exc.strerror or exc}") from exc


def _exchange(a: Path, b: Path) -> None:
    """Swap two folders in one atomic step (Linux renameat2); raise OutputError where it is not possible."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    at_fdcwd = -100
    if renameat2 is None or renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno() if renameat2 is not None else errno.ENOSYS
        raise OutputError(f"cannot replace {b} in one step: {os.strerror(code)} (the file system must support renameat2)")


def _fsync_folder(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (created if missing) while a build publishes beside it.

    Lock the folder that holds the output folder: builds running at once
    then publish one after the other. The lock is on the folder itself: no
    lock file is left.
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
    """Remove the temporaries that builds killed before finishing left in `folder`.

    Only names of the form `TEMPORARY` are looked at, and only those whose
    writer is no longer running are removed: a user's `.tmp-draft.txt` and a
    concurrent build's temporaries are left alone.
    """
    if not Path(folder).is_dir():
        return
    for entry in Path(folder).iterdir():
        match = TEMPORARY.match(entry.name)
        if not match or _is_running(int(match["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    return True


READABLE_NODES = 20_000  # above this graph.json is written without indentation (json's fast encoder; 10x quicker)


def graph_to_json(graph: nx.MultiDiGraph) -> bytes:
    """The graph as node-link JSON, sorted so that equal catalogs give equal bytes."""
    if graph.number_of_nodes() > READABLE_NODES:
        return _compact_node_link(graph)
    data = nx.node_link_data(graph, edges="edges")
    data["nodes"].sort(key=lambda n: n["id"])
    data["edges"].sort(key=lambda e: (e["source"], e["target"], e["key"]))
    return (json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8")


def _compact_node_link(graph: nx.MultiDiGraph) -> bytes:
    """What `json.dumps(node_link_data(graph), sort_keys=True)` gives, encoded one node or edge at a time.

    node_link_data copies every node and edge into a dict first, and the text
    of the whole is one str: with a single Chinese name in it, Python stores
    every character of it in 2 or 4 bytes. At 100,000 models that held 500 MB
    more than the graph for a moment; now it is the pieces and their join.
    """
    encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
    pieces = [b'{"directed": true, "edges": [']
    for u, v, key, data in sorted(graph.edges(keys=True, data=True), key=lambda e: e[:3]):
        pieces += (encode({**data, "source": u, "target": v, "key": key}).encode("utf-8"), b", ")
    pieces[-1:] = [pieces[-1].removesuffix(b", "), f'], "graph": {encode(graph.graph)}, "multigraph": true, "nodes": ['.encode("utf-8")]
    for node, data in sorted(graph.nodes(data=True), key=lambda n: n[0]):
        pieces += (encode({**data, "id": node}).encode("utf-8"), b", ")
    pieces[-1:] = [pieces[-1].removesuffix(b", "), b"]}\n"]
    return b"".join(pieces)
