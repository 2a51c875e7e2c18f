"""`kg` on the command line (`python -m kg` too), quiet under Ctrl-C from its first instant.

Ctrl-C is held to a plain message and exit 130 until `main` takes over
(kg.interrupts); once `main` has returned, a late Ctrl-C (while the
interpreter frees a large graph) is ignored.
"""

from __future__ import annotations

import signal
import sys

from kg.interrupts import hold_interrupts


def run() -> None:
    hold_interrupts()
    try:
        from kg.cli import main
    except ModuleNotFoundError as exc:
        if exc.name != "fcntl":
            raise
        # Windows: kg locks and swaps its output folders with calls of Linux's (fcntl, renameat2).
        print(f"Error: kg needs Linux: it locks its output folders with fcntl, which {sys.platform} lacks\n"
              "Hint: run it on Linux, or in WSL on Windows", file=sys.stderr)
        sys.exit(1)

    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # done: only the interpreter's tidying is left
    sys.exit(code)


if __name__ == "__main__":
    run()
