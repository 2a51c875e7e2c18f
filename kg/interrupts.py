"""A quiet Ctrl-C for the command line from its first instant (see kg.__main__).

The command's libraries take a second or more to load, before `kg.cli.main`
can catch anything: a Ctrl-C then would print a traceback of some import. So
the handler `kg._stop_while_loading` is set by `kg/__init__.py` itself, before
it imports anything that runs code, when the process is the `kg` command
(`hold_interrupts` sets it again for a caller that imported kg otherwise), and
turns Ctrl-C into a plain message and exit 130 until `main` takes over with
`release_interrupts`. Standard library only.

What comes before kg's first line is the interpreter's own start-up (its
`site` module and the `.pth` files of the environment, an editable install's
among them): a Ctrl-C there still ends with the interpreter's traceback.
"""

from __future__ import annotations

import signal

from kg import _stop_while_loading

__all__ = ["hold_interrupts", "release_interrupts"]


def hold_interrupts() -> None:
    """Until `kg.cli.main` starts, Ctrl-C (or SIGTERM) ends the process with a plain message."""
    signal.signal(signal.SIGINT, _stop_while_loading)
    signal.signal(signal.SIGTERM, _stop_while_loading)


def release_interrupts() -> None:
    """From here Ctrl-C raises KeyboardInterrupt, which main handles (outputs are then cleaned up)."""
    if signal.getsignal(signal.SIGINT) is _stop_while_loading:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
