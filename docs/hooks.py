"""MkDocs hook: the command reference is generated from `kg`'s own parser, so it cannot drift from the code.

A page holding the line `<!-- kg-commands -->` gets, in its place, every command's
`--help` (usage, options and examples) as the installed `kg` prints it.
"""

from __future__ import annotations

import contextlib
import io
import os

MARKER = "<!-- kg-commands -->"


def command_reference() -> str:
    """Markdown: one section per command, its help text verbatim."""
    from kg.cli import _parser

    parser, commands = _parser()
    sections = [f"## `kg`\n\n```text\n{_help(parser)}```\n"]
    for name, sub in commands.items():
        sections.append(f"## `kg {name}`\n\n```text\n{_help(sub)}```\n")
    return "\n".join(sections)


def _help(parser) -> str:  # noqa: ANN001 (an argparse parser)
    out = io.StringIO()
    width = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: the same page on every machine
    try:
        with contextlib.redirect_stdout(out):
            parser.print_help()
    finally:
        if width is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = width
    return out.getvalue()


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001 (MkDocs' hook signature)
    return markdown.replace(MARKER, command_reference()) if MARKER in markdown else markdown
