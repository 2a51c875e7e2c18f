"""The export in a persistent Oxigraph store (RocksDB on disk), for `kg serve`.

`write_store` bulk-loads the N-Triples into a new store in a temporary
folder beside the target and then swaps the two folders in one atomic
rename, like `kg.publish.publish_folder`: a reader sees the old store or the
new one, never a half-loaded one, and a failure leaves the old store as it
was.

A store is in use while `kg serve` runs on it (it holds a shared lock on the
folder, see `hold_store`) or while another process has it open for writing
(RocksDB's own lock): it is then never replaced. A folder that is not an
Oxigraph store is never replaced either.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyoxigraph as ox

from kg.errors import OutputError, RequestError
from kg.publish import discard_staging, swap_in, temporary_name


def check_store_folder(folder: Path) -> None:
    """Raise OutputError unless `folder` is absent, empty, or an Oxigraph store that nothing has open."""
    folder = Path(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise OutputError(f"cannot write the store to {folder}: it is a file, not a folder")
    if not any(folder.iterdir()):
        return
    if not is_store(folder):
        raise OutputError(f"cannot write the store to {folder}: the folder is not empty and is not an Oxigraph store; give a new folder to --store")
    with _exclusive(folder):
        try:
            ox.Store(str(folder))  # opened and closed at once: only to see whether another process holds RocksDB's lock
        except OSError as exc:
            if "lock" in str(exc).lower():
                raise OutputError(f"cannot replace the store {folder}: another process has it open for writing") from None
            raise OutputError(f"cannot replace the store {folder}: {exc}") from None


def is_store(folder: Path) -> bool:
    """Whether `folder` holds an Oxigraph store (opening it read-only writes nothing)."""
    if not (Path(folder) / "CURRENT").is_file():
        return False
    try:
        ox.Store.read_only(str(folder))
    except OSError:
        return False
    return True


def write_store(folder: Path, ntriples: Path | bytes) -> None:
    """Make `folder` an Oxigraph store holding exactly the triples of `ntriples` (a file or its bytes).

    Raises OutputError, with `folder` as it was, if the folder is in use or
    is not a store, or if loading fails.
    """
    folder = Path(folder)
    check_store_folder(folder)
    staging = temporary_name(folder)
    try:
        _bulk_load(staging, ntriples, folder)
        with _exclusive(folder):
            swap_in(staging, folder)
    except BaseException:
        discard_staging(staging, folder)
        raise


def _bulk_load(staging: Path, ntriples: Path | bytes, shown: Path) -> None:
    """Load `ntriples` into a new store at `staging`, and close it."""
    source = {"input": ntriples} if isinstance(ntriples, bytes) else {"path": str(ntriples)}
    try:
        store = ox.Store(str(staging))
        store.bulk_load(format=ox.RdfFormat.N_TRIPLES, **source)
        store.flush()
        del store  # closes RocksDB before the folder moves
    except OSError as exc:
        reason = "disk full" if exc.errno == errno.ENOSPC or "No space left" in str(exc) else str(exc)
        raise OutputError(f"{reason} while loading the store {shown}") from exc
    except SyntaxError as exc:
        raise OutputError(f"internal error: the N-Triples for the store {shown} do not parse ({exc})") from exc


@contextmanager
def _exclusive(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (when it exists), or raise OutputError if `kg serve` holds it."""
    if not folder.is_dir():
        yield
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError(f"cannot replace the store {folder}: `kg serve` is running on it; stop it first") from None
        yield
    finally:
        os.close(handle)


@contextmanager
def hold_store(folder: Path) -> Iterator[None]:
    """Hold a shared lock on the store `folder` while serving it, so that no build replaces it meanwhile.

    Raises RequestError if `folder` is not a store or a build is replacing it.
    """
    folder = Path(folder)
    if not folder.is_dir() or not is_store(folder):
        what = "does not exist" if not folder.exists() else "is not an Oxigraph store"
        raise RequestError(f"{folder} {what}", f"build one with `kg build --store {folder}`")
    handle = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RequestError(f"{folder} is being replaced by a build", "wait for `kg build --store` to finish, then start again") from None
        yield
    finally:
        os.close(handle)
