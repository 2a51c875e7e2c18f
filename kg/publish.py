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

Outputs in two folders (the exports and the store of `kg build --store`) are
published by `swap_together`: both are finished in full first, then swapped
one after the other with Ctrl-C held back, and a journal beside each target
names the new folders. A build killed between the two swaps leaves its
journal; the next sweep (every build starts with one) finishes the swaps, so
what is on disk is all old or all new again. `published` lists what this
process has put in place, so an interruption's message can say what is on disk.
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
import signal
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import networkx as nx

from kg.errors import OutputError

TEMPORARY = re.compile(r"^\.(?P<target>.+)\.kg-(?P<stage>new|old)-(?P<pid>[0-9]+)-[0-9a-f]{8}$")
JOURNAL = re.compile(r"^\.kg-journal-(?P<pid>[0-9]+)-[0-9a-f]{8}\.json$")
RENAME_EXCHANGE = 2  # linux/fs.h
# The signals held back while several folders are swapped: a Ctrl-C arrives after the last swap.
HELD = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
published: list[Path] = []  # what this process has put in place, for the messages of an interruption


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
    staging = stage_folder(out, outputs, stream, replaces)
    try:
        swap_together([(staging, Path(out))])
    except BaseException:
        discard_staging(staging, out)
        raise


def stage_folder(out: Path, outputs: Mapping[str, bytes], stream: Callable[[Path], Iterable[str]] | None = None,
                 replaces: Iterable[str] = ()) -> Path:
    """The new folder `publish_folder` would swap in for `out`, finished but not yet in place
    (see `swap_together`); nothing is left behind if it fails."""
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
    except BaseException:
        discard_staging(staging, out)
        raise
    return staging


def swap_together(pairs: list[tuple[Path, Path]]) -> None:
    """Put each finished folder (staging, target) at its target, so that what is on disk is all
    old or, once the last swap is done, all new, whatever stops the process when.

    Signals that stop a command are held back during the swaps; with several pairs a journal
    beside each target lets the next `sweep_temporaries` finish what a kill interrupted. If a
    swap fails, those done are swapped back and OutputError is raised.
    """
    for staging, _ in pairs:
        _fsync_folder(staging)
    journals = _write_journals(pairs) if len(pairs) > 1 else []
    done: list[tuple[Path, Path]] = []
    with _signals_held():
        try:
            for staging, target in pairs:
                _swap(staging, target)
                done.append((staging, target))
        except BaseException:
            for staging, target in reversed(done):
                _unswap(staging, target)
            done.clear()  # all old again
            raise
        finally:
            for journal in journals if len(done) in (0, len(pairs)) else ():
                journal.unlink(missing_ok=True)
            if len(done) == len(pairs):
                published.extend(target for _, target in pairs)
    for staging, target in pairs:
        shutil.rmtree(staging, ignore_errors=True)  # now the old set, or nothing; else the next sweep's
        _fsync_folder(target.parent)


def _swap(staging: Path, target: Path) -> None:
    if target.is_dir() and not target.is_symlink():
        _exchange(staging, target)
    else:
        try:
            os.rename(staging, target)
        except OSError as exc:
            raise OutputError(f"cannot put {target} in place: {_reason(exc)}") from exc


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold back HELD signals until the block ends, then act on them as they would have.

    Python-level handlers, not a signal mask: a mask is per thread, and RocksDB's threads
    would take the signal and have Python raise KeyboardInterrupt mid-swap anyway.
    """
    arrived: list[int] = []
    try:
        previous = {number: signal.signal(number, lambda n, _: arrived.append(n)) for number in HELD}
    except ValueError:  # not the main thread: signals go to the main thread's handlers anyway
        yield
        return
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        for number in dict.fromkeys(arrived):
            signal.raise_signal(number)  # now, as it would have been: KeyboardInterrupt for Ctrl-C


def _unswap(staging: Path, target: Path) -> None:
    if staging.exists():
        _exchange(staging, target)
    else:
        os.rename(target, staging)  # there was no old set: the new one goes back to its temporary name


def _write_journals(pairs: list[tuple[Path, Path]]) -> list[Path]:
    """The journal of a swap of several folders, written (synced) beside each target."""
    token = f".kg-journal-{os.getpid()}-{secrets.token_hex(4)}.json"
    journals = sorted({target.parent.resolve() / token for _, target in pairs})
    text = json.dumps({"pairs": [[str(staging.resolve()), str(target.resolve()), os.stat(staging).st_ino] for staging, target in pairs],
                       "journals": [str(j) for j in journals]})
    for journal in journals:
        _write_file(journal, text.encode("utf-8"), shown=journal)
        _fsync_folder(journal.parent)
    return journals


def finish_interrupted(folder: Path) -> list[Path]:
    """Finish the swaps of every journal in `folder` whose writer is dead; return the targets
    now in place. A new folder not yet swapped in (its inode, in the journal) is swapped in now."""
    finished = []
    for entry in sorted(Path(folder).iterdir()) if Path(folder).is_dir() else ():
        match = JOURNAL.match(entry.name)
        if not match or _is_running(int(match["pid"])):
            continue
        try:
            record = json.loads(entry.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            entry.unlink(missing_ok=True)  # torn while it was written: no swap had begun
            continue
        for staging, target, inode in record["pairs"]:
            staging, target = Path(staging), Path(target)
            if _inode(target) != inode and _inode(staging) == inode:
                _swap(staging, target)
            finished.append(target)
        for journal in record["journals"]:
            Path(journal).unlink(missing_ok=True)
    return finished


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def swap_in(staging: Path, out: Path) -> None:
    """Put the finished folder `staging` at `out` in one atomic step.

    An old `out` is exchanged with it (renameat2) and then removed; a
    failure to remove it leaves it to the next sweep.
    """
    swap_together([(staging, out)])


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
    concurrent build's temporaries are left alone. A swap of several folders
    that a kill interrupted is finished first (`finish_interrupted`).
    """
    if not Path(folder).is_dir():
        return
    finish_interrupted(folder)
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
