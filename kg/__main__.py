"""`kg` on the command line (`python -m kg` too), quiet under Ctrl-C from its first instant.

The command's libraries take a second or more to load, before `kg.cli.main`
can catch anything: a Ctrl-C then would print a traceback of some import. So
the command starts here, with only the standard library loaded, and holds
Ctrl-C to a plain message and exit 130 until `main` takes over; once `main`
has returned, a late Ctrl-C (while the interpreter frees a large graph) is
ignored.
"""

from __future__ import annotations

import os
import signal
import sys

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


def run() -> None:
    hold_interrupts()
    from kg.cli import main

    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # done: only the interpreter's tidying is left
    sys.exit(code)


if __name__ == "__main__":
    run()
