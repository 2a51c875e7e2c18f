"""A quiet Ctrl-C for the command line from its first instant (see kg.__main__).

The command's libraries take a second or more to load, before `kg.cli.main`
can catch anything: a Ctrl-C then would print a traceback of some import. So
`hold_interrupts` runs before they load (from `kg/__init__.py` when the process
is the `kg` command) and turns Ctrl-C into a plain message and exit 130 until
`main` takes over with `release_interrupts`. Standard library only.
"""

from __future__ import annotations

import os
import signal

INTERRUPTED = "Interrupted: nothing was written or changed\n"


def _stop_while_loading(signum: int, frame: object) -> None:
    os.write(2, INTERRUPTED.encode())  # no Python-level stream: one may be mid-write
    os._exit(130)


def hold_interrupts() -> None:
    """Until `kg.cli.main` starts, Ctrl-C (or SIGTERM) ends the process with a plain message."""
    signal.signal(signal.SIGINT, _stop_while_loading)
    signal.signal(signal.SIGTERM, _stop_while_loading)


def release_interrupts() -> None:
    """From here Ctrl-C raises KeyboardInterrupt, which main handles (outputs are then cleaned up)."""
    if signal.getsignal(signal.SIGINT) is _stop_while_loading:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
